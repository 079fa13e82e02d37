package executor

import (
	"context"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/client"
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

// spanBuffer holds the spans not sent yet.
type spanBuffer struct {
	mu      sync.Mutex
	spans   []*pb.TaskSpan
	dropped int64
	stacked bool // a failed span of this interval kept its stack
	// offHead counts the runs that came without the head (leases, direct
	// calls), finished and failed: never dropped, the head's totals.
	offHead [2]int64
}

// add records one run; offHead: it came without the head.
func (b *spanBuffer) add(rt *pb.RunTask, start time.Time, d time.Duration, info *pb.ErrorInfo, offHead bool) {
	sp := &pb.TaskSpan{TaskId: rt.TaskId, Function: rt.Function, Kind: rt.Kind, StartUnixNs: start.UnixNano(), DurationNs: int64(d), Attempt: rt.Attempt}
	b.mu.Lock()
	if offHead {
		if info != nil {
			b.offHead[1]++
		} else {
			b.offHead[0]++
		}
	}
	if info != nil {
		sp.Failed = true
		sp.Error = info.Message
		limit := spanErrorLen
		if !b.stacked {
			limit, b.stacked = spanStackLen, true
		}
		if len(sp.Error) > limit {
			sp.Error = sp.Error[:limit] + "…"
		}
	}
	if len(b.spans) < spanBurst {
		b.spans = append(b.spans, sp)
	} else {
		b.dropped++
	}
	b.mu.Unlock()
}

// take returns the buffered spans, the dropped count and the off-head
// counts, and resets them.
func (b *spanBuffer) take() ([]*pb.TaskSpan, int64, [2]int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	spans, dropped, offHead := b.spans, b.dropped, b.offHead
	b.spans, b.dropped, b.stacked, b.offHead = nil, 0, false, [2]int64{}
	return spans, dropped, offHead
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
		if spans, dropped, offHead := b.take(); len(spans) > 0 || dropped > 0 || offHead != [2]int64{} {
			c.SendSpans(spans, dropped, offHead[0], offHead[1])
		}
		if ctx.Err() != nil {
			return
		}
	}
}
