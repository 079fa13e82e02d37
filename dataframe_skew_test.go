package shoal_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
)

// A join whose probe side is skewed (seven rows in ten with one key) runs
// that key's partition as several tasks, each probing with a part of its
// rows and building the partition's whole build side, and answers as the
// same query in one process does: inner and left joins (a row without a
// match is kept once, not once per task), their partial aggregates merged
// by the next stage, also grouped by the hot key itself. (Which stages
// may not be split: TestSplitsOn and TestSkewedPartitionsAreSplit.)
func TestSkewedJoinPartitionIsSplit(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), 3*time.Minute)
	seed := int(time.Now().UnixNano() % 1000)
	t.Logf("seed %d", seed)
	const keys = 1000
	var factFuts, dimFuts []*shoal.Future[arrow.RecordBatch]
	for p := range 6 {
		factFuts = append(factFuts, keyedBatch.Remote(ctx, rowsSpec{Seed: seed*100 + p, First: p * 20_000, Rows: 20_000, Keys: keys, Hot: 70}))
	}
	for p := range 2 {
		dimFuts = append(dimFuts, keyedBatch.Remote(ctx, rowsSpec{Seed: seed*100 + 50 + p, First: p * keys, Rows: keys, Keys: keys}))
	}
	facts, err := dataframe.FromFutures(ctx, factFuts).Persist(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dims, err := dataframe.FromFutures(ctx, dimFuts).Persist(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(factFuts, dimFuts...) {
		f.Release()
	}
	dims = dims.Select(dataframe.Col("id").As("did"), dataframe.Col("key").As("dkey"))
	joined := facts.Join(dims, dataframe.Inner, dataframe.On("key", "dkey"))
	for _, tc := range []struct {
		name string
		q    *dataframe.DataFrame
	}{
		{"inner join, aggregated by another key", joined.GroupBy(dataframe.Col("did").Mod(dataframe.Lit(int64(10))).As("g")).
			Agg(dataframe.Sum("v").As("s"), dataframe.CountAll().As("n")).Sort(dataframe.Asc("g"))},
		{"left join: rows without a match kept once", facts.Join(dims, dataframe.LeftOuter, dataframe.On("key", "dkey")).
			GroupBy(dataframe.Col("did").Mod(dataframe.Lit(int64(10))).As("g")).
			Agg(dataframe.Sum("v").As("s"), dataframe.CountAll().As("n"), dataframe.Count("did").As("matched")).Sort(dataframe.Asc("g"))},
		{"aggregated by the join key", joined.GroupBy("key").Agg(dataframe.Sum("v").As("s"), dataframe.CountAll().As("n")).Sort(dataframe.Asc("key"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := tc.q.Collect(ctx, dataframe.Locally())
			if err != nil {
				t.Fatal(err)
			}
			split := 0
			var stages []string
			res, err := tc.q.Collect(ctx, dataframe.WithParallelism(4), dataframe.WithBroadcastRows(100),
				dataframe.WithTargetPartitionBytes(64<<10), dataframe.WithSkewedPartitionBytes(256<<10),
				dataframe.OnStage(func(s dataframe.StageStats) {
					split += s.Split
					stages = append(stages, fmt.Sprintf("stage %d: %d tasks, %d split, %d rows in", s.Stage, s.Partitions, s.Split, s.RowsIn))
				}))
			if err != nil {
				t.Fatal(err)
			}
			t.Log(stages)
			if res.NumRows() == 0 || res.String() != want.String() {
				t.Fatalf("the cluster's answer (%d rows) differs from the local one (%d rows):\n%s\nwant\n%s", res.NumRows(), want.NumRows(), res, want)
			}
			if split == 0 {
				t.Fatalf("no skewed partition was split: %v", stages)
			}
		})
	}
}
