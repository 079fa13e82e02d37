package head

import (
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// maxSpans bounds the task spans the head keeps for the timeline (64
// bytes each): the oldest go first.
const maxSpans = 100_000

// maxSpanErrors bounds the errors of failed spans the head keeps (a span
// whose error went first says so).
const maxSpanErrors = 10_000

// maxNames bounds the function names the timeline keeps (past it, spans
// of functions not seen before are kept under otherFunctions).
const maxNames = 10_000

const otherFunctions = "(other functions)"

// keptSpan is a span as the head keeps it. It holds no pointers (names,
// nodes and errors are indexes into tables), so that the collector never
// scans the 100,000 kept: as messages, marking them on every collection of
// a busy head cost 5% of a short task's CPU in the process holding it
// (BenchmarkSubmitAndGet, the ring cut to 10,000 against 100,000).
type keptSpan struct {
	id              [16]byte
	start, duration int64
	name, node      uint32
	errSeq          uint32 // 1 + the error's sequence number (0: none)
	pid, attempt    int32
	kind            pb.RunKind
	failed          bool
}

// spanRing is the last maxSpans spans executors sent.
type spanRing struct {
	spans   ring[keptSpan]
	dropped int64 // not sent by executors, or overwritten here
	// names and nodes are the tables of function names and node IDs the
	// spans name (by index), names also by name (intern).
	names   []string
	byName  map[string]uint32
	nodes   [][]byte
	byNode  map[string]uint32
	errors  ring[string]
	errSeqs uint32 // errors kept so far
}

func (r *spanRing) add(sp keptSpan) {
	if r.spans.max == 0 {
		r.spans = newRing[keptSpan](maxSpans)
		r.errors = newRing[string](maxSpanErrors)
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
	if len(m.Spans) == 0 && len(m.SpansPacked) == 0 {
		return
	}
	t := &h.timeline
	var nodeID []byte // (none: a driver's session)
	if s.node != nil {
		nodeID = s.node.id.Bytes()
	}
	node := t.nodeIndex(nodeID)
	keep := func(id []byte, k keptSpan, errMsg string) {
		copy(k.id[:], id)
		k.node, k.pid = node, s.pid
		if errMsg != "" {
			t.errors.add(errMsg)
			t.errSeqs++
			k.errSeq = t.errSeqs
		}
		t.add(k)
	}
	for _, sp := range m.Spans {
		keep(sp.TaskId, keptSpan{start: sp.StartUnixNs, duration: sp.DurationNs, name: t.nameIndex(sp.Function), attempt: sp.Attempt,
			kind: sp.Kind, failed: sp.Failed}, sp.Error)
	}
	err := rpc.ScanSpans(m.SpansPacked, func(sp *rpc.PackedSpan) {
		var errMsg string
		if len(sp.Error) > 0 {
			errMsg = strings.ToValidUTF8(string(sp.Error), "?")
		}
		keep(sp.TaskID, keptSpan{start: sp.Start, duration: sp.Duration, name: t.nameOf(sp.Function), attempt: sp.Attempt,
			kind: sp.Kind, failed: sp.Failed}, errMsg)
	})
	if err != nil {
		t.dropped++ // (a malformed batch: counted, not kept)
	}
}

// nameOf is the index of a function name given as bytes.
func (r *spanRing) nameOf(b []byte) uint32 {
	if i, ok := r.byName[string(b)]; ok {
		return i
	}
	return r.nameIndex(strings.ToValidUTF8(string(b), "?"))
}

// nameIndex is the index of a function name in the names table.
func (r *spanRing) nameIndex(name string) uint32 {
	if i, ok := r.byName[name]; ok {
		return i
	}
	if r.byName == nil {
		r.byName = map[string]uint32{}
		r.names = []string{otherFunctions}
		r.byName[otherFunctions] = 0
	}
	if len(r.names) >= maxNames {
		return 0
	}
	i := uint32(len(r.names))
	r.names = append(r.names, name)
	r.byName[name] = i
	return i
}

// nodeIndex is the index of a node's ID in the nodes table.
func (r *spanRing) nodeIndex(id []byte) uint32 {
	if i, ok := r.byNode[string(id)]; ok {
		return i
	}
	if r.byNode == nil {
		r.byNode = map[string]uint32{}
	}
	i := uint32(len(r.nodes))
	r.nodes = append(r.nodes, id)
	r.byNode[string(id)] = i
	return i
}

// errorOf is the error a kept span carries.
func (r *spanRing) errorOf(k keptSpan) string {
	if k.errSeq == 0 {
		return ""
	}
	back := r.errSeqs - k.errSeq // (0: the newest)
	if int(back) >= r.errors.len() {
		return "(the error is no longer kept)"
	}
	return r.errors.at(r.errors.len() - 1 - int(back))
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
	t := &h.timeline
	first := 0 // (spans come roughly in time order: skip the old ones first)
	for first < t.spans.len() && t.spans.at(first).start+t.spans.at(first).duration < cutoff {
		first++
	}
	n := t.spans.len() - first
	if n <= 0 {
		return r
	}
	// The reply's messages are made in a few allocations.
	outer, inner, ids := make([]pb.TimelineSpan, n), make([]pb.TaskSpan, n), make([]byte, 16*n)
	k := 0
	for i := first; i < t.spans.len(); i++ {
		sp := t.spans.at(i)
		if sp.start+sp.duration < cutoff {
			continue
		}
		id := ids[16*k : 16*k+16 : 16*k+16]
		copy(id, sp.id[:])
		in := &inner[k]
		in.TaskId, in.Function, in.Kind, in.StartUnixNs, in.DurationNs, in.Attempt = id, t.names[sp.name], sp.kind, sp.start, sp.duration, sp.attempt
		in.Failed, in.Error = sp.failed, t.errorOf(sp)
		out := &outer[k]
		out.Span, out.NodeId, out.ExecutorPid = in, t.nodes[sp.node], sp.pid
		r.Spans = append(r.Spans, out)
		k++
	}
	return r
}
