package shoal_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shoal-dev/shoal"
	_ "github.com/shoal-dev/shoal/arrowcodec"
	"github.com/shoal-dev/shoal/dataframe"
)

// keyValueBatch makes rows of (key int64, value float64): keys in
// [0, keys), values from rng.
func keyValueBatch(rng *rand.Rand, rows, keys int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "key", Type: arrow.PrimitiveTypes.Int64}, {Name: "value", Type: arrow.PrimitiveTypes.Float64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	kb, vb := b.Field(0).(*array.Int64Builder), b.Field(1).(*array.Float64Builder)
	for range rows {
		kb.Append(rng.Int64N(int64(keys)))
		vb.Append(rng.Float64())
	}
	return b.NewRecordBatch()
}

var (
	// seededBatch is deterministic in its arguments.
	seededBatch = shoal.Func2("test.seeded_batch", func(_ context.Context, seed, rows int) (arrow.RecordBatch, error) {
		return keyValueBatch(rand.New(rand.NewPCG(uint64(seed), 7)), rows, 100), nil
	})
	oddBatch = shoal.Func0("test.odd_batch", func(context.Context) (arrow.RecordBatch, error) {
		s := arrow.NewSchema([]arrow.Field{{Name: "other", Type: arrow.PrimitiveTypes.Int32}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		defer b.Release()
		b.Field(0).(*array.Int32Builder).Append(1)
		return b.NewRecordBatch(), nil
	})
	// randomBatch is not: two calls with the same arguments make different
	// data (as a task reading a changing source would).
	randomBatch = shoal.Func1("test.random_batch", func(_ context.Context, rows int) (arrow.RecordBatch, error) {
		return keyValueBatch(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), rows, 100), nil
	})
)

// sums computes count and sum(value) per key of batches, in the driver.
func sums(t *testing.T, ctx context.Context, futs []*shoal.Future[arrow.RecordBatch]) (map[int64]int64, map[int64]float64) {
	t.Helper()
	counts, totals := map[int64]int64{}, map[int64]float64{}
	for _, f := range futs {
		rec, err := f.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		keys, vals := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Float64)
		for i := range int(rec.NumRows()) {
			counts[keys.Value(i)]++
			totals[keys.Value(i)] += vals.Value(i)
		}
	}
	return counts, totals
}

func checkGroups(t *testing.T, res *dataframe.Result, counts map[int64]int64, totals map[int64]float64) {
	t.Helper()
	if res.NumRows() != len(counts) {
		t.Fatalf("%d groups, want %d", res.NumRows(), len(counts))
	}
	for i := range res.NumRows() {
		row := res.Row(i)
		k, n, sum := row[0].I, row[1].I, row[2].F
		if n != counts[k] || math.Abs(sum-totals[k]) > 1e-9*math.Max(1, math.Abs(totals[k])) {
			t.Errorf("key %d: count %d sum %g, want %d and %g", k, n, sum, counts[k], totals[k])
		}
	}
}

func groupSums(df *dataframe.DataFrame) *dataframe.DataFrame {
	return df.GroupBy(dataframe.Col("key")).Agg(dataframe.CountAll().As("n"), dataframe.Sum(dataframe.Col("value")).As("total")).
		Sort(dataframe.Asc("key"))
}

// Frames from futures (scenario 4 of MISSION.md): partitions stay on the
// nodes that made them; a query over them runs there; Repartition
// shuffles them peer to peer and Persist leaves the result on the nodes.
func TestFramesFromFutures(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), 2*time.Minute)
	var futs []*shoal.Future[arrow.RecordBatch]
	for i := range 6 {
		futs = append(futs, seededBatch.Remote(ctx, i, 20_000+i))
	}
	defer func() {
		for _, f := range futs {
			f.Release()
		}
	}()
	counts, totals := sums(t, ctx, futs)
	df := dataframe.FromFutures(ctx, futs)
	stages := 0
	res, err := groupSums(df).Collect(ctx, dataframe.OnStage(func(s dataframe.StageStats) {
		if stages == 0 && s.Partitions != len(futs) {
			t.Errorf("the first stage has %d partitions, want one per future (%d)", s.Partitions, len(futs))
		}
		stages++
	}))
	if err != nil {
		t.Fatal(err)
	}
	checkGroups(t, res, counts, totals)
	if stages < 2 {
		t.Errorf("the query ran %d stages on the cluster", stages)
	}
	// The result's statistics: what each stage wrote, the next one read,
	// on its own node or fetched.
	st := res.Stats()
	if len(st) != stages {
		t.Fatalf("Result.Stats has %d stages, OnStage saw %d", len(st), stages)
	}
	if st[0].Output != "hash" || st[1].RowsIn != st[0].Rows || st[1].LocalBytes+st[1].RemoteBytes != st[0].Bytes || st[0].Rows == 0 {
		t.Errorf("stage 1 read %d rows, %d bytes locally and %d remotely; stage 0 (%s) wrote %d rows, %d bytes",
			st[1].RowsIn, st[1].LocalBytes, st[1].RemoteBytes, st[0].Output, st[0].Rows, st[0].Bytes)
	}
	plan, err := groupSums(df).ExplainOn(ctx)
	if err != nil || !strings.Contains(plan, "on the cluster") || !strings.Contains(plan, fmt.Sprintf("Stage 0: %d partition(s) -> hash", len(futs))) {
		t.Errorf("the distributed plan: %v\n%s", err, plan)
	}

	// Repartition + Persist: the shuffled rows stay on the cluster; a query
	// of the persisted frame finds every row once.
	var perNode map[string]int
	shuffled, err := df.Repartition(4, dataframe.Col("key")).Persist(ctx, dataframe.WithTargetPartitionBytes(0), dataframe.OnStage(func(s dataframe.StageStats) {
		perNode = s.Nodes
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(perNode) < 2 {
		t.Errorf("the persisted partitions are on %d node(s) (%v); the shuffle's reducers ran on one node", len(perNode), perNode)
	}
	res, err = groupSums(shuffled).Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkGroups(t, res, counts, totals)
	// Adaptive coalescing (the default): a group-by planned with 24
	// partitions (more than the cluster's 6 CPUs) reads its small shuffled
	// partitions with fewer tasks, sized from the map outputs' indexes, but
	// not fewer than the CPUs; the answer is the same. A Repartition's
	// count is the program's and stays.
	var coalesced, kept dataframe.StageStats
	res, err = groupSums(df).Collect(ctx, dataframe.WithParallelism(24), dataframe.OnStage(func(s dataframe.StageStats) {
		if s.Stage == 1 {
			coalesced = s
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	checkGroups(t, res, counts, totals)
	if !coalesced.Coalesced || coalesced.Partitions >= 24 || coalesced.Partitions < 6 {
		t.Errorf("the stage reading 24 small shuffled partitions ran %d tasks (coalesced: %v), want 6 to 23", coalesced.Partitions, coalesced.Coalesced)
	}
	if _, err := df.Repartition(24, dataframe.Col("key")).Persist(ctx, dataframe.OnStage(func(s dataframe.StageStats) { kept = s })); err != nil {
		t.Fatal(err)
	}
	if kept.Coalesced || kept.Partitions != 24 {
		t.Errorf("Repartition(24) ran %d tasks (coalesced: %v)", kept.Partitions, kept.Coalesced)
	}
	explain, err := shuffled.Explain()
	if err != nil || !strings.Contains(explain, "result partitions on the cluster") {
		t.Errorf("explain of a persisted frame: %v\n%s", err, explain)
	}

	// A batch of another schema is refused, saying so.
	odd := oddBatch.Remote(ctx)
	defer odd.Release()
	_, err = dataframe.FromFutures(ctx, []*shoal.Future[arrow.RecordBatch]{futs[0], odd}).Collect(ctx)
	if err == nil || !strings.Contains(err.Error(), "every batch of a frame has one schema") {
		t.Errorf("a frame over batches of two schemas: %v", err)
	}
}

// A frame's token names the objects it reads (scenario 4): two frames over
// two futures of the same function called with the same arguments are
// different inputs, and a result cache never serves one for the other,
// also after a future was released and another one made.
func TestFromFuturesIdentityAndCache(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), 2*time.Minute)
	cache := dataframe.NewCache(64 << 20)
	query := func(f *shoal.Future[arrow.RecordBatch]) (string, *dataframe.Result) {
		t.Helper()
		df := groupSums(dataframe.FromFutures(ctx, []*shoal.Future[arrow.RecordBatch]{f}))
		tok, err := df.Token()
		if err != nil {
			t.Fatal(err)
		}
		res, err := df.Collect(ctx, dataframe.WithCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		counts, totals := sums(t, ctx, []*shoal.Future[arrow.RecordBatch]{f})
		checkGroups(t, res, counts, totals)
		return tok, res
	}
	a, b := randomBatch.Remote(ctx, 5000), randomBatch.Remote(ctx, 5000)
	tokA, _ := query(a)
	tokB, _ := query(b)
	if tokA == tokB {
		t.Fatalf("two frames over two different futures have one token %s", tokA)
	}
	dfA := groupSums(dataframe.FromFutures(ctx, []*shoal.Future[arrow.RecordBatch]{a}))
	a.Release()
	// A frame over a released future fails, saying so.
	if _, err := dfA.Collect(ctx); err == nil || !strings.Contains(err.Error(), "released") {
		t.Errorf("a query over a released future: %v", err)
	} else {
		t.Logf("a query over a released future: %v", err)
	}
	c2 := randomBatch.Remote(ctx, 5000)
	defer c2.Release()
	defer b.Release()
	tokC, _ := query(c2)
	if tokC == tokA || tokC == tokB {
		t.Errorf("a frame over a new future has the token of an earlier one")
	}
	if hits, misses := cache.Stats(); hits != 0 || misses != 3 {
		t.Errorf("cache: %d hits, %d misses; want 0 and 3 (three different inputs)", hits, misses)
	}
	// The same future again is the same input.
	if tok, _ := query(c2); tok != tokC {
		t.Errorf("one future, two tokens")
	}
	if hits, _ := cache.Stats(); hits != 1 {
		t.Errorf("the same frame again was not served from the cache (%d hits)", hits)
	}
}

// Independent stages run at the same time (the two sides of a join, each
// shuffled), and a stage starts only once the stages it reads are done.
func TestIndependentStagesRunConcurrently(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), 2*time.Minute)
	var futs []*shoal.Future[arrow.RecordBatch]
	for i := range 6 {
		futs = append(futs, seededBatch.Remote(ctx, 100+i, 30_000))
	}
	defer func() {
		for _, f := range futs {
			f.Release()
		}
	}()
	lcounts, _ := sums(t, ctx, futs[:3])
	rcounts, _ := sums(t, ctx, futs[3:])
	left := dataframe.FromFutures(ctx, futs[:3]).GroupBy(dataframe.Col("key")).Agg(dataframe.CountAll().As("n"))
	right := dataframe.FromFutures(ctx, futs[3:]).GroupBy(dataframe.Col("key")).Agg(dataframe.CountAll().As("n")).
		Rename(map[string]string{"key": "rkey", "n": "rn"})
	q := left.Join(right, dataframe.Inner, dataframe.On("key", "rkey")).Sort(dataframe.Asc("key"))
	res, err := q.Collect(ctx, dataframe.WithBroadcastRows(1), dataframe.WithParallelism(4))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for k := range lcounts {
		if rcounts[k] > 0 {
			want++
		}
	}
	if res.NumRows() != want {
		t.Fatalf("%d joined keys, want %d", res.NumRows(), want)
	}
	for i := range res.NumRows() {
		row := res.Row(i)
		if k := row[0].I; row[1].I != lcounts[k] || row[2].I != k || row[3].I != rcounts[k] {
			t.Errorf("row %v: want counts %d and %d", row, lcounts[k], rcounts[k])
		}
	}
	st := res.Stats()
	end := map[int]time.Time{}
	var sources []dataframe.StageStats
	for _, s := range st {
		end[s.Stage] = s.Started.Add(s.Duration)
		if len(s.Inputs) == 0 {
			sources = append(sources, s)
		}
	}
	for _, s := range st {
		for _, in := range s.Inputs {
			if s.Started.Before(end[in]) {
				t.Errorf("stage %d started %v before stage %d, which it reads, ended", s.Stage, end[in].Sub(s.Started), in)
			}
		}
	}
	if len(sources) != 2 {
		t.Fatalf("%d stages read no other stage, want the join's 2 sides: %+v", len(sources), st)
	}
	a, b := sources[0], sources[1]
	if !a.Started.Before(end[b.Stage]) || !b.Started.Before(end[a.Stage]) {
		t.Errorf("the join's sides ran one after the other: stage %d %v+%v, stage %d %v+%v",
			a.Stage, a.Started.Format(time.StampMicro), a.Duration, b.Stage, b.Started.Format(time.StampMicro), b.Duration)
	}
}

// A query's tasks read their futures' record batches in place in the
// node's memory: the futures must outlive the batches. Here the store
// holds a fraction of the frame (partitions are restored, evicted and the
// memory given back, TrimToBudget, while tasks run) and the collector runs
// all the time (GOGC=1 in the executors): a future collected in the middle
// of its task lets go of its object's memory under the batches being read,
// and the sums come out wrong (zeros, or another object's bytes).
func TestFrameOverFuturesLargerThanTheStoreIsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of spilling")
	}
	t.Setenv("GOGC", "1") // (inherited by the nodes, and their executors)
	c := startCluster(t, 1, "--cpus", "4", "--object-store-memory", "16MiB")
	ctx := within(t, connect(t, c), 3*time.Minute)
	var futs []*shoal.Future[arrow.RecordBatch]
	for i := range 32 {
		futs = append(futs, seededBatch.Remote(ctx, 100+i, 250_000)) // 4 MB each, 128 MB in all
	}
	defer func() {
		for _, f := range futs {
			f.Release()
		}
	}()
	counts, totals := sums(t, ctx, futs)
	df := dataframe.FromFutures(ctx, futs)
	for round := range 4 {
		res, err := groupSums(df).Collect(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		checkGroups(t, res, counts, totals)
		if t.Failed() {
			t.Fatalf("round %d: wrong sums reading the frame", round)
		}
		shuffled, err := df.Repartition(8, dataframe.Col("key")).Persist(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		res, err = groupSums(shuffled).Collect(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		checkGroups(t, res, counts, totals)
		if t.Failed() {
			t.Fatalf("round %d: wrong sums reading the frame repartitioned", round)
		}
	}
}
