package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/proctree"
)

// ShuffleConfig sizes `shoal bench shuffle`: the shape of Dask's
// bench/dask/b2_shuffle.py (rows of (int64 key uniform in [0, 2^40),
// float64 value) in Parts partitions, generated on the workers and kept
// there before timing; a hash shuffle on the key, persisted and waited).
type ShuffleConfig struct {
	Rows  int64
	Parts int
	// Reducers is the partition count after the shuffle (default Parts).
	Reducers int
	Nodes    int
	CPUs     float64
	Runs     int
	// Warmup runs come first, checked but not timed: the first shuffle of
	// a cluster writes store memory no process touched before, which costs
	// this VM 2-3x the run (page faults), as a first TPC-H run does.
	Warmup int
	// StoreMemory is each node's object store budget in bytes (0: the
	// node's default).
	StoreMemory int64
	Output      io.Writer
}

// ShuffleResult is what `shoal bench shuffle --json` prints.
type ShuffleResult struct {
	Rows        int64     `json:"rows"`
	Parts       int       `json:"parts"`
	Reducers    int       `json:"reducers"`
	Nodes       int       `json:"nodes"`
	CPUsPerNode float64   `json:"cpus_per_node"`
	DataBytes   int64     `json:"data_bytes"`
	GenerateSec float64   `json:"datagen_s"`
	ShuffleSec  float64   `json:"shuffle_s"`
	RowsPerSec  float64   `json:"rows_per_s"`
	RunsSec     []float64 `json:"runs_s"`
	WarmupSec   []float64 `json:"warmup_s,omitempty"`
	StoreMemory int64     `json:"store_memory_bytes,omitempty"`
	// PeakNodeRSS is the largest resident memory of a node (with its
	// executors) while the shuffles ran (their checks included);
	// PeakNodeRSSDatagen while the data was made, before: the generator's
	// own buffers, and the nodes storing what it made.
	PeakNodeRSS        int64 `json:"peak_node_rss_bytes"`
	PeakNodeRSSDatagen int64 `json:"peak_node_rss_datagen_bytes"`
	// The coordinator (this driver process): its peak resident memory and
	// Go heap in use while the shuffles ran.
	PeakDriverRSS  int64   `json:"peak_driver_rss_bytes"`
	PeakDriverHeap int64   `json:"peak_driver_heap_bytes"`
	PeakRSSRatio   float64 `json:"peak_node_rss_over_store_budget,omitempty"`
	ShuffleBytes   int64   `json:"shuffle_bytes"`
	SpilledNodes   int     `json:"-"`
}

// shufflePart makes partition i: rows of (key, value), deterministic in i.
var shufflePart = shoal.Func2("shoal.bench.shuffle_part", func(_ context.Context, i int, rows int64) (arrow.RecordBatch, error) {
	rng := rand.New(rand.NewPCG(uint64(1000+i), 17))
	schema := arrow.NewSchema([]arrow.Field{{Name: "key", Type: arrow.PrimitiveTypes.Int64}, {Name: "value", Type: arrow.PrimitiveTypes.Float64}}, nil)
	keys := make([]int64, rows)
	vals := make([]float64, rows)
	for r := range keys {
		keys[r] = rng.Int64N(1 << 40)
		vals[r] = rng.Float64()
	}
	kb := array.NewInt64Builder(memory.DefaultAllocator)
	defer kb.Release()
	kb.AppendValues(keys, nil)
	vb := array.NewFloat64Builder(memory.DefaultAllocator)
	defer vb.Release()
	vb.AppendValues(vals, nil)
	k, v := kb.NewArray(), vb.NewArray()
	defer k.Release()
	defer v.Release()
	return array.NewRecordBatch(schema, []arrow.Array{k, v}, rows), nil
})

// Shuffle starts a head and cfg.Nodes node processes from binary, makes
// the data on the nodes, and measures a hash repartition of it on the key
// whose result stays on the nodes (Persist), checking every run's rows and
// value sum. It samples the node processes' resident memory (each node
// with its executors) throughout.
func Shuffle(ctx context.Context, binary string, cfg ShuffleConfig) (*ShuffleResult, error) {
	if cfg.Reducers <= 0 {
		cfg.Reducers = cfg.Parts
	}
	if cfg.Rows < 0 || cfg.Parts <= 0 || cfg.Nodes <= 0 || cfg.Runs <= 0 || cfg.Warmup < 0 {
		return nil, fmt.Errorf("shuffle bench: parts, nodes and runs must be positive, warmup and rows not negative (got %d, %d, %d, %d, %d)", cfg.Parts, cfg.Nodes, cfg.Runs, cfg.Warmup, cfg.Rows)
	}
	args := []string{"--cpus", fmt.Sprint(cfg.CPUs)}
	if cfg.StoreMemory > 0 {
		args = append(args, "--object-store-memory", fmt.Sprint(cfg.StoreMemory))
	}
	c, dctx, stop, err := joinCluster(ctx, clustertest.Options{Binary: binary, Nodes: cfg.Nodes, Output: cfg.Output, NodeArgs: args}, "bench-shuffle")
	if err != nil {
		return nil, err
	}
	defer stop()

	res := &ShuffleResult{Rows: cfg.Rows, Parts: cfg.Parts, Reducers: cfg.Reducers, Nodes: cfg.Nodes, CPUsPerNode: cfg.CPUs,
		DataBytes: cfg.Rows * 16, StoreMemory: cfg.StoreMemory}
	// Reading a process's PSS walks its page tables (smaps): every 50 ms on
	// the nodes and their executors it took 15% of this machine's CPU in a
	// profile of the timed shuffle. A run measured against a store budget
	// samples that often; a run timed for throughput every half second.
	every := 500 * time.Millisecond
	if cfg.StoreMemory > 0 {
		every = 50 * time.Millisecond
	}
	stopSampling := sampleRSS(c, every, &res.PeakNodeRSSDatagen, &res.PeakDriverRSS, &res.PeakDriverHeap)
	defer func() { stopSampling() }()

	start := time.Now()
	futs := make([]*shoal.Future[arrow.RecordBatch], cfg.Parts)
	for i := range futs {
		lo, hi := cfg.Rows*int64(i)/int64(cfg.Parts), cfg.Rows*int64(i+1)/int64(cfg.Parts)
		futs[i] = shufflePart.Remote(dctx, i, hi-lo)
	}
	defer func() {
		for _, f := range futs {
			f.Release()
		}
	}()
	if _, _, err := shoal.Wait(dctx, futs, len(futs), -1); err != nil {
		return nil, err
	}
	for i, f := range futs {
		if err := f.Err(); err != nil {
			return nil, fmt.Errorf("making partition %d: %w", i, err)
		}
	}
	res.GenerateSec = time.Since(start).Seconds()
	df := dataframe.FromFutures(dctx, futs)
	want, err := countAndSum(dctx, df)
	if err != nil {
		return nil, err
	}
	if want.rows != cfg.Rows {
		return nil, fmt.Errorf("the generated data has %d rows, want %d", want.rows, cfg.Rows)
	}
	stopSampling()
	stopSampling = sampleRSS(c, every, &res.PeakNodeRSS, &res.PeakDriverRSS, &res.PeakDriverHeap)
	for r := range cfg.Warmup + cfg.Runs {
		var shuffled int64
		start := time.Now()
		out, err := df.Repartition(cfg.Reducers, dataframe.Col("key")).Persist(dctx, dataframe.OnStage(func(s dataframe.StageStats) {
			if s.Stage == 0 {
				shuffled = s.Bytes
			}
			if cfg.Output != nil {
				fmt.Fprintf(cfg.Output, "run %d: stage %d: %d partitions, %d rows, %d bytes, %v, nodes %v\n", r, s.Stage, s.Partitions, s.Rows, s.Bytes, s.Duration, s.Nodes)
			}
		}))
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", r, err)
		}
		d := time.Since(start)
		if r < cfg.Warmup {
			res.WarmupSec = append(res.WarmupSec, d.Seconds())
		} else {
			res.RunsSec = append(res.RunsSec, d.Seconds())
		}
		res.ShuffleBytes = shuffled
		// Correctness, outside the timed region: every row once, the
		// values' sum unchanged.
		got, err := countAndSum(dctx, out)
		if err != nil {
			return nil, fmt.Errorf("run %d: checking the result: %w", r, err)
		}
		if got.rows != want.rows || math.Abs(got.sum-want.sum) > 1e-9*max(1, math.Abs(want.sum)) {
			return nil, fmt.Errorf("run %d: the shuffled data has %d rows summing to %g, the input %d rows summing to %g", r, got.rows, got.sum, want.rows, want.sum)
		}
		out = nil
		runtime.GC() // (the persisted partitions go with their frame)
	}
	res.ShuffleSec = median(res.RunsSec)
	res.RowsPerSec = float64(cfg.Rows) / res.ShuffleSec
	stopSampling()
	if cfg.StoreMemory > 0 {
		res.PeakRSSRatio = float64(res.PeakNodeRSS) / float64(cfg.StoreMemory)
	}
	return res, nil
}

type rowsAndSum struct {
	rows int64
	sum  float64
}

func countAndSum(ctx context.Context, df *dataframe.DataFrame) (rowsAndSum, error) {
	r, err := df.GroupBy().Agg(dataframe.CountAll().As("n"), dataframe.Sum(dataframe.Col("value")).As("s")).Collect(ctx)
	if err != nil {
		return rowsAndSum{}, err
	}
	if r.NumRows() != 1 {
		return rowsAndSum{}, fmt.Errorf("count and sum gave %d rows", r.NumRows())
	}
	row := r.Row(0)
	return rowsAndSum{rows: row[0].I, sum: row[1].F}, nil
}

// sampleRSS records at every tick, until stopped (stop is idempotent), the
// largest resident memory (PSS: shared pages counted once) of a node
// process with its executors, and this process's resident memory and Go
// heap in use.
func sampleRSS(c *clustertest.Cluster, every time.Duration, peak, driverRSS, driverHeap *int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for _, n := range c.Nodes {
				total, err := proctree.TreePSS(n.Pid())
				if err != nil {
					continue
				}
				mu.Lock()
				*peak = max(*peak, total)
				mu.Unlock()
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			rss, _ := proctree.RSS(os.Getpid())
			mu.Lock()
			*driverRSS = max(*driverRSS, rss)
			*driverHeap = max(*driverHeap, int64(ms.HeapInuse))
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}
