package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/proctree"
)

// MemoryResult is what `shoal bench memory --json` prints: resident memory
// of the cluster's processes after a warm-up and after all the cycles.
type MemoryResult struct {
	Cycles       int     `json:"cycles"`
	StartRSSMB   float64 `json:"start_rss_mb"`
	EndRSSMB     float64 `json:"end_rss_mb"`
	GrowthPct    float64 `json:"growth_pct"`
	CyclesPerSec float64 `json:"cycles_per_sec"`
	Objects      int64   `json:"objects_left"`
}

// Memory runs cycles of (task, Put, Get both, release both) in batches and
// measures the resident memory of this process and its children (an
// embedded cluster's head and nodes live here; executors are children). A
// first batch warms the cluster up; the start is measured after it.
func Memory(ctx context.Context, cycles, batch int) (*MemoryResult, error) {
	if cycles < batch || batch <= 0 {
		return nil, fmt.Errorf("bench memory: %d cycles in batches of %d", cycles, batch)
	}
	run := func(n int) error { return Cycles(ctx, n, batch) }
	if err := run(batch * 4); err != nil {
		return nil, err
	}
	start, err := TreeRSS(os.Getpid())
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := run(cycles); err != nil {
		return nil, err
	}
	d := time.Since(t0)
	// Let releases reach the head before looking.
	var st *shoal.Status
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, err = shoal.ClusterStatus(ctx); err != nil {
			return nil, err
		}
		if st.Objects == 0 {
			break
		}
	}
	end, err := TreeRSS(os.Getpid())
	if err != nil {
		return nil, err
	}
	return &MemoryResult{Cycles: cycles, StartRSSMB: float64(start) / (1 << 20), EndRSSMB: float64(end) / (1 << 20),
		GrowthPct: 100 * (float64(end) - float64(start)) / float64(start), CyclesPerSec: float64(cycles) / d.Seconds(), Objects: st.Objects}, nil
}

// TreeRSS sums the resident memory of process root and its children.
func TreeRSS(root int) (int64, error) { return proctree.TreeRSS(root) }

// Cycles runs n cycles of (no-op task, small Put, Get both, release both),
// batch at a time.
func Cycles(ctx context.Context, n, batch int) error {
	for done := 0; done < n; done += batch {
		k := min(batch, n-done)
		tasks := make([]*shoal.Future[int64], k)
		puts := make([]*shoal.Future[int64], k)
		for i := range k {
			tasks[i] = noop.Remote(ctx, int64(i))
			p, err := shoal.Put(ctx, int64(i))
			if err != nil {
				return err
			}
			puts[i] = p
		}
		for i := range k {
			if v, err := tasks[i].Get(ctx); err != nil || v != int64(i) {
				return fmt.Errorf("task %d: %d %v", i, v, err)
			}
			if v, err := puts[i].Get(ctx); err != nil || v != int64(i) {
				return fmt.Errorf("put %d: %d %v", i, v, err)
			}
			tasks[i].Release()
			puts[i].Release()
		}
	}
	return nil
}
