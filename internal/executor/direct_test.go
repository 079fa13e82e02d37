package executor

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/testwait"
)

// A call run on the reader for longer than inlinePause hands reading on,
// once; short calls back to back never do, however many there are; the
// ticks stop once calls stop, and after stop.
func TestInlineWatch(t *testing.T) {
	var handoffs atomic.Int32
	w := &inlineWatch{handoff: func() { handoffs.Add(1) }}
	deadline := time.Now().Add(20 * inlinePause)
	for time.Now().Before(deadline) {
		w.start()
		if !w.finish() {
			t.Fatal("a call that returned at once handed reading on")
		}
	}
	if n := handoffs.Load(); n != 0 {
		t.Fatalf("%d handoffs for calls that returned at once", n)
	}
	testwait.For(t, "the ticks to stop once calls stop", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return !w.armed })

	w.start()
	testwait.For(t, "a long call to hand reading on", func() bool { return handoffs.Load() == 1 })
	if w.finish() {
		t.Fatal("the reader would read on after handing reading to another goroutine")
	}
	time.Sleep(3 * inlinePause) // (no further handoff may come: nothing to wait for)
	if n := handoffs.Load(); n != 1 {
		t.Fatalf("%d handoffs for one long call", n)
	}

	// A reader that ends (its connection did) mid-call hands nothing on.
	w2 := &inlineWatch{handoff: func() { handoffs.Add(1) }}
	w2.start()
	w2.stop()
	time.Sleep(3 * inlinePause)
	w2.mu.Lock()
	defer w2.mu.Unlock()
	if n := handoffs.Load(); n != 1 || w2.armed {
		t.Fatalf("after stop: %d handoffs in all, armed %v", n, w2.armed)
	}
}
