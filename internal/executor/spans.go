package executor

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Spans of the tasks and calls an executor ran go to the head in batches
// (for `shoal timeline` and the dashboard), however the work came: through
// the head, a lease or a direct call. As Ray's task events, they are
// bounded: at most spanBurst per spanInterval (10,000 a second, Ray's
// task event buffer per worker); the rest are counted as
// dropped, so that a flood of tiny direct calls does not turn into head
// traffic. A failed run's error is cut at spanErrorLen, except the first
// of each interval's, which keeps up to spanStackLen: the dashboard shows
// a failure's stack even when the task ran under a lease (its error went
// only to its caller), at most 20 KiB a second.
const (
	spanInterval = 200 * time.Millisecond
	spanBurst    = 2000
	spanErrorLen = 200
	spanStackLen = 4 << 10
)

// spanBuffer holds the spans not sent yet, packed (rpc.AppendSpan).
type spanBuffer struct {
	mu      sync.Mutex
	packed  []byte
	n       int // spans in packed
	dropped int64
	stacked bool // a failed span of this interval kept its stack
	// offHead counts the runs that came without the head (leases, direct
	// calls), finished and failed: never dropped, the head's totals.
	offHead [2]int64
}

// add records one run; offHead: it came without the head.
func (b *spanBuffer) add(rt *pb.RunTask, start time.Time, d time.Duration, info *pb.ErrorInfo, offHead bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if offHead {
		if info != nil {
			b.offHead[1]++
		} else {
			b.offHead[0]++
		}
	}
	if b.n >= spanBurst {
		b.dropped++
		return
	}
	var msg string
	if info != nil {
		msg = info.Message
		limit := spanErrorLen
		if !b.stacked {
			limit, b.stacked = spanStackLen, true
		}
		if len(msg) > limit {
			msg = strings.ToValidUTF8(msg[:limit], "") + "…"
		}
	}
	b.packed = rpc.AppendSpan(b.packed, rt.TaskId, rt.Kind, rt.Attempt, start.UnixNano(), int64(d), rt.Function, info != nil, msg)
	b.n++
}

// take returns the buffered spans (packed), the dropped count and the
// off-head counts, and resets them.
func (b *spanBuffer) take() ([]byte, int64, [2]int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	packed, dropped, offHead := b.packed, b.dropped, b.offHead
	// The next interval's buffer starts as large as this one's was, so
	// that a busy executor's spans do not grow it by doubling and copying
	// (a tenth of a chain task's run time when they did).
	var next []byte
	if len(packed) > 0 {
		next = make([]byte, 0, len(packed)+len(packed)/8)
	}
	b.packed, b.n, b.dropped, b.stacked, b.offHead = next, 0, 0, false, [2]int64{}
	return packed, dropped, offHead
}

// sendSpans sends the buffered spans every spanInterval until ctx ends,
// then once more.
func (b *spanBuffer) sendSpans(ctx context.Context, c *client.Client) {
	t := time.NewTicker(spanInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		if packed, dropped, offHead := b.take(); len(packed) > 0 || dropped > 0 || offHead != [2]int64{} {
			c.SendSpans(packed, dropped, offHead[0], offHead[1])
		}
		if ctx.Err() != nil {
			return
		}
	}
}
