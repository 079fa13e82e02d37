package executor

import (
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// The first failed run of an interval keeps its stack (up to
// spanStackLen); the others are cut at spanErrorLen.
func TestSpanErrorsAreBounded(t *testing.T) {
	var b spanBuffer
	stack := "boom\n\n" + strings.Repeat("goroutine 1 [running]:\n", 1000)
	fail := &pb.ErrorInfo{Message: stack}
	for i := range 3 {
		b.add(&pb.RunTask{Function: "f"}, time.Now(), time.Millisecond, fail, i > 0)
	}
	b.add(&pb.RunTask{Function: "f"}, time.Now(), time.Millisecond, nil, true)
	spans, _, offHead := b.take()
	if offHead != [2]int64{1, 2} {
		t.Errorf("runs off the head: %d finished, %d failed; want 1 and 2", offHead[0], offHead[1])
	}
	want := []int{spanStackLen, spanErrorLen, spanErrorLen, 0}
	for i, sp := range spans {
		if got := len(strings.TrimSuffix(sp.Error, "…")); got != want[i] || sp.Failed != (want[i] > 0) {
			t.Errorf("span %d: error of %d bytes (failed %v), want %d", i, got, sp.Failed, want[i])
		}
	}
	b.add(&pb.RunTask{Function: "f"}, time.Now(), time.Millisecond, fail, false)
	if spans, _, _ := b.take(); len(strings.TrimSuffix(spans[0].Error, "…")) != spanStackLen {
		t.Error("the next interval's first failure did not keep its stack")
	}
}
