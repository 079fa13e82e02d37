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
	nodes := map[string]int{}     // node id -> pid
	slots := map[[2]int][]int64{} // {pid, executor pid} -> end (µs) of each slot's last span
	tids := map[[3]int]int{}      // {pid, executor pid, slot} -> tid
	for _, s := range spans {
		sp := s.GetSpan()
		node := string(s.GetNodeId())
		pid, ok := nodes[node]
		if !ok {
			pid = len(nodes) + 1
			nodes[node] = pid
			name := "node (unknown)"
			if id, err := ids.FromBytes("node id", s.GetNodeId()); err == nil {
				name = "node " + id.Short()
			}
			t.TraceEvents = append(t.TraceEvents, Event{Name: "process_name", Ph: "M", Pid: pid, Args: map[string]any{"name": name}})
		}
		start := sp.GetStartUnixNs()/1000 - t0
		end := (sp.GetStartUnixNs()+sp.GetDurationNs())/1000 - t0
		key := [2]int{pid, int(s.GetExecutorPid())}
		ends := slots[key]
		slot := slices.IndexFunc(ends, func(e int64) bool { return e <= start })
		if slot < 0 {
			slot = len(ends)
			ends = append(ends, 0)
		}
		ends[slot] = end
		slots[key] = ends
		tk := [3]int{pid, int(s.GetExecutorPid()), slot}
		tid, ok := tids[tk]
		if !ok {
			tid = len(tids) + 1
			tids[tk] = tid
			t.TraceEvents = append(t.TraceEvents, Event{Name: "thread_name", Ph: "M", Pid: pid, Tid: tid,
				Args: map[string]any{"name": fmt.Sprintf("executor %d, slot %d", s.GetExecutorPid(), slot)}})
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

func taskID(b []byte) string {
	if id, err := ids.FromBytes("task id", b); err == nil {
		return id.String()
	}
	return fmt.Sprintf("%x", b)
}
