package shoal_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
)

// rowsSpec describes the rows keyedBatch makes: ids from First, keys in
// [0, Keys), one in ten NULL, and Hot in a hundred hotKey (a skew).
type rowsSpec struct {
	Seed, First, Rows, Keys, Hot int
}

// hotKey is the key of rowsSpec.Hot in a hundred rows.
const hotKey = 7

// keyedBatch makes rows of (id, key, v) as spec says (duplicate keys
// likely, v in [0, 1000)).
var keyedBatch = shoal.Func1("test.keyed_batch", func(_ context.Context, spec rowsSpec) (arrow.RecordBatch, error) {
	rng := rand.New(rand.NewPCG(uint64(spec.Seed), 11))
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "key", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	ib, kb, vb := b.Field(0).(*array.Int64Builder), b.Field(1).(*array.Int64Builder), b.Field(2).(*array.Int64Builder)
	for i := range spec.Rows {
		ib.Append(int64(spec.First + i))
		switch {
		case rng.IntN(100) < spec.Hot:
			kb.Append(hotKey)
		case rng.IntN(10) == 0:
			kb.AppendNull()
		default:
			kb.Append(rng.Int64N(int64(spec.Keys)))
		}
		vb.Append(rng.Int64N(1000))
	}
	return b.NewRecordBatch(), nil
})

// A semi or anti join of a small side with a large one on a cluster keeps
// the large side where it is (each of its partitions sends only the
// distinct keys it matched) and gives what the join gives in one process,
// NULL keys matching nothing: the left rows with a match (semi), or with
// none (anti, NOT EXISTS).
func TestSemiAndAntiJoinsOfASmallSideOnTheCluster(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), 2*time.Minute)
	seed := int(time.Now().UnixNano() % 1000)
	t.Logf("seed %d", seed)
	persist := func(parts, rows, keys int) (*dataframe.DataFrame, map[int64]*int64) {
		var futs []*shoal.Future[arrow.RecordBatch]
		byID := map[int64]*int64{}
		for p := range parts {
			f := keyedBatch.Remote(ctx, rowsSpec{Seed: seed*100 + p, First: p * rows, Rows: rows, Keys: keys})
			futs = append(futs, f)
			rec, err := f.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ids, ks := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Int64)
			for i := range int(rec.NumRows()) {
				if ks.IsNull(i) {
					byID[ids.Value(i)] = nil
				} else {
					k := ks.Value(i)
					byID[ids.Value(i)] = &k
				}
			}
		}
		df, err := dataframe.FromFutures(ctx, futs).Persist(ctx) // (row counts known: the planner sees which side is small)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range futs {
			f.Release()
		}
		return df, byID
	}
	left, lrows := persist(2, 150, 60)
	right, rrows := persist(4, 3000, 100)
	right = right.Select(dataframe.Col("id").As("rid"), dataframe.Col("key").As("rkey"))
	present := map[int64]bool{}
	for _, k := range rrows {
		if k != nil {
			present[*k] = true
		}
	}
	for _, how := range []dataframe.JoinType{dataframe.Semi, dataframe.Anti} {
		t.Run(how.String(), func(t *testing.T) {
			var want []int64
			for id, k := range lrows {
				if (k != nil && present[*k]) == (how == dataframe.Semi) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			q := left.Join(right, how, dataframe.On("key", "rkey")).Select(dataframe.Col("id")).Sort(dataframe.Asc("id"))
			var shuffled []string
			// (the large side past the broadcast bound, the small one within)
			res, err := q.Collect(ctx, dataframe.WithParallelism(4), dataframe.WithBroadcastRows(1000), dataframe.OnStage(func(s dataframe.StageStats) {
				if s.Output == "hash" {
					shuffled = append(shuffled, fmt.Sprintf("stage %d (%d rows)", s.Stage, s.Rows))
				}
			}))
			if err != nil {
				t.Fatal(err)
			}
			if len(shuffled) > 0 {
				t.Errorf("the join shuffled rows: %v", shuffled)
			}
			var got []int64
			for i := range res.NumRows() {
				got = append(got, res.Row(i)[0].I)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s join on the cluster: %d rows, want %d\ngot  %v\nwant %v", how, len(got), len(want), head64(got), head64(want))
			}
			local, err := q.Collect(ctx, dataframe.Locally())
			if err != nil {
				t.Fatal(err)
			}
			if local.String() != res.String() {
				t.Fatalf("%s join: the cluster's answer differs from the local one", how)
			}
		})
	}
}

func head64(v []int64) []int64 { return v[:min(len(v), 20)] }
