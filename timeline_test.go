package shoal_test

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/timeline"
)

// `shoal timeline`'s trace: the Chrome trace event format (checked field
// by field, as a viewer reads it), every task of a run once, the spans of
// a thread never overlapping, a failure marked, and a parent's span
// enclosing its children's and grandchildren's.
func TestTimelineTrace(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "2")
	ctx := within(t, connect(t, c), 2*time.Minute)
	if v, err := parent.Remote(ctx, 3, 2).Get(ctx); err != nil || v != 13 {
		t.Fatalf("parent: %d, %v", v, err)
	}
	if _, err := boom.Remote(ctx, "timeline").Get(ctx); err == nil {
		t.Fatal("boom did not fail")
	}
	conn, err := rpc.Dial(ctx, c.HeadAddr, c.Token, 0, rpc.TLSConfig{}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rep *pb.TimelineReply
	deadline := time.Now().Add(30 * time.Second)
	for {
		if rep, err = pb.NewHeadClient(conn).Timeline(ctx, &pb.TimelineRequest{}); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range rep.Spans {
			if f := s.Span.Function; f == "test.parent" || f == "test.boom" {
				n++
			}
		}
		if n >= 14 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the head has %d spans of the run's 14 tasks", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, err := json.Marshal(timeline.FromSpans(rep))
	if err != nil {
		t.Fatal(err)
	}
	// Read back as a viewer would: no Go types.
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	events, ok := doc["traceEvents"].([]any)
	if !ok {
		t.Fatalf("no traceEvents array: %.200s", b)
	}
	type span struct{ ts, end float64 }
	tracks := map[[2]float64][]span{}
	var parents []span
	failed := 0
	for i, e := range events {
		ev, ok := e.(map[string]any)
		if !ok {
			t.Fatalf("event %d is not an object", i)
		}
		name, okName := ev["name"].(string)
		ph, okPh := ev["ph"].(string)
		pid, okPid := ev["pid"].(float64)
		tid, okTid := ev["tid"].(float64)
		if !okName || !okPh || !okPid || !okTid || name == "" {
			t.Fatalf("event %d lacks name, ph, pid or tid: %v", i, ev)
		}
		switch ph {
		case "M":
			if args, ok := ev["args"].(map[string]any); !ok || args["name"] == nil || (name != "process_name" && name != "thread_name") {
				t.Fatalf("metadata event %d: %v", i, ev)
			}
		case "X":
			ts, okTs := ev["ts"].(float64)
			dur, _ := ev["dur"].(float64) // (omitted when 0)
			if !okTs || ts < 0 || dur < 0 {
				t.Fatalf("complete event %d has ts %v, dur %v", i, ev["ts"], ev["dur"])
			}
			k := [2]float64{pid, tid}
			tracks[k] = append(tracks[k], span{ts, ts + dur})
			switch name {
			case "test.parent":
				parents = append(parents, span{ts, ts + dur})
			case "test.boom":
				args, _ := ev["args"].(map[string]any)
				if ev["cname"] != "terrible" || args == nil || args["error"] == "" {
					t.Errorf("the failed task is not marked: %v", ev)
				}
				failed++
			}
		default:
			t.Fatalf("event %d has phase %q", i, ph)
		}
	}
	for k, spans := range tracks {
		sort.Slice(spans, func(i, j int) bool { return spans[i].ts < spans[j].ts })
		for i := 1; i < len(spans); i++ {
			if spans[i].ts < spans[i-1].end {
				t.Errorf("track %v: a span at %v starts before the one before it ends (%v)", k, spans[i].ts, spans[i-1].end)
			}
		}
	}
	if len(parents) != 13 || failed != 1 {
		t.Fatalf("%d spans of test.parent (want 13) and %d of test.boom (want 1)", len(parents), failed)
	}
	sort.Slice(parents, func(i, j int) bool { return parents[i].ts < parents[j].ts })
	root := parents[0]
	for _, p := range parents[1:] {
		if p.ts < root.ts || p.end > root.end {
			t.Errorf("a descendant's span [%v, %v] is not inside the root's [%v, %v]", p.ts, p.end, root.ts, root.end)
		}
	}
}
