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
	WarmUp       int     `json:"warm_up_cycles"`
	StartRSSMB   float64 `json:"start_rss_mb"`
	EndRSSMB     float64 `json:"end_rss_mb"`
	GrowthPct    float64 `json:"growth_pct"`
	CyclesPerSec float64 `json:"cycles_per_sec"`
	Objects      int64   `json:"objects_left"`
	// RSSMB is the resident memory after each tenth of the cycles: a leak
	// climbs steadily, a warm-up flattens.
	RSSMB []float64 `json:"rss_mb_each_tenth"`
}

// Memory runs cycles of (task, Put, Get both, release both) in batches and
// measures the resident memory of this process and its children (an
// embedded cluster's head and nodes live here; executors are children). A
// warm-up of a tenth of the cycles (at least four batches) first lets the
// processes' heaps reach their working size; the start is measured after it.
func Memory(ctx context.Context, cycles, batch int) (*MemoryResult, error) {
	if cycles < batch || batch <= 0 {
		return nil, fmt.Errorf("bench memory: %d cycles in batches of %d", cycles, batch)
	}
	run := func(n int) error { return Cycles(ctx, n, batch) }
	warm := max(batch*4, cycles/10)
	if err := run(warm); err != nil {
		return nil, err
	}
	start, err := TreeRSS(os.Getpid())
	if err != nil {
		return nil, err
	}
	res := &MemoryResult{Cycles: cycles, WarmUp: warm, StartRSSMB: float64(start) / (1 << 20)}
	t0 := time.Now()
	for done := 0; done < cycles; {
		n := min(cycles-done, max(batch, cycles/10))
		if err := run(n); err != nil {
			return nil, err
		}
		done += n
		if rss, err := TreeRSS(os.Getpid()); err == nil {
			res.RSSMB = append(res.RSSMB, float64(rss)/(1<<20))
		}
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
	res.EndRSSMB = float64(end) / (1 << 20)
	res.GrowthPct = 100 * (float64(end) - float64(start)) / float64(start)
	res.CyclesPerSec = float64(cycles) / d.Seconds()
	res.Objects = st.Objects
	return res, nil
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
