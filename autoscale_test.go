package shoal_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// startAutoscaled starts a head with the local autoscaler (no nodes yet;
// two-CPU nodes, at most 3, removed after idle) and stops it with the test.
func startAutoscaled(t *testing.T, idle string) *clustertest.Cluster {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "autoscale.json")
	if err := os.WriteFile(cfg, []byte(`{
		"provider": "local",
		"idle_timeout": "`+idle+`",
		"interval": "200ms",
		"drain_deadline": "5s",
		"node_types": [{"name": "cpu2", "resources": {"CPU": 2}, "max": 3}]
	}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := clustertest.Start(context.Background(), clustertest.Options{Binary: mustBinary(t), Dir: dir, Nodes: 0,
		HeadArgs: []string{"--autoscale", cfg}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

func TestAutoscalerLocalProvider(t *testing.T) {
	c := startAutoscaled(t, "2s")
	ctx := within(t, connect(t, c), 3*time.Minute)
	alive := func(n int) func(*pb.StatusReply) bool {
		return func(st *pb.StatusReply) bool { return clustertest.AliveNodes(st) == n }
	}

	// Demand appears: 6 one-CPU tasks on an empty cluster need 3 two-CPU nodes.
	start := time.Now()
	var futs []*shoal.Future[int]
	for i := range 6 {
		futs = append(futs, sleepThen.Remote(ctx, 1500*time.Millisecond, i))
	}
	if err := c.WaitFor(ctx, time.Minute, func(st *pb.StatusReply) bool { return clustertest.AliveNodes(st) >= 1 }, "a first node"); err != nil {
		t.Fatal(err)
	}
	t.Logf("first node joined %v after the demand appeared", time.Since(start).Round(time.Millisecond))
	if err := c.WaitFor(ctx, time.Minute, alive(3), "3 nodes for 6 one-CPU tasks"); err != nil {
		t.Fatal(err)
	}
	t.Logf("3 nodes up %v after the demand appeared", time.Since(start).Round(time.Millisecond))
	// Work running while the cluster scales down completes.
	long := sleepThen.Remote(ctx, 5*time.Second, 99)
	requireValues(t, ctx, futs, identity)
	if err := c.WaitFor(ctx, time.Minute, alive(1), "the idle nodes to be removed while one works"); err != nil {
		t.Fatal(err)
	}
	if v, err := long.Get(ctx); err != nil || v != 99 {
		t.Fatalf("task running during the scale-down: %d %v", v, err)
	}
	if err := c.WaitFor(ctx, time.Minute, alive(0), "the last node to go once idle"); err != nil {
		t.Fatal(err)
	}

	// A pinned node survives its idle timeout and goes after Unpin.
	if v, err := sleepThen.Remote(ctx, time.Duration(0), 7).Get(ctx); err != nil || v != 7 {
		t.Fatalf("task on a new node: %d %v", v, err)
	}
	st, _ := shoal.ClusterStatus(ctx)
	var nodeID string
	for _, n := range st.Nodes {
		if n.Alive {
			nodeID = n.ID
		}
	}
	lease, err := shoal.PinNodes(ctx, []string{nodeID}, "a shuffle depends on it", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Three idle timeouts: the pin must hold it all along.
	if err := c.WaitFor(ctx, 6*time.Second, alive(0), "the pinned node to go (it must not)"); err == nil {
		t.Fatal("a pinned node was removed")
	}
	if err := lease.Unpin(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitFor(ctx, time.Minute, alive(0), "the node to go once unpinned"); err != nil {
		t.Fatal(err)
	}
	final, _ := c.Status(ctx)
	events := strings.Join(final.Events, "\n")
	for _, want := range []string{"launch", "remove", "idle for", "pinned"} {
		if !strings.Contains(events, want) {
			t.Errorf("no event mentions %q:\n%s", want, events)
		}
	}
}

// Scenario 5 of MISSION.md: an autoscaler with a short idle timeout must
// not break a running query. The nodes holding a shuffle's map outputs sit
// idle while the coordinator waits between stages, three idle timeouts
// long; they are pinned, the autoscaler keeps them and says why, the answer
// is exact, and once the query is done they go.
func TestAutoscalerKeepsAShufflesNodes(t *testing.T) {
	c := startAutoscaled(t, "1s")
	ctx := within(t, connect(t, c), 3*time.Minute)
	var futs []*shoal.Future[arrow.RecordBatch]
	for i := range 6 {
		futs = append(futs, seededBatch.Remote(ctx, i, 30_000))
	}
	counts, totals := sums(t, ctx, futs)
	var holders map[string]int
	res, err := groupSums(dataframe.FromFutures(ctx, futs).Repartition(4, dataframe.Col("key"))).Collect(ctx,
		dataframe.OnStage(func(s dataframe.StageStats) {
			if s.Stage != 0 {
				return
			}
			holders = s.Nodes
			// The coordinator is slow to start the next stage: the holders
			// are idle for three idle timeouts, and must all stay.
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				st, err := shoal.ClusterStatus(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				for node := range holders {
					if !slices.ContainsFunc(st.Nodes, func(n shoal.NodeInfo) bool { return n.ID == node && n.Alive }) {
						t.Errorf("node %s, holding map outputs a later stage reads, was removed mid-query", node)
						return
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	checkGroups(t, res, counts, totals)
	if len(holders) == 0 {
		t.Fatal("the first stage reported no map outputs")
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if events := strings.Join(st.Events, "\n"); !strings.Contains(events, "but pinned: a query's stage 0 wrote") {
		t.Errorf("no autoscaler event says it kept a node for the query:\n%s", events)
	}
	// Done: the pins are gone with the query, and so are the nodes.
	for _, f := range futs {
		f.Release()
	}
	if err := c.WaitFor(ctx, time.Minute, func(st *pb.StatusReply) bool { return clustertest.AliveNodes(st) == 0 }, "the idle nodes to go after the query"); err != nil {
		t.Fatal(err)
	}
}
