#include "textflag.h"

// func prefetch(base *byte, offsets []int64)
TEXT ·prefetch(SB), NOSPLIT, $0-32
	MOVQ base+0(FP), AX
	MOVQ offsets_base+8(FP), BX
	MOVQ offsets_len+16(FP), CX
	TESTQ CX, CX
	JEQ done
loop:
	MOVQ (BX), DX
	PREFETCHT0 (AX)(DX*1)
	ADDQ $8, BX
	DECQ CX
	JNE loop
done:
	RET
