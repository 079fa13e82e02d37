package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/clustertest"
)

var sleepSquare = shoal.Func2("shoal.bench.sleepSquare", func(_ context.Context, i int64, ms int) (int64, error) {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return i * i, nil
})

// FailureResult is what `shoal bench failure --json` prints; it mirrors
// Dask's b3_failure.py so the two can be read side by side.
type FailureResult struct {
	Tasks         int     `json:"tasks"`
	TaskMS        int     `json:"task_ms"`
	AllCorrect    bool    `json:"failure_all_correct"`
	BaselineS     float64 `json:"baseline_total_s"`
	KillTotalS    float64 `json:"kill_total_s"`
	AfterKillS    float64 `json:"kill_after_kill_s"`
	OverheadPct   float64 `json:"kill_overhead_pct"`
	RetriedTasks  int64   `json:"kill_retried_tasks"`
	IdealS        float64 `json:"ideal_s"`
	DetectionNote string  `json:"note"`
}

// Failure runs the shape of Dask's b3: two single-CPU node processes,
// tasks sleeping ms each (results i*i, all checked); a baseline run, then a
// run in which, once half the results are in, one node process is killed
// with SIGKILL and a replacement node starts (as Dask's nanny restarts its
// worker).
func Failure(ctx context.Context, binary string, tasks, ms int, out io.Writer) (*FailureResult, error) {
	c, dctx, stop, err := joinCluster(ctx, clustertest.Options{Binary: binary, Nodes: 2, NodeArgs: []string{"--cpus", "1"}, Output: out}, "bench-failure")
	if err != nil {
		return nil, err
	}
	defer stop()
	res := &FailureResult{Tasks: tasks, TaskMS: ms, AllCorrect: true, IdealS: float64(tasks*ms) / 1000 / 2,
		DetectionNote: "a SIGKILLed node's connection breaks at once; a silent node is declared dead after 2s"}
	run := func(kill bool) (total, after time.Duration, err error) {
		start := time.Now()
		futs := make([]*shoal.Future[int64], tasks)
		for i := range futs {
			futs[i] = sleepSquare.Remote(dctx, int64(i), ms)
		}
		var killedAt time.Time
		if kill {
			if _, _, err := shoal.Wait(dctx, futs, tasks/2, -1); err != nil {
				return 0, 0, err
			}
			victim := c.Nodes[len(c.Nodes)-1]
			victim.Kill()
			killedAt = time.Now()
			if _, err := c.AddNode(ctx, "--cpus", "1"); err != nil {
				return 0, 0, fmt.Errorf("starting the replacement node: %w", err)
			}
		}
		vals, err := shoal.GetAll(dctx, futs)
		if err != nil {
			return 0, 0, err
		}
		for i, v := range vals {
			if v != int64(i)*int64(i) {
				res.AllCorrect = false
			}
		}
		total = time.Since(start)
		if kill {
			after = time.Since(killedAt)
		}
		for _, f := range futs {
			f.Release()
		}
		return total, after, nil
	}
	// Warm up the executors and the scheduler's estimate of the task.
	if _, _, err := run(false); err != nil {
		return nil, err
	}
	base, _, err := run(false)
	if err != nil {
		return nil, err
	}
	before, err := shoal.ClusterStatus(dctx)
	if err != nil {
		return nil, err
	}
	total, after, err := run(true)
	if err != nil {
		return nil, err
	}
	st, err := shoal.ClusterStatus(dctx)
	if err != nil {
		return nil, err
	}
	res.BaselineS, res.KillTotalS, res.AfterKillS = base.Seconds(), total.Seconds(), after.Seconds()
	res.OverheadPct = 100 * (total.Seconds() - base.Seconds()) / base.Seconds()
	res.RetriedTasks = st.TasksByState["retried"] - before.TasksByState["retried"]
	return res, nil
}
