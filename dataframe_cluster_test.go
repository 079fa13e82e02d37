package shoal_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
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
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	for _, parts := range []int{0, 1 + r.IntN(12)} {
		t.Run(fmt.Sprint("partitions ", parts), func(t *testing.T) {
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
			// The stages ran as cluster tasks (the driver ran none).
			if ran := finished(t, ctx) - before; ran < 3*tpch.NumQueries {
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
