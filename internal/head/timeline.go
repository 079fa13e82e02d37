package head

import (
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// maxSpans bounds the task spans the head keeps for the timeline (about
// 150 bytes each): the oldest go first.
const maxSpans = 100_000

// spanRing is the last maxSpans spans executors sent.
type spanRing struct {
	spans   ring[*pb.TimelineSpan]
	dropped int64 // not sent by executors, or overwritten here
	names   map[string]string
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
	spans := m.Spans
	if len(m.SpansPacked) > 0 {
		packed, err := rpc.UnpackSpans(m.SpansPacked, h.timeline.intern)
		if err != nil {
			h.timeline.dropped++ // (a malformed batch: counted, not kept)
		}
		spans = append(spans, packed...)
	}
	if len(spans) == 0 {
		return
	}
	var node []byte
	if s.node != nil {
		node = s.node.id.Bytes()
	}
	kept := make([]pb.TimelineSpan, len(spans)) // (one allocation a batch)
	for i, sp := range spans {
		t := &kept[i]
		t.Span, t.NodeId, t.ExecutorPid = sp, node, s.pid
		h.timeline.add(t)
	}
}

// maxInterned bounds the function names the timeline keeps one string of
// (past it, each span has its own).
const maxInterned = 10_000

// intern returns the string of a function name, one per name.
func (r *spanRing) intern(b []byte) string {
	if s, ok := r.names[string(b)]; ok {
		return s
	}
	s := strings.ToValidUTF8(string(b), "?")
	if r.names == nil {
		r.names = map[string]string{}
	}
	if len(r.names) < maxInterned {
		r.names[s] = s
	}
	return s
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
