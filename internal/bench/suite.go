package bench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/shoal-dev/shoal"
)

// The suite mirrors Ray's microbenchmark (python/ray/_private/ray_perf.py)
// so that the two can be compared by name.

// RayPublished are Ray's published figures (release 2.48, a 64-core
// machine): ops/s, and GB/s for single_client_put_gigabytes.
var RayPublished = map[string]float64{
	"single_client_tasks_sync":    981,
	"single_client_tasks_async":   8040,
	"multi_client_tasks_async":    21230,
	"1_1_actor_calls_sync":        2012,
	"1_1_actor_calls_async":       8664,
	"n_n_actor_calls_async":       27376,
	"single_client_put_calls":     5173,
	"single_client_get_calls":     10620,
	"single_client_put_gigabytes": 19.9,
}

type echoer struct{}

var (
	echoClass = shoal.Actor0("shoal.bench.Echo", func(context.Context) (*echoer, error) { return &echoer{}, nil })
	echoCall  = shoal.Method1(echoClass, "Echo", func(_ context.Context, _ *echoer, x int64) (int64, error) { return x, nil })
	// submitter is a client inside the cluster: an actor that submits work
	// and waits for it, as ray_perf's multi-client benchmarks use actors.
	submitterClass = shoal.Actor0("shoal.bench.Submitter", func(context.Context) (*submitter, error) { return &submitter{}, nil })
	submitTasks    = shoal.Method1(submitterClass, "Tasks", func(ctx context.Context, _ *submitter, n int) (int, error) {
		futs := make([]*shoal.Future[int64], n)
		for i := range futs {
			futs[i] = noop.Remote(ctx, int64(i))
		}
		if _, err := shoal.GetAll(ctx, futs); err != nil {
			return 0, err
		}
		return n, nil
	})
	submitCalls = shoal.Method2(submitterClass, "Calls", func(ctx context.Context, _ *submitter, target *shoal.ActorHandle[echoer], n int) (int, error) {
		futs := make([]*shoal.Future[int64], n)
		for i := range futs {
			futs[i] = echoCall.Remote(ctx, target, int64(i))
		}
		if _, err := shoal.GetAll(ctx, futs); err != nil {
			return 0, err
		}
		return n, nil
	})
)

type submitter struct{}

// SuiteConfig sizes the suite.
type SuiteConfig struct {
	Sync    int      // calls for the synchronous metrics
	Async   int      // calls for the asynchronous metrics
	Clients int      // clients (actors) for the multi-client metrics
	PutSize int64    // bytes per Put for single_client_put_gigabytes
	Puts    int      // Puts of PutSize
	Rounds  int      // rounds per metric; the median is reported
	Only    []string // metrics to run (all when empty)
}

// Suite runs every metric on the cluster ctx carries and returns metric
// name -> value. Each metric runs cfg.Rounds rounds and reports their
// median; before each round the cluster settles (quiet), so that a round
// does not pay for the garbage and leases of the one before.
func Suite(ctx context.Context, cfg SuiteConfig, progress func(string)) (map[string]float64, error) {
	out := map[string]float64{}
	type metric struct {
		name string
		run  func() (float64, error)
	}
	if _, err := noop.Remote(ctx, int64(0)).Get(ctx); err != nil {
		return nil, err
	}
	if _, err := roundAsync(ctx, 2000); err != nil { // learn the no-op's run time
		return nil, err
	}
	target, err := echoClass.New(ctx, nil, shoal.WithResources(shoal.Resources{CPU: 0.1}))
	if err != nil {
		return nil, err
	}
	defer target.Kill(ctx)
	if err := target.Ready(ctx); err != nil {
		return nil, err
	}
	clients := make([]*shoal.ActorHandle[submitter], cfg.Clients)
	targets := make([]*shoal.ActorHandle[echoer], cfg.Clients)
	// Clients first, then targets: spread placement alternates nodes, so
	// creating them interleaved would put every client on one node.
	for i := range clients {
		if clients[i], err = submitterClass.New(ctx, nil, shoal.WithResources(shoal.Resources{CPU: 0.1}), shoal.WithSpread()); err != nil {
			return nil, err
		}
		defer clients[i].Kill(ctx)
	}
	for i := range targets {
		if targets[i], err = echoClass.New(ctx, nil, shoal.WithResources(shoal.Resources{CPU: 0.1}), shoal.WithSpread()); err != nil {
			return nil, err
		}
		defer targets[i].Kill(ctx)
	}
	for i := range clients {
		if err := clients[i].Ready(ctx); err != nil {
			return nil, err
		}
		if err := targets[i].Ready(ctx); err != nil {
			return nil, err
		}
	}
	base, err := quiet(ctx, 0)
	if err != nil {
		return nil, err
	}
	baseFree := freeCPU(base)
	rate := func(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
	metrics := []metric{
		{"single_client_tasks_sync", func() (float64, error) {
			start := time.Now()
			for i := range cfg.Sync {
				if _, err := noop.Remote(ctx, int64(i)).Get(ctx); err != nil {
					return 0, err
				}
			}
			return rate(cfg.Sync, time.Since(start)), nil
		}},
		{"single_client_tasks_async", func() (float64, error) {
			d, err := roundAsync(ctx, cfg.Async)
			return rate(cfg.Async, d), err
		}},
		{"multi_client_tasks_async", func() (float64, error) {
			per := cfg.Async / len(clients)
			start := time.Now()
			futs := make([]*shoal.Future[int], len(clients))
			for i, c := range clients {
				futs[i] = submitTasks.Remote(ctx, c, per)
			}
			if _, err := shoal.GetAll(ctx, futs); err != nil {
				return 0, err
			}
			return rate(per*len(clients), time.Since(start)), nil
		}},
		{"1_1_actor_calls_sync", func() (float64, error) {
			start := time.Now()
			for i := range cfg.Sync {
				if _, err := echoCall.Remote(ctx, target, int64(i)).Get(ctx); err != nil {
					return 0, err
				}
			}
			return rate(cfg.Sync, time.Since(start)), nil
		}},
		{"1_1_actor_calls_async", func() (float64, error) {
			start := time.Now()
			futs := make([]*shoal.Future[int64], cfg.Async)
			for i := range futs {
				futs[i] = echoCall.Remote(ctx, target, int64(i))
			}
			vals, err := shoal.GetAll(ctx, futs)
			if err != nil {
				return 0, err
			}
			for i, v := range vals {
				if v != int64(i) {
					return 0, fmt.Errorf("call %d returned %d", i, v)
				}
			}
			return rate(cfg.Async, time.Since(start)), nil
		}},
		{"n_n_actor_calls_async", func() (float64, error) {
			per := cfg.Async / len(clients)
			start := time.Now()
			futs := make([]*shoal.Future[int], len(clients))
			for i, c := range clients {
				futs[i] = submitCalls.Remote(ctx, c, targets[i], per)
			}
			if _, err := shoal.GetAll(ctx, futs); err != nil {
				return 0, err
			}
			return rate(per*len(clients), time.Since(start)), nil
		}},
		{"single_client_put_calls", func() (float64, error) {
			start := time.Now()
			futs, err := putInts(ctx, cfg.Async)
			if err != nil {
				return 0, err
			}
			d := time.Since(start)
			for _, f := range futs {
				f.Release()
			}
			return rate(cfg.Async, d), nil
		}},
		{"single_client_get_calls", func() (float64, error) {
			futs, err := putInts(ctx, cfg.Async)
			if err != nil {
				return 0, err
			}
			start := time.Now()
			for i, f := range futs {
				v, err := f.Get(ctx)
				if err != nil || v != int64(i) {
					return 0, fmt.Errorf("get %d: %d %v", i, v, err)
				}
			}
			d := time.Since(start)
			for _, f := range futs {
				f.Release()
			}
			return rate(cfg.Async, d), nil
		}},
		{"single_client_put_gigabytes", func() (float64, error) {
			data := make([]byte, cfg.PutSize)
			for i := range data {
				data[i] = byte(i)
			}
			start := time.Now()
			for range cfg.Puts {
				f, err := shoal.Put(ctx, data)
				if err != nil {
					return 0, err
				}
				f.Release()
			}
			return float64(cfg.PutSize) * float64(cfg.Puts) / time.Since(start).Seconds() / 1e9, nil
		}},
		{"memcpy_gigabytes", func() (float64, error) {
			// The reference for single_client_put_gigabytes: this machine's
			// one-thread copy into memory already faulted in.
			src, dst := make([]byte, cfg.PutSize), make([]byte, cfg.PutSize)
			for i := range src {
				src[i] = byte(i)
			}
			copy(dst, src) // fault dst in
			start := time.Now()
			for range cfg.Puts {
				copy(dst, src)
			}
			return float64(cfg.PutSize) * float64(cfg.Puts) / time.Since(start).Seconds() / 1e9, nil
		}},
		{"single_client_wait_1k_refs", func() (float64, error) {
			futs := make([]*shoal.Future[int64], 1000)
			for i := range futs {
				futs[i] = noop.Remote(ctx, int64(i))
			}
			const waits = 200
			start := time.Now()
			for range waits {
				if _, _, err := shoal.Wait(ctx, futs, len(futs), -1); err != nil {
					return 0, err
				}
			}
			d := time.Since(start)
			for _, f := range futs {
				f.Release()
			}
			return rate(waits, d), nil
		}},
	}
	for _, m := range metrics {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, m.name) {
			continue
		}
		// A round first that is not counted, as Ray's timeit warms up for a
		// second: a process started for the suite (each actor has its own)
		// pays for its first heap's page faults once, which on this VM
		// costs more than a round.
		quiet(ctx, baseFree)
		if _, err := m.run(); err != nil {
			return nil, fmt.Errorf("%s (warm-up): %w", m.name, err)
		}
		var vals []float64
		for range max(1, cfg.Rounds) {
			quiet(ctx, baseFree) // every CPU free before the first round free again
			v, err := m.run()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m.name, err)
			}
			vals = append(vals, v)
		}
		out[m.name] = median(vals)
		if progress != nil {
			progress(fmt.Sprintf("%-30s %12.1f", m.name, out[m.name]))
		}
	}
	return out, nil
}

// quiet collects this process's garbage (futures dropped by the warm-up or
// by earlier rounds, whose cleanups release them at the head) and waits,
// for at most settleFor, until the head's object count stops falling and
// at least minFree CPUs are free (leases given back); it returns the
// cluster's status then.
func quiet(ctx context.Context, minFree float64) (*shoal.Status, error) {
	runtime.GC()
	deadline := time.Now().Add(settleFor)
	prev, err := shoal.ClusterStatus(ctx)
	for err == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polled, under the deadline
		var st *shoal.Status
		if st, err = shoal.ClusterStatus(ctx); err == nil && st.Objects >= prev.Objects && freeCPU(st) >= minFree {
			return st, nil
		}
		prev = st
	}
	return prev, err
}

// settleFor bounds quiet's wait.
const settleFor = 2 * time.Second

func freeCPU(st *shoal.Status) float64 {
	free := 0.0
	for _, n := range st.Nodes {
		if n.Alive {
			free += n.Available.CPU
		}
	}
	return free
}

// putInts Puts the numbers 0..n-1 and returns their futures.
func putInts(ctx context.Context, n int) ([]*shoal.Future[int64], error) {
	futs := make([]*shoal.Future[int64], n)
	for i := range futs {
		f, err := shoal.Put(ctx, int64(i))
		if err != nil {
			for _, g := range futs[:i] {
				g.Release()
			}
			return nil, err
		}
		futs[i] = f
	}
	return futs, nil
}
