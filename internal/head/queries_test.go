package head

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
	"github.com/shoal-dev/shoal/internal/testwait"
)

// The head keeps what drivers report of their queries' stages: the last
// report of each stage (a finished one is final), the query's end, at most
// maxQueries queries (the oldest go), and totals of every finished stage.
func TestQueriesKeepWhatDriversReport(t *testing.T) {
	hs := newHarness(t, Config{})
	d := hs.driver()
	q1, q2 := ids.Random().Bytes(), ids.Random().Bytes()
	at := time.Now().Add(-time.Second).UnixNano()
	send := func(sts ...*pb.QueryStage) { d.stream.Send(&pb.ClientMessage{QueryStages: sts}) }
	send(&pb.QueryStage{QueryId: q1, Query: "Sort ← lineitem", Stages: 3, Stage: 0, Partitions: 4, Output: "hash", StartedUnixNs: at},
		&pb.QueryStage{QueryId: q1, Query: "Sort ← lineitem", Stages: 3, Stage: 1, Partitions: 2, Output: "broadcast", StartedUnixNs: at + 5})
	send(&pb.QueryStage{QueryId: q1, Stages: 3, Stage: 0, Partitions: 4, Output: "hash", Done: true, Rows: 100, Bytes: 4096, LocalBytes: 10, RemoteBytes: 20,
		Split: 1, Reruns: 2, StartedUnixNs: at, DurationNs: 1e6},
		&pb.QueryStage{QueryId: q1, Stages: 3, Stage: 0, Done: false}, // (after it finished: ignored)
		&pb.QueryStage{QueryId: []byte("short"), Stage: 0},            // (not an ID: ignored)
		&pb.QueryStage{QueryId: q2, Query: "Limit ← orders", Stages: 1, Stage: -1, Error: "planning failed"})
	testwait.For(t, "the reports", func() bool { return len(hs.h.Queries()) == 2 })
	qs := hs.h.Queries()
	if string(qs[0].ID) != string(q2) || qs[0].Error != "planning failed" || qs[0].Ended.IsZero() || len(qs[0].Reported) != 0 {
		t.Fatalf("latest query: %+v", qs[0])
	}
	q := qs[1]
	if q.Label != "Sort ← lineitem" || q.Stages != 3 || q.Done() != 1 || len(q.Reported) != 2 || !q.Ended.IsZero() || q.Job == "" ||
		q.Started.UnixNano() != at {
		t.Fatalf("query: %+v", q)
	}
	if s := q.Reported[0]; !s.Done || s.Rows != 100 || s.Partitions != 4 {
		t.Fatalf("stage 0: %+v", s)
	}
	want := QueryTotals{Queries: 1, Failed: 1, Stages: 1, Rows: 100, ShuffleBytes: 4096, LocalBytes: 10, RemoteBytes: 20, SplitPartitions: 1, Reruns: 2}
	if got := hs.h.Metrics().Queries; got != want {
		t.Fatalf("totals %+v, want %+v", got, want)
	}
	// Past maxQueries, the oldest go.
	for i := range maxQueries {
		send(&pb.QueryStage{QueryId: ids.Random().Bytes(), Query: fmt.Sprint("q", i), Stages: 1, Stage: 0})
	}
	testwait.For(t, "more queries", func() bool { qs := hs.h.Queries(); return len(qs) > 0 && qs[0].Label == fmt.Sprint("q", maxQueries-1) })
	if qs := hs.h.Queries(); len(qs) != maxQueries || qs[len(qs)-1].Label != "q0" {
		t.Fatalf("%d queries kept, the oldest %q", len(qs), qs[len(qs)-1].Label)
	}
}

// The head keeps executors' spans (packed or as messages) with their
// node, executor, function and error, the newest maxSpans of them; a span
// whose error went before it says so; the reply holds what ended in the
// window asked for.
func TestTimelineKeepsSpans(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(1, scheduler.Resources{})
	hs.driver() // (an executor serves a running job)
	ex := hs.executor(n)
	now := time.Now()
	var packed []byte
	for i := range 3 {
		id := ids.Random()
		packed = rpc.AppendSpan(packed, id.Bytes(), pb.RunKind_RUN_KIND_TASK, int32(i), now.Add(time.Duration(i)*time.Millisecond).UnixNano(),
			int64(time.Millisecond), fmt.Sprint("pkg.f", i%2), i == 2, map[bool]string{true: "boom"}[i == 2])
	}
	old := &pb.TaskSpan{TaskId: ids.Random().Bytes(), Function: "pkg.old", StartUnixNs: now.Add(-time.Hour).UnixNano(), DurationNs: 1}
	ex.stream.Send(&pb.ClientMessage{SpansPacked: packed, Spans: []*pb.TaskSpan{old}, SpansDropped: 7})
	testwait.For(t, "the spans", func() bool { return len(hs.h.Timeline(0).Spans) == 4 })
	rep := hs.h.Timeline(0)
	if rep.Dropped != 7 {
		t.Errorf("dropped %d, want 7", rep.Dropped)
	}
	fns := map[string]int{}
	for _, sp := range rep.Spans {
		fns[sp.Span.Function]++
		if string(sp.NodeId) != string(n.id.Bytes()) {
			t.Errorf("span of node %x", sp.NodeId)
		}
		if sp.Span.Failed != (sp.Span.Error == "boom") {
			t.Errorf("span %v", sp.Span)
		}
	}
	if fns["pkg.f0"] != 2 || fns["pkg.f1"] != 1 || fns["pkg.old"] != 1 {
		t.Errorf("functions %v", fns)
	}
	if got := len(hs.h.Timeline(time.Minute).Spans); got != 3 {
		t.Errorf("%d spans in the last minute, want 3", got)
	}
	// Errors beyond the newest maxSpanErrors are no longer kept.
	var many []byte
	for i := range maxSpanErrors + 1 {
		many = rpc.AppendSpan(many, ids.Random().Bytes(), pb.RunKind_RUN_KIND_TASK, 0, now.UnixNano(), 1, "pkg.bad", true, fmt.Sprint("error ", i))
	}
	ex.stream.Send(&pb.ClientMessage{SpansPacked: many})
	testwait.For(t, "the failures", func() bool { return len(hs.h.Timeline(0).Spans) == 4+maxSpanErrors+1 })
	spans := hs.h.Timeline(0).Spans
	if e := spans[len(spans)-1].Span.Error; e != fmt.Sprint("error ", maxSpanErrors) {
		t.Errorf("the newest failure's error %q", e)
	}
	if e := spans[3].Span.Error; e != "(the error is no longer kept)" {
		t.Errorf("an old failure's error %q", e)
	}
	if e := spans[4].Span.Error; e != "(the error is no longer kept)" {
		t.Errorf("the oldest of the many failures: %q", e)
	}
}
