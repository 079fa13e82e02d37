// Package timeline turns the task spans the head keeps into the Chrome
// trace event format (what `shoal timeline` writes, as `ray timeline`
// does), which Perfetto and chrome://tracing open: one process per node,
// one thread per executor slot (an executor's concurrent runs on separate
// slots, so that the spans of a thread never overlap), a complete ("X")
// event per run, failures in red.
package timeline

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Trace is a Chrome trace (JSON object format).
type Trace struct {
	TraceEvents     []Event        `json:"traceEvents"`
	DisplayTimeUnit string         `json:"displayTimeUnit"`
	OtherData       map[string]any `json:"otherData,omitempty"`
}

// Event is one trace event: "X" (complete: ts and dur in microseconds) or
// "M" (metadata: process and thread names).
type Event struct {
	Name  string         `json:"name"`
	Cat   string         `json:"cat,omitempty"`
	Ph    string         `json:"ph"`
	Ts    int64          `json:"ts"`
	Dur   int64          `json:"dur,omitempty"`
	Pid   int            `json:"pid"`
	Tid   int            `json:"tid"`
	Cname string         `json:"cname,omitempty"`
	Args  map[string]any `json:"args,omitempty"`
}

// FromSpans lays the spans out as a trace. Times are microseconds since
// the first span's start (integer, so that a span ending before the next
// starts never overlaps it on its thread).
func FromSpans(r *pb.TimelineReply) Trace {
	spans := slices.Clone(r.GetSpans())
	slices.SortStableFunc(spans, func(a, b *pb.TimelineSpan) int {
		return cmp.Compare(a.GetSpan().GetStartUnixNs(), b.GetSpan().GetStartUnixNs())
	})
	t := Trace{DisplayTimeUnit: "ms", TraceEvents: []Event{}, OtherData: map[string]any{"spans": len(spans), "dropped": r.GetDropped()}}
	if len(spans) == 0 {
		return t
	}
	t0 := spans[0].GetSpan().GetStartUnixNs() / 1000
	nodes := map[string]int{} // node id -> pid
	tids := map[Lane]int{}    // lane -> tid
	for i, lane := range Lanes(spans) {
		s := spans[i]
		sp := s.GetSpan()
		pid, ok := nodes[lane.Node]
		if !ok {
			pid = len(nodes) + 1
			nodes[lane.Node] = pid
			t.TraceEvents = append(t.TraceEvents, Event{Name: "process_name", Ph: "M", Pid: pid, Args: map[string]any{"name": NodeName(s.GetNodeId())}})
		}
		start := sp.GetStartUnixNs()/1000 - t0
		end := (sp.GetStartUnixNs()+sp.GetDurationNs())/1000 - t0
		tid, ok := tids[lane]
		if !ok {
			tid = len(tids) + 1
			tids[lane] = tid
			t.TraceEvents = append(t.TraceEvents, Event{Name: "thread_name", Ph: "M", Pid: pid, Tid: tid,
				Args: map[string]any{"name": fmt.Sprintf("executor %d, slot %d", lane.Executor, lane.Slot)}})
		}
		name, cat := sp.GetFunction(), "task"
		switch sp.GetKind() {
		case pb.RunKind_RUN_KIND_ACTOR_CREATE:
			cat = "actor_create"
		case pb.RunKind_RUN_KIND_ACTOR_CALL:
			cat = "actor_call"
		}
		if name == "" {
			name = cat
		}
		args := map[string]any{"task": taskID(sp.GetTaskId()), "attempt": sp.GetAttempt()}
		ev := Event{Name: name, Cat: cat, Ph: "X", Ts: start, Dur: end - start, Pid: pid, Tid: tid, Args: args}
		if sp.GetFailed() {
			ev.Cname = "terrible" // (the trace viewers' red)
			args["error"] = sp.GetError()
		}
		t.TraceEvents = append(t.TraceEvents, ev)
	}
	return t
}

// Lane is where a span ran: its node, its executor, and a slot of that
// executor (its concurrent runs go to separate slots, so that the spans
// of a lane never overlap).
type Lane struct {
	Node     string // node id (bytes)
	Executor int32  // the executor's pid
	Slot     int
}

// Lanes returns the lane of each span, for spans sorted by start time.
// A span takes the lowest slot of its executor free at its start (ends
// compared in microseconds, the trace's unit).
func Lanes(spans []*pb.TimelineSpan) []Lane {
	out := make([]Lane, len(spans))
	ends := map[Lane][]int64{} // {node, executor} -> end (µs) of each slot's last span
	for i, s := range spans {
		sp := s.GetSpan()
		start, end := sp.GetStartUnixNs()/1000, (sp.GetStartUnixNs()+sp.GetDurationNs())/1000
		key := Lane{Node: string(s.GetNodeId()), Executor: s.GetExecutorPid()}
		e := ends[key]
		slot := slices.IndexFunc(e, func(x int64) bool { return x <= start })
		if slot < 0 {
			slot = len(e)
			e = append(e, 0)
		}
		e[slot] = end
		ends[key] = e
		out[i] = Lane{Node: key.Node, Executor: key.Executor, Slot: slot}
	}
	return out
}

// NodeName names a node as it is shown everywhere (ids.ID.Abbrev).
func NodeName(id []byte) string {
	if id, err := ids.FromBytes("node id", id); err == nil {
		return "node " + id.Abbrev()
	}
	return "node (unknown)"
}

func taskID(b []byte) string {
	if id, err := ids.FromBytes("task id", b); err == nil {
		return id.String()
	}
	return fmt.Sprintf("%x", b)
}
