package executor

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/rpc"
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
	spans, offHead := unpack(t, &b)
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
	if spans, _ := unpack(t, &b); len(strings.TrimSuffix(spans[0].Error, "…")) != spanStackLen {
		t.Error("the next interval's first failure did not keep its stack")
	}
}

// unpack takes b's spans and decodes them as the head does.
func unpack(t *testing.T, b *spanBuffer) ([]*pb.TaskSpan, [2]int64) {
	t.Helper()
	packed, _, offHead := b.take()
	spans, err := scan(packed)
	if err != nil {
		t.Fatal(err)
	}
	return spans, offHead
}

// scan decodes a packed batch as messages.
func scan(packed []byte) ([]*pb.TaskSpan, error) {
	var spans []*pb.TaskSpan
	err := rpc.ScanSpans(packed, func(sp *rpc.PackedSpan) {
		spans = append(spans, &pb.TaskSpan{TaskId: bytes.Clone(sp.TaskID), Kind: sp.Kind, Attempt: sp.Attempt, StartUnixNs: sp.Start,
			DurationNs: sp.Duration, Function: string(sp.Function), Failed: sp.Failed, Error: strings.ToValidUTF8(string(sp.Error), "?")})
	})
	return spans, err
}

// Spans travel packed and come out as they went in; a span past the
// burst is counted as dropped, and a truncated or corrupted batch is
// refused, whole.
func TestSpansPackAndUnpack(t *testing.T) {
	var b spanBuffer
	start := time.Unix(1_800_000_000, 123)
	b.add(&pb.RunTask{TaskId: []byte("0123456789abcdef"), Function: "pkg.f", Kind: pb.RunKind_RUN_KIND_ACTOR_CALL, Attempt: 2}, start, 3*time.Millisecond, nil, false)
	b.add(&pb.RunTask{TaskId: []byte("fedcba9876543210"), Function: "pkg.g"}, start.Add(time.Second), time.Millisecond, &pb.ErrorInfo{Message: "bad \xff input"}, true)
	packed, dropped, _ := b.take()
	if dropped != 0 {
		t.Fatalf("dropped %d", dropped)
	}
	spans, err := scan(packed)
	if err != nil || len(spans) != 2 {
		t.Fatalf("%d spans, %v", len(spans), err)
	}
	a, c := spans[0], spans[1]
	if string(a.TaskId) != "0123456789abcdef" || a.Function != "pkg.f" || a.Kind != pb.RunKind_RUN_KIND_ACTOR_CALL || a.Attempt != 2 ||
		a.StartUnixNs != start.UnixNano() || a.DurationNs != int64(3*time.Millisecond) || a.Failed || a.Error != "" {
		t.Errorf("first span: %v", a)
	}
	if string(c.TaskId) != "fedcba9876543210" || !c.Failed || c.Error != "bad ? input" || c.Function != "pkg.g" {
		t.Errorf("second span: %v", c)
	}
	for cut := 1; cut < len(packed); cut++ {
		if got, err := scan(packed[:cut]); err == nil && len(got) != 1 {
			t.Fatalf("cut at %d of %d: %d spans, no error", cut, len(packed), len(got))
		}
	}
	bad := bytes.Clone(packed)
	bad[16+1+1+5] = 0xff // (inside the first span's numbers)
	if _, err := scan(append(bad, 0xff, 0xff)); err == nil {
		t.Error("a corrupted batch was read")
	}
	for range spanBurst + 5 {
		b.add(&pb.RunTask{Function: "f"}, start, time.Millisecond, nil, false)
	}
	if _, dropped, _ := b.take(); dropped != 5 {
		t.Errorf("dropped %d past the burst, want 5", dropped)
	}
}
