package data_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/data"
	"github.com/shoal-dev/shoal/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Run(m) }

var (
	square = shoal.Func1("data_test.square", func(_ context.Context, xs []int) ([]int, error) {
		out := make([]int, len(xs))
		for i, x := range xs {
			if x < 0 {
				return nil, fmt.Errorf("negative input %d", x)
			}
			out[i] = x * x
		}
		return out, nil
	})

	// scaler is a stateful worker: its settings are "loaded" once.
	scaler = shoal.Actor1("data_test.Scaler", func(_ context.Context, cfg ScalerConfig) (*ScalerConfig, error) { return &cfg, nil })
	scale  = shoal.Method1(scaler, "Scale", func(_ context.Context, cfg *ScalerConfig, xs []int) ([]int, error) {
		time.Sleep(cfg.Delay)
		out := make([]int, len(xs))
		for i, x := range xs {
			out[i] = x * cfg.Factor
		}
		return out, nil
	})
)

// ScalerConfig is the scaler actor's constructor argument.
type ScalerConfig struct {
	Factor int
	Delay  time.Duration
}

// cluster starts an embedded cluster for one test.
func cluster(t *testing.T, nodes int, cpus float64) context.Context {
	t.Helper()
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(nodes), shoal.WithCPUsPerNode(cpus))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shoal.Shutdown(ctx) })
	return ctx
}

func TestMapBatchesTasks(t *testing.T) {
	ctx := cluster(t, 2, 2)
	const n = 10_007 // not a multiple of the batch size
	ds := data.Generate(n, 333, func(i int) int { return i })
	out, err := data.MapBatches(ds, square, data.Options{BatchSize: 100}).Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != n {
		t.Fatalf("got %d outputs, want %d", len(out), n)
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("output %d = %d, want %d (order or value wrong)", i, v, i*i)
		}
	}

	// A failing batch fails the stream with the task's error.
	bad := data.FromSlice([]int{1, 2, 3, -4, 5}, 2)
	_, err = data.MapBatches(bad, square, data.Options{BatchSize: 2}).Collect(ctx)
	if err == nil || !strings.Contains(err.Error(), "negative input -4") {
		t.Fatalf("error = %v, want the task's error about -4", err)
	}
}

// TestMapBatchesBackpressure: the source is read only as far as the
// consumer and the in-flight bound allow.
func TestMapBatchesBackpressure(t *testing.T) {
	ctx := cluster(t, 1, 2)
	var produced atomic.Int64
	const batch, inFlight = 10, 3
	ds := data.Generate(10_000, batch, func(i int) int { produced.Add(1); return i })
	consumed := 0
	worst := int64(0)
	err := data.MapBatches(ds, square, data.Options{BatchSize: batch, MaxInFlight: inFlight}).ForEach(ctx, func(b []int) error {
		consumed += len(b)
		worst = max(worst, produced.Load()-int64(consumed))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if consumed != 10_000 {
		t.Fatalf("consumed %d items, want 10000", consumed)
	}
	// In flight: at most inFlight batches, plus the one being submitted and
	// the block being cut.
	if limit := int64((inFlight + 2) * batch); worst > limit {
		t.Fatalf("the source ran %d items ahead of the consumer, bound is %d: no backpressure", worst, limit)
	}
}

// TestMapBatchesActorPoolScales: the pool starts at its minimum, grows to
// its maximum while its actors are saturated, shrinks back when they idle,
// and every output comes back once, in order.
func TestMapBatchesActorPoolScales(t *testing.T) {
	ctx := cluster(t, 2, 2)
	var mu sync.Mutex
	var events []string
	sizes := []int{}
	record := func(e string) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
		var n int
		if _, err := fmt.Sscanf(e[strings.Index(e, ": ")+2:], "%d actors", &n); err == nil {
			sizes = append(sizes, n)
		}
	}
	opts := data.Options{BatchSize: 50, MinActors: 1, MaxActors: 3, ScaleInterval: 50 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, Events: record}

	// Phase one: 40 slow batches saturate the pool; phase two: the source
	// stalls (nothing to do: the actors idle); phase three: the rest.
	const n = 4000
	ds := data.Generate(n, 50, func(i int) int {
		if i == 2000 {
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				mu.Lock()
				shrunk := len(sizes) > 0 && sizes[len(sizes)-1] < 3 && slicesMax(sizes) == 3
				mu.Unlock()
				if shrunk {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		return i
	})
	out, err := data.MapBatchesActors(ds, scaler, ScalerConfig{Factor: 3, Delay: 40 * time.Millisecond}, scale, opts).Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != n {
		t.Fatalf("got %d outputs, want %d", len(out), n)
	}
	for i, v := range out {
		if v != 3*i {
			t.Fatalf("output %d = %d, want %d", i, v, 3*i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if slicesMax(sizes) != 3 {
		t.Fatalf("the pool never reached its maximum of 3 actors; events:\n%s", strings.Join(events, "\n"))
	}
	shrank := false
	for i := 1; i < len(sizes); i++ {
		if sizes[i] < sizes[i-1] {
			shrank = true
		}
	}
	if !shrank {
		t.Fatalf("the pool never shrank while its actors idled; events:\n%s", strings.Join(events, "\n"))
	}
	if last := events[len(events)-1]; !strings.Contains(last, "done") {
		t.Fatalf("the pool was not released at the end; last event %q", last)
	}
}

func slicesMax(s []int) int {
	m := 0
	for _, v := range s {
		m = max(m, v)
	}
	return m
}
