package head

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
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
	waitFor(t, "the reports", func() bool { return len(hs.h.Queries()) == 2 })
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
	waitFor(t, "more queries", func() bool { qs := hs.h.Queries(); return len(qs) > 0 && qs[0].Label == fmt.Sprint("q", maxQueries-1) })
	if qs := hs.h.Queries(); len(qs) != maxQueries || qs[len(qs)-1].Label != "q0" {
		t.Fatalf("%d queries kept, the oldest %q", len(qs), qs[len(qs)-1].Label)
	}
}
