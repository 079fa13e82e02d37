package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/internal/retry"
)

// The shuffle workload: distributed dataframe queries while nodes are hit.
// CPUs × 2 partitions of (key int64 in [0, 1000), value int64) are made by
// tasks as Arrow record batches on the nodes (lineage rebuilds a lost
// one); then scale / 5 queries run one after the other, each hash
// repartitioning the rows on the key (a peer-to-peer shuffle between the
// nodes) and then grouping them by key (a second exchange): count and sum
// per key. The driver generates the same rows itself and checks
// every group of every answer exactly.

const shuffleKeys = 1000

var shuffleMake = shoal.Func3("chaos.shuffle.make", func(_ context.Context, part, rows int, seed int64) (arrow.RecordBatch, error) {
	keys, vals := shuffleRows(seed, part, rows)
	schema := arrow.NewSchema([]arrow.Field{{Name: "key", Type: arrow.PrimitiveTypes.Int64}, {Name: "value", Type: arrow.PrimitiveTypes.Int64}}, nil)
	kb, vb := array.NewInt64Builder(memory.DefaultAllocator), array.NewInt64Builder(memory.DefaultAllocator)
	defer kb.Release()
	defer vb.Release()
	kb.AppendValues(keys, nil)
	vb.AppendValues(vals, nil)
	k, v := kb.NewArray(), vb.NewArray()
	defer k.Release()
	defer v.Release()
	return array.NewRecordBatch(schema, []arrow.Array{k, v}, int64(rows)), nil
}).With(shoal.WithMaxRetries(-1))

// shuffleRows is partition part's rows, deterministic in (seed, part).
func shuffleRows(seed int64, part, rows int) (keys, vals []int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x73687566666c65+uint64(part))) // "shuffle"
	keys, vals = make([]int64, rows), make([]int64, rows)
	for i := range keys {
		keys[i] = rng.Int64N(shuffleKeys)
		vals[i] = rng.Int64N(1_000_000)
	}
	return keys, vals
}

type shuffleWorkload struct{}

func init() { Register(shuffleWorkload{}) }

func (shuffleWorkload) Name() string   { return "shuffle" }
func (shuffleWorkload) KeepNode() bool { return false }
func (shuffleWorkload) Describe() string {
	return "CPUs×2 Arrow partitions of 20,000×scale/15 rows on the nodes; scale/5 dataframe queries, each a hash repartition and a group-by (exchanges between the nodes); every group of every answer checked exactly"
}

func (shuffleWorkload) Run(ctx context.Context, env Env) Outcome {
	var o Outcome
	parts := max(2, int(env.CPUs)*2)
	rows := max(1000, 20_000*env.Scale/15)
	queries := max(1, env.Scale/5)
	futs := make([]*shoal.Future[arrow.RecordBatch], parts)
	for p := range futs {
		futs[p] = shuffleMake.Remote(ctx, p, rows, env.Seed)
	}
	defer func() {
		for _, f := range futs {
			f.Release()
		}
	}()
	// What every answer must be.
	wantN, wantSum := make([]int64, shuffleKeys), make([]int64, shuffleKeys)
	groups := int64(0)
	for p := range parts {
		keys, vals := shuffleRows(env.Seed, p, rows)
		for i, k := range keys {
			if wantN[k] == 0 {
				groups++
			}
			wantN[k]++
			wantSum[k] += vals[i]
		}
	}
	o.Details = map[string]int64{"partitions": int64(parts), "rows": int64(parts * rows), "queries": int64(queries)}
	prog := newProgress("shuffle queries", queries, env.Logf)
	df := dataframe.FromFutures(ctx, futs)
	if err := df.Err(); err != nil {
		o.Err = fmt.Errorf("a frame over the generated partitions: %w", err)
		return o
	}
	q := df.Repartition(parts, dataframe.Col("key")).
		GroupBy(dataframe.Col("key")).
		Agg(dataframe.CountAll().As("n"), dataframe.Sum(dataframe.Col("value")).As("total")).
		Sort(dataframe.Asc("key"))
	for i := range queries {
		o.Tasks++
		o.Expected += groups
		var reruns int64
		res, err := q.Collect(ctx, dataframe.WithParallelism(parts), dataframe.OnStage(func(s dataframe.StageStats) { reruns += int64(s.Reruns) }))
		o.Details["stage_reruns"] += reruns
		if err != nil {
			o.problem("query %d failed: %v", i, err)
			continue
		}
		if int64(res.NumRows()) != groups {
			o.problem("query %d: %d groups, want %d", i, res.NumRows(), groups)
			continue
		}
		for r := range res.NumRows() {
			row := res.Row(r)
			g, n, sum := row[0].I, row[1].I, row[2].I
			if g < 0 || g >= shuffleKeys {
				o.problem("query %d: a group of key %d, which no row has", i, g)
				continue
			}
			if n != wantN[g] || sum != wantSum[g] {
				o.problem("query %d: key %d has %d rows summing to %d, want %d and %d", i, g, n, sum, wantN[g], wantSum[g])
				continue
			}
			o.Verified++
		}
		prog.done(i + 1)
		if err := retry.Sleep(ctx, env.Sleep); err != nil {
			o.Err = err
			return o
		}
	}
	return o
}
