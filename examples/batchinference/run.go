package batchinference

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/data"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/proctree"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Item is one input: an ID and its features.
type Item struct {
	ID       int64
	Features []float32
}

// Prediction is one output.
type Prediction struct {
	ID    int64 `parquet:"id"`
	Class int32 `parquet:"class"`
}

// Predictor is the actor: it loads the model once and classifies batches.
type Predictor struct {
	model *Model
}

var (
	predictor = shoal.Actor1("batchinference.Predictor", func(_ context.Context, seed int64) (*Predictor, error) {
		return &Predictor{model: NewModel(seed)}, nil
	})
	predict = shoal.Method1(predictor, "Predict", func(_ context.Context, p *Predictor, batch []Item) ([]Prediction, error) {
		out := make([]Prediction, len(batch))
		for i, it := range batch {
			if len(it.Features) != Inputs {
				return nil, fmt.Errorf("item %d has %d features, want %d", it.ID, len(it.Features), Inputs)
			}
			out[i] = Prediction{ID: it.ID, Class: p.model.Predict(it.Features)}
		}
		return out, nil
	})
)

// Config sizes a run.
type Config struct {
	Binary    string // the shoal command (cluster processes and executors)
	Items     int
	BatchSize int
	MaxNodes  int
	Seed      int64
	// KillAfter, if set, kills one autoscaled node that long into the run.
	KillAfter time.Duration
	Output    io.Writer // the cluster's output (nil: discarded)
	// Parquet, if set, is a file the checked predictions are written to.
	Parquet string
	// Progress, if set, is told the number of predictions seen so far,
	// every 1,000 of them.
	Progress func(outputs int)
}

// Result is what `shoal demo batch-inference --json` prints.
type Result struct {
	Items         int        `json:"items"`
	Outputs       int        `json:"outputs"`
	Duplicates    int        `json:"duplicates"`
	Missing       int        `json:"missing"`
	Checked       int        `json:"predictions_checked"`
	Wrong         int        `json:"predictions_wrong"`
	DurationS     float64    `json:"duration_s"`
	ItemsPerSec   float64    `json:"items_per_sec"`
	MaxNodes      int        `json:"max_nodes"`
	NodesKilled   int        `json:"nodes_killed"`
	NodesOverTime [][2]int64 `json:"nodes_over_time"` // [milliseconds since start, live nodes]
	FinalNodes    int        `json:"final_nodes"`
	Events        []string   `json:"events"`
	ParquetRows   int64      `json:"parquet_rows,omitempty"`
}

// Run starts an autoscaling cluster (a head whose local provider starts
// one-CPU nodes, between 1 and MaxNodes), runs the pipeline on it, checks
// every output, and waits for the cluster to shrink back to one node.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Items <= 0 || cfg.BatchSize <= 0 || cfg.MaxNodes < 1 {
		return nil, fmt.Errorf("batch inference: items, batch size and max nodes must be positive: %+v", cfg)
	}
	dir, err := os.MkdirTemp("", "shoal-batch-inference-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	scaling := filepath.Join(dir, "autoscale.json")
	os.WriteFile(scaling, []byte(fmt.Sprintf(`{
		"provider": "local",
		"idle_timeout": "4s",
		"interval": "250ms",
		"drain_deadline": "5s",
		"node_types": [{"name": "cpu1", "resources": {"CPU": 1}, "min": 1, "max": %d}]
	}`, cfg.MaxNodes)), 0o644)
	c, err := clustertest.Start(ctx, clustertest.Options{Binary: cfg.Binary, Dir: dir, Nodes: 0, HeadArgs: []string{"--autoscale", scaling}, Output: cfg.Output})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	dctx, err := shoal.Init(ctx, shoal.WithAddress(c.HeadAddr), shoal.WithTokenFile(c.TokenFile), shoal.WithJobName("batch-inference"))
	if err != nil {
		return nil, err
	}
	defer shoal.Shutdown(dctx)

	res := &Result{Items: cfg.Items}
	var mu sync.Mutex
	var poolEvents []string
	start := time.Now()
	// Watch the cluster's size.
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		last := -1
		for {
			if st, err := shoal.ClusterStatus(dctx); err == nil {
				n := 0
				for _, nd := range st.Nodes {
					if nd.Alive {
						n++
					}
				}
				mu.Lock()
				if n != last {
					res.NodesOverTime = append(res.NodesOverTime, [2]int64{time.Since(start).Milliseconds(), int64(n)})
					last = n
				}
				res.MaxNodes = max(res.MaxNodes, n)
				mu.Unlock()
			}
			select {
			case <-watchCtx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	if cfg.KillAfter > 0 {
		go func() {
			select {
			case <-time.After(cfg.KillAfter):
			case <-watchCtx.Done():
				return
			}
			if killNode(c.Head.Pid(), cfg.Seed) {
				mu.Lock()
				res.NodesKilled++
				mu.Unlock()
			}
		}()
	}

	// The pipeline: generated items, batches classified by an actor pool
	// that grows to a node's worth of actors per node.
	items := data.Generate(cfg.Items, 4*cfg.BatchSize, func(i int) Item { return Item{ID: int64(i), Features: Features(int64(i))} })
	one := shoal.Resources{CPU: 1}
	preds := data.MapBatchesActors(items, predictor, cfg.Seed, predict, data.Options{
		BatchSize: cfg.BatchSize, Resources: &one, MinActors: 1, MaxActors: cfg.MaxNodes, IdleTimeout: 3 * time.Second,
		ActorOptions: []shoal.ActorOption{shoal.WithMaxRestarts(-1), shoal.WithMaxTaskRetries(-1)},
		Events: func(e string) {
			mu.Lock()
			poolEvents = append(poolEvents, fmt.Sprintf("%6.1fs %s", time.Since(start).Seconds(), e))
			mu.Unlock()
		},
	})
	// Every prediction is checked as it streams by: its item exists, and
	// 1% of them are recomputed here.
	seen := make([]uint8, cfg.Items)
	seenCount := 0
	model := NewModel(cfg.Seed)
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 99))
	checked := data.Map(preds, func(p Prediction) (Prediction, error) {
		if p.ID < 0 || p.ID >= int64(cfg.Items) {
			return p, fmt.Errorf("prediction for item %d, which does not exist", p.ID)
		}
		if seenCount++; cfg.Progress != nil && seenCount%1000 == 0 {
			cfg.Progress(seenCount)
		}
		if seen[p.ID] < 255 {
			seen[p.ID]++
		}
		if r.IntN(100) == 0 {
			res.Checked++
			if model.Predict(Features(p.ID)) != p.Class {
				res.Wrong++
			}
		}
		return p, nil
	})
	if cfg.Parquet != "" {
		res.ParquetRows, err = data.WriteParquet(dctx, checked, cfg.Parquet, 0)
	} else {
		err = checked.ForEach(dctx, func([]Prediction) error { return nil })
	}
	if err != nil {
		stopWatch()
		<-watched
		return nil, err
	}
	res.DurationS = time.Since(start).Seconds()
	res.ItemsPerSec = float64(cfg.Items) / res.DurationS
	distinct := 0
	for _, s := range seen {
		switch {
		case s == 0:
			res.Missing++
		case s > 1:
			res.Duplicates++
		}
		if s > 0 {
			distinct++
		}
	}
	res.Outputs = distinct
	// The load is over: the cluster shrinks back to its minimum.
	if err := c.WaitFor(ctx, 2*time.Minute, func(st *pb.StatusReply) bool { return clustertest.AliveNodes(st) <= 1 }, "the cluster to shrink to one node"); err != nil {
		stopWatch()
		<-watched
		return nil, err
	}
	time.Sleep(300 * time.Millisecond) // one more sample of the size
	stopWatch()
	<-watched
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	res.FinalNodes = clustertest.AliveNodes(st)
	for _, e := range st.Events {
		if strings.Contains(e, "autoscaler: launch") || strings.Contains(e, "autoscaler: remove") || strings.Contains(e, "failed") || strings.Contains(e, "died") {
			res.Events = append(res.Events, e)
		}
	}
	res.Events = append(res.Events, poolEvents...)
	return res, nil
}

// killNode SIGKILLs one node process the head's local provider started
// (never the first: the cluster's minimum).
func killNode(headPid int, seed int64) bool {
	var nodes []int
	for _, pid := range proctree.Children(headPid) {
		if args := proctree.Args(pid); len(args) > 1 && args[1] == "node" {
			nodes = append(nodes, pid)
		}
	}
	if len(nodes) < 2 {
		return false
	}
	slices.Sort(nodes)
	victim := nodes[1+int(seed)%(len(nodes)-1)]
	return syscall.Kill(victim, syscall.SIGKILL) == nil
}
