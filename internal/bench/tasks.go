package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-dev/shoal"
)

var (
	noop  = shoal.Func1("shoal.bench.noop", func(_ context.Context, x int64) (int64, error) { return x, nil })
	stamp = shoal.Func1("shoal.bench.stamp", func(_ context.Context, _ int64) (int64, error) { return time.Now().UnixNano(), nil })
)

// TasksConfig sizes the tasks benchmark.
type TasksConfig struct {
	Tasks  int // no-op tasks per async round
	Rounds int // async rounds; the median is reported
	Sync   int // sequential submit-then-get calls
	Chain  int // length of the dependent chain
}

// TasksResult is what `shoal bench tasks --json` prints.
type TasksResult struct {
	TasksPerSec    float64   `json:"tasks_per_sec"`
	TasksPerSecAll []float64 `json:"tasks_per_sec_rounds"`
	SyncP50us      float64   `json:"sync_task_p50_us"`
	SyncP90us      float64   `json:"sync_task_p90_us"`
	ChainHopP50us  float64   `json:"chain_hop_p50_us"`
	ChainHopP90us  float64   `json:"chain_hop_p90_us"`
	Tasks          int       `json:"tasks"`
	// Scrapes counts the rounds of reading the dashboard and /metrics
	// during the run (shoal bench tasks --scrape), ScrapeP50ms their median.
	Scrapes     int     `json:"scrapes,omitempty"`
	ScrapeP50ms float64 `json:"scrape_p50_ms,omitempty"`
}

// Tasks measures scheduling throughput and latency on the cluster ctx
// carries: async fan-out of no-op tasks, synchronous round trips, and a
// chain of tasks each depending on the previous one's result.
func Tasks(ctx context.Context, cfg TasksConfig) (*TasksResult, error) {
	if cfg.Tasks <= 0 || cfg.Rounds <= 0 || cfg.Sync <= 0 || cfg.Chain <= 0 {
		return nil, fmt.Errorf("bench tasks: every count must be positive: %+v", cfg)
	}
	res := &TasksResult{Tasks: cfg.Tasks}
	// Warm up: start the executors and learn the function's run time.
	if _, err := noop.Remote(ctx, 0).Get(ctx); err != nil {
		return nil, err
	}
	if _, err := roundAsync(ctx, 1000); err != nil {
		return nil, err
	}
	for range cfg.Rounds {
		d, err := roundAsync(ctx, cfg.Tasks)
		if err != nil {
			return nil, err
		}
		res.TasksPerSecAll = append(res.TasksPerSecAll, float64(cfg.Tasks)/d.Seconds())
	}
	res.TasksPerSec = median(res.TasksPerSecAll)

	lat := make([]float64, cfg.Sync)
	for i := range lat {
		start := time.Now()
		if _, err := noop.Remote(ctx, int64(i)).Get(ctx); err != nil {
			return nil, err
		}
		lat[i] = float64(time.Since(start).Nanoseconds()) / 1e3
	}
	res.SyncP50us, res.SyncP90us = percentile(lat, 50), percentile(lat, 90)

	// Each link of the chain returns the time it finished; a hop is the time
	// between consecutive finishes, so it covers noticing the previous
	// result, dispatching the next task and running it.
	futs := make([]*shoal.Future[int64], cfg.Chain+1)
	futs[0] = stamp.Remote(ctx, int64(0))
	for i := 1; i <= cfg.Chain; i++ {
		futs[i] = stamp.Remote(ctx, futs[i-1])
	}
	stamps, err := shoal.GetAll(ctx, futs)
	if err != nil {
		return nil, err
	}
	hops := make([]float64, cfg.Chain)
	for i := range hops {
		hops[i] = float64(stamps[i+1]-stamps[i]) / 1e3
	}
	res.ChainHopP50us, res.ChainHopP90us = percentile(hops, 50), percentile(hops, 90)
	for _, f := range futs {
		f.Release()
	}
	return res, nil
}

func roundAsync(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	futs := make([]*shoal.Future[int64], n)
	for i := range futs {
		futs[i] = noop.Remote(ctx, int64(i))
	}
	vals, err := shoal.GetAll(ctx, futs)
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	for i, v := range vals {
		if v != int64(i) {
			return 0, fmt.Errorf("task %d returned %d", i, v)
		}
		futs[i].Release()
	}
	return d, nil
}

func median(xs []float64) float64 { return percentile(xs, 50) }

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
