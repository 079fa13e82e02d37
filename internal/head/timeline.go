package head

import (
	"time"

	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// maxSpans bounds the task spans the head keeps for the timeline (about
// 150 bytes each): the oldest go first.
const maxSpans = 100_000

// spanRing is the last maxSpans spans executors sent.
type spanRing struct {
	spans   ring[*pb.TimelineSpan]
	dropped int64 // not sent by executors, or overwritten here
}

func (r *spanRing) add(sp *pb.TimelineSpan) {
	if r.spans.max == 0 {
		r.spans = newRing[*pb.TimelineSpan](maxSpans)
	}
	if r.spans.add(sp) {
		r.dropped++
	}
}

// recordSpans keeps the spans an executor's session sent.
func (h *Head) recordSpans(s *session, m *pb.ClientMessage) {
	h.timeline.dropped += m.SpansDropped
	h.counts.finished += max(m.OffHeadFinished, 0)
	h.counts.failed += max(m.OffHeadFailed, 0)
	if len(m.Spans) == 0 {
		return
	}
	var node []byte
	if s.node != nil {
		node = s.node.id.Bytes()
	}
	for _, sp := range m.Spans {
		h.timeline.add(&pb.TimelineSpan{Span: sp, NodeId: node, ExecutorPid: s.pid})
	}
}

// Timeline returns the kept spans that ended in the last since (0: all),
// oldest first.
func (h *Head) Timeline(since time.Duration) *pb.TimelineReply {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &pb.TimelineReply{Dropped: h.timeline.dropped}
	cutoff := int64(0)
	if since > 0 {
		cutoff = time.Now().Add(-since).UnixNano()
	}
	for i := range h.timeline.spans.len() {
		sp := h.timeline.spans.at(i)
		if sp.Span.StartUnixNs+sp.Span.DurationNs >= cutoff {
			r.Spans = append(r.Spans, sp)
		}
	}
	return r
}
