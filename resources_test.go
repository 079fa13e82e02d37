package shoal_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/testwait"
)

// Resource accounting: what a blocked task keeps, and work no node can run.

// interval is when a task held its resources, in Unix nanoseconds.
type interval struct{ Start, End int64 }

// blockingHolder runs a nested task and waits for it in Get (so it is
// reported blocked), returning when it held its resources.
var blockingHolder = shoal.Func1("test.blockingHolder", func(ctx context.Context, d time.Duration) (interval, error) {
	start := time.Now().UnixNano()
	if _, err := sleepThen.Remote(ctx, d, 1).Get(ctx); err != nil {
		return interval{}, err
	}
	return interval{start, time.Now().UnixNano()}, nil
})

func requireNoOverlap(t *testing.T, what string, spans []interval) {
	t.Helper()
	slices.SortFunc(spans, func(a, b interval) int { return int(a.Start - b.Start) })
	for i := 1; i < len(spans); i++ {
		if spans[i].Start < spans[i-1].End {
			t.Fatalf("%s: two tasks held it at once (%v overlaps %v)", what, spans[i-1], spans[i])
		}
	}
}

// Issue 13, item 3: a task blocked in Get gives back its CPUs only; its GPU
// and custom resources stay held (a custom resource of 1 is a mutex).
func TestBlockedTaskKeepsGPUAndCustomResources(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "4", "--gpus", "1", "--resources", "mutex=1")
	ctx := within(t, connect(t, c), 2*time.Minute)
	for _, tc := range []struct {
		name string
		res  shoal.Resources
	}{
		{"GPU", shoal.Resources{CPU: 1, GPU: 1}},
		{"custom", shoal.Resources{CPU: 1, Custom: map[string]float64{"mutex": 1}}},
		{"GPU without CPU", shoal.Resources{GPU: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := blockingHolder.With(shoal.WithResources(tc.res))
			futs := []*shoal.Future[interval]{
				f.Remote(ctx, 300*time.Millisecond), f.Remote(ctx, 300*time.Millisecond), f.Remote(ctx, 300*time.Millisecond),
			}
			spans, err := shoal.GetAll(ctx, futs)
			if err != nil {
				t.Fatal(err)
			}
			requireNoOverlap(t, tc.name, spans)
		})
	}
	// CPUs still go back: with every CPU taken by blocked parents, their
	// children run.
	futs := make([]*shoal.Future[int], 8)
	for i := range futs {
		futs[i] = parent.Remote(ctx, 2, 2)
	}
	requireValues(t, ctx, futs, func(int) int { return 7 })
}

// ignoresContext sleeps without looking at its context and returns 7.
var (
	ignoresContext = shoal.Func1("test.ignoresContext", func(_ context.Context, d time.Duration) (int, error) {
		time.Sleep(d)
		return 7, nil
	})
	ignoresContextMethod = shoal.Method1(twiceClass, "Ignore", func(_ context.Context, _ *twiceActor, d time.Duration) (int, error) {
		time.Sleep(d)
		return 7, nil
	})
)

// Issue 13, item 4: Cancel of a running task or call that ignores its
// context ends it with ErrCancelled, on every route.
func TestCancelRunningWorkThatIgnoresItsContext(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), 2*time.Minute)
	h := readyTwice(t, ctx)
	routes := []struct {
		name string
		call func() *shoal.Future[int]
	}{
		{"head task", func() *shoal.Future[int] {
			return ignoresContext.With(shoal.WithSpread()).Remote(ctx, 500*time.Millisecond)
		}},
		{"leased task", func() *shoal.Future[int] { return ignoresContext.Remote(ctx, 500*time.Millisecond) }},
		{"direct actor call", func() *shoal.Future[int] { return ignoresContextMethod.Remote(ctx, h, 500*time.Millisecond) }},
		{"head actor call", func() *shoal.Future[int] {
			d, err := shoal.Put(ctx, 500*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Release()
			return ignoresContextMethod.Remote(ctx, h, d)
		}},
	}
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			for _, wait := range []time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond} {
				f := r.call()
				time.Sleep(wait) // cancelled before or after it started: either way
				f.Cancel()
				if v, err := f.Get(ctx); !errors.Is(err, shoal.ErrCancelled) {
					t.Fatalf("cancelled after %v: got %d, %v; want ErrCancelled", wait, v, err)
				}
			}
			// The actor is still usable, in order.
			if v, err := twiceOf.Remote(ctx, h, 4).Get(ctx); err != nil || v != 8 {
				t.Fatalf("after the cancels: %d %v", v, err)
			}
		})
	}
}

// logRecorder keeps the messages logged through it.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) find(sub string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			return m
		}
	}
	return ""
}

// infeasibleActor is the type of an actor class no node can host.
type infeasibleActor struct{}

var infeasibleCounter = shoal.Actor0("test.InfeasibleCounter", func(context.Context) (*infeasibleActor, error) { return &infeasibleActor{}, nil })

// Issue 13, item 5: work no node can run is never silent. On a cluster
// nodes can join, it waits with a warning to its owner and a line in
// status, and runs once a node that fits joins.
func TestInfeasibleWorkWaitsVisibly(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "2")
	logs := &logRecorder{}
	ctx := within(t, connect(t, c, shoal.WithLogger(slog.New(logs))), 2*time.Minute)
	task := square.With(shoal.WithResources(shoal.Resources{CPU: 1, Custom: map[string]float64{"tpu": 1}})).Remote(ctx, 5)
	big := square.With(shoal.WithResources(shoal.Resources{CPU: 64})).Remote(ctx, 6)
	actor, err := infeasibleCounter.New(ctx, nil, shoal.WithResources(shoal.Resources{CPU: 1, Custom: map[string]float64{"tpu": 1}}))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Within(t, 20*time.Second, "warnings in the driver's log", func() bool { return logs.find("tpu 1") != "" && logs.find("CPU 64") != "" })
	if m := logs.find("CPU 64"); !strings.Contains(m, "WARN") || !strings.Contains(m, "no live node has that much") {
		t.Fatalf("warning for 64 CPUs: %q (all: %q)", m, logs.msgs)
	}
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var counts []int64
	for _, w := range st.Waiting {
		if !w.Infeasible {
			t.Fatalf("waiting work not marked infeasible: %+v", w)
		}
		counts = append(counts, w.Count)
	}
	slices.Sort(counts)
	if !slices.Equal(counts, []int64{1, 2}) {
		t.Fatalf("status lists %+v, want a shape with the task and the actor and one with the 64-CPU task", st.Waiting)
	}
	if !slices.ContainsFunc(st.Events, func(e string) bool { return strings.Contains(e, "work waits") }) {
		t.Fatalf("no event for the waiting work: %q", st.Events)
	}
	// A node that fits joins: the task and the actor run there.
	if _, err := c.AddNode(ctx, "--cpus", "1", "--resources", "tpu=1"); err != nil {
		t.Fatal(err)
	}
	if v, err := task.Get(ctx); err != nil || v != 25 {
		t.Fatalf("task after the node joined: %d %v", v, err)
	}
	if err := actor.Ready(ctx); err != nil {
		t.Fatalf("actor after the node joined: %v", err)
	}
	big.Cancel()
	if _, err := big.Get(ctx); !errors.Is(err, shoal.ErrCancelled) {
		t.Fatalf("cancelled waiting task: %v", err)
	}
}

// On an embedded cluster no node can join: such work fails at once with
// ErrInfeasible, saying what it needs and what the nodes have.
func TestInfeasibleWorkFailsOnEmbeddedCluster(t *testing.T) {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(1), shoal.WithCPUsPerNode(2), shoal.WithLogger(slog.New(&logRecorder{})))
	if err != nil {
		t.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	ctx = within(t, ctx, time.Minute)
	_, err = square.With(shoal.WithResources(shoal.Resources{CPU: 3})).Remote(ctx, 2).Get(ctx)
	if !errors.Is(err, shoal.ErrInfeasible) || !strings.Contains(err.Error(), "CPU 3") || !strings.Contains(err.Error(), "CPU 2") {
		t.Fatalf("3 CPUs on a 2-CPU embedded cluster: %v", err)
	}
	h, err := infeasibleCounter.New(ctx, nil, shoal.WithResources(shoal.Resources{GPU: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Ready(ctx); !errors.Is(err, shoal.ErrInfeasible) || !strings.Contains(err.Error(), "GPU 1") {
		t.Fatalf("GPU actor on a CPU-only embedded cluster: %v", err)
	}
	if v, err := square.Remote(ctx, 3).Get(ctx); err != nil || v != 9 {
		t.Fatalf("a feasible task after: %d %v", v, err)
	}
}
