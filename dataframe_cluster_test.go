package shoal_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/tpch"
	"github.com/shoal-dev/shoal/tpch/dbgen"
)

// The distributed dataframe (issue 15): a frame's Collect under a cluster
// runs its stages' partitions as tasks, exchanging rows through map
// outputs in the nodes' stores; the 22 TPC-H queries give the reference
// answers, whatever the partition count.
func TestTPCHOnCluster(t *testing.T) {
	dir := t.TempDir()
	if err := dbgen.Generate(context.Background(), dbgen.Options{SF: 0.1, OutDir: dir}); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, 3, "--cpus", "2")
	ctx := within(t, connect(t, c), 10*time.Minute)
	db, err := tpch.Open(ctx, dir, tpch.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The same tables loaded once into the nodes' stores (Persist): the
	// queries read them where they are.
	persisted, err := tpch.Open(ctx, dir, tpch.LoadOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	for _, tc := range []struct {
		parts int
		db    *tpch.DB
	}{{0, db}, {1 + r.IntN(12), db}, {0, persisted}} {
		parts, db := tc.parts, tc.db
		name := fmt.Sprint("partitions ", parts)
		if db == persisted {
			name += " persisted tables"
		}
		t.Run(name, func(t *testing.T) {
			var opts []dataframe.CollectOption
			if parts > 0 {
				t.Logf("%d partitions (seed %d)", parts, seed)
				opts = append(opts, dataframe.WithParallelism(parts))
			}
			before := finished(t, ctx)
			rep, err := tpch.Run(ctx, db, tpch.RunOptions{AnswersDir: "tpch/testdata/answers/sf0.1", Collect: opts})
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range rep.Queries {
				if q.Error != "" {
					t.Errorf("Q%d: %s", q.Query, q.Error)
				}
				for _, p := range q.Problems {
					t.Errorf("Q%d: %s", q.Query, p)
				}
			}
			if rep.Correct != tpch.NumQueries {
				t.Errorf("%d/%d queries correct on the cluster", rep.Correct, tpch.NumQueries)
			}
			// The stages ran as cluster tasks (the driver ran none): at
			// least one per query, and with several partitions a query's
			// stages have several tasks each.
			least := int64(3 * tpch.NumQueries)
			if parts == 1 {
				least = tpch.NumQueries
			}
			if ran := finished(t, ctx) - before; ran < least {
				t.Errorf("the 22 queries ran %d tasks on the cluster", ran)
			}
		})
	}
}

func finished(t *testing.T, ctx context.Context) int64 {
	t.Helper()
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st.TasksByState["finished"]
}

// A node killed between a query's stages loses only its map outputs: the
// cluster runs those map tasks again (and only those), the next stage reads
// the new copies, and the answer is exact. The query is a chain of stages
// (lineitem's quantities per order, shuffled on the order key, the large
// ones kept: Q18's subquery), so that no other stage runs at the kill and
// the reruns can be counted exactly.
//
// In the second case the node goes silent (frozen) as the next stage
// starts and dies once its reducers run: they hold every CPU of the nodes
// left while they wait for the outputs made again, and those map tasks
// need CPUs too (the cluster deadlocked until a waiting read gave back its
// task's CPU, as a Get does).
func TestQuerySurvivesNodeLossMidShuffle(t *testing.T) {
	dir := t.TempDir()
	if err := dbgen.Generate(context.Background(), dbgen.Options{SF: 0.1, OutDir: dir}); err != nil {
		t.Fatal(err)
	}
	for _, frozenFirst := range []bool{false, true} {
		name := "killed between stages"
		if frozenFirst {
			name = "frozen as the reducers start, then killed"
		}
		t.Run(name, func(t *testing.T) { queryLosesANode(t, dir, frozenFirst) })
	}
}

func queryLosesANode(t *testing.T, dir string, frozenFirst bool) {
	c := startCluster(t, 3, "--cpus", "2")
	ctx := within(t, connect(t, c), 5*time.Minute)
	db, err := tpch.Open(ctx, dir, tpch.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := dataframe.Col
	q := db.Table("lineitem").GroupBy(l("l_orderkey")).Agg(dataframe.Sum(l("l_quantity")).As("quantity")).
		Filter(l("quantity").Gt(200)).Sort(dataframe.Asc("l_orderkey"))
	want, err := q.Collect(ctx, dataframe.Locally())
	if err != nil {
		t.Fatal(err)
	}
	var killed string
	lost := 0
	before, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dead := make(chan error, 1)
	res, err := q.Collect(ctx, dataframe.WithParallelism(6), dataframe.WithTargetPartitionBytes(0),
		dataframe.OnStage(func(s dataframe.StageStats) {
			if killed != "" || s.Output != "hash" || len(s.Nodes) < 2 {
				return
			}
			// The first shuffle's outputs are on every node: kill one that
			// holds some, before the stage that reads them starts (or
			// freeze it, and kill it once that stage's tasks run).
			for node, n := range s.Nodes {
				p := c.NodeProc(node)
				if p == nil {
					continue
				}
				killed, lost = node, n
				t.Logf("stage %d wrote %d outputs on %v; node %s holds %d", s.Stage, s.Partitions, s.Nodes, node, n)
				if !frozenFirst {
					p.Kill()
					dead <- nil
					return
				}
				if err := p.Freeze(); err != nil {
					t.Error(err)
				}
				go func() {
					// The nodes left have 4 CPUs for the stage's 6 tasks.
					err := c.WaitFor(ctx, time.Minute, func(st *pb.StatusReply) bool { return st.TasksByState["running"] >= 4 },
						"the reducers to run")
					p.Kill()
					dead <- err
				}()
				return
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	if killed == "" {
		t.Fatal("no shuffle stage spread its outputs over several nodes: nothing was killed")
	}
	if err := <-dead; err != nil {
		t.Fatal(err)
	}
	if got, exp := res.String(), want.String(); got != exp || res.NumRows() == 0 {
		t.Fatalf("after losing node %s, %d rows:\n%s\nwant %d rows:\n%s", killed, res.NumRows(), got, want.NumRows(), exp)
	}
	after, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt := after.TasksByState["rebuilt"] - before.TasksByState["rebuilt"]
	if rebuilt != int64(lost) {
		t.Fatalf("%d map tasks ran again, want exactly the %d whose outputs were on the killed node", rebuilt, lost)
	}
}

// When a map output cannot be had again (its input died with its node,
// and the task that made that input may not run again), the reducers'
// reads fail with a typed FetchFailedError naming the shuffle and map
// partition; the coordinator runs the map task again and the stage again,
// a bounded number of times, then stops saying why.
func TestFetchFailureIsTypedAndBounded(t *testing.T) {
	c := startCluster(t, 3, "--cpus", "4") // (room for every map task beside its input)
	ctx := within(t, connect(t, c), 3*time.Minute)
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim := st.Nodes[0].ID
	// The input lives on the victim only, made by a task that may not run
	// again (MaxRetries 0): once the victim dies it is gone for good.
	once := seededBatch.With(shoal.WithNodeAffinity(victim, false), shoal.WithMaxRetries(0))
	var futs []*shoal.Future[arrow.RecordBatch]
	for i := range 3 {
		futs = append(futs, once.Remote(ctx, i, 10_000))
	}
	defer func() {
		for _, f := range futs {
			f.Release()
		}
	}()
	if _, _, err := shoal.Wait(ctx, futs, len(futs), -1); err != nil {
		t.Fatal(err)
	}
	reruns := 0
	_, err = dataframe.FromFutures(ctx, futs).Repartition(4, dataframe.Col("key")).Collect(ctx,
		dataframe.OnStage(func(s dataframe.StageStats) {
			reruns += s.Reruns
			if s.Stage != 0 {
				return
			}
			// The map tasks ran where their input is.
			if s.Nodes[victim] != s.Partitions {
				t.Errorf("the map outputs are on %v, want all %d on node %s, with their input", s.Nodes, s.Partitions, victim)
			}
			c.NodeProc(victim).Kill()
		}))
	if err == nil {
		after, _ := shoal.ClusterStatus(ctx)
		t.Fatalf("a query whose shuffle input was lost for good succeeded (%d reruns; tasks %v)", reruns, after.TasksByState)
	}
	var ff *dataframe.FetchFailedError
	if !errors.As(err, &ff) {
		t.Fatalf("the error is not a FetchFailedError: %v", err)
	}
	if ff.Shuffle != 0 || ff.Map < 0 || ff.Map >= len(futs) {
		t.Errorf("the fetch failure names map output %d of stage %d: %v", ff.Map, ff.Shuffle, ff)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("failed %d times", dataframe.MaxStageAttempts)) {
		t.Errorf("the error does not say the stage ran out of attempts: %v", err)
	}
	t.Logf("after %d reruns: %v", reruns, err)
}

// A join planned partitioned whose build side turns out small (TPC-H
// Q18's orders of over 300 units: 5 at SF 0.1, estimated at 60,000) is
// broadcast instead: the stage that would have shuffled the probe side
// (orders) does not run, the join's stage reads orders itself, and the
// answer is the one the query gives in one process.
func TestJoinTurnsBroadcastWhenItsBuildSideIsSmall(t *testing.T) {
	dir := t.TempDir()
	if err := dbgen.Generate(context.Background(), dbgen.Options{SF: 0.1, OutDir: dir}); err != nil {
		t.Fatal(err)
	}
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), 3*time.Minute)
	db, err := tpch.Open(ctx, dir, tpch.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := tpch.Query(db, 18)
	if err != nil {
		t.Fatal(err)
	}
	want, err := q.Collect(ctx, dataframe.Locally())
	if err != nil {
		t.Fatal(err)
	}
	var broadcast []string
	ran := map[int]bool{}
	var inputs [][]int
	// (a broadcast bound below the estimate: the join is planned partitioned)
	res, err := q.Collect(ctx, dataframe.WithParallelism(3), dataframe.WithBroadcastRows(20_000), dataframe.OnStage(func(s dataframe.StageStats) {
		ran[s.Stage] = true
		inputs = append(inputs, s.Inputs)
		if len(s.Broadcast) > 0 {
			broadcast = append(broadcast, fmt.Sprintf("stage %d broadcasts the output of %v", s.Stage, s.Broadcast))
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got, exp := res.String(), want.String(); got != exp || res.NumRows() == 0 {
		t.Fatalf("%d rows:\n%s\nwant %d rows:\n%s", res.NumRows(), got, want.NumRows(), exp)
	}
	if len(broadcast) == 0 {
		t.Fatalf("no join turned broadcast (stages ran reading %v)", inputs)
	}
	t.Log(strings.Join(broadcast, "; "))
	for _, in := range inputs {
		for _, id := range in {
			if !ran[id] {
				t.Fatalf("a stage read stage %d, which did not run", id)
			}
		}
	}
}
