package shoal_test

import (
	"context"
	"syscall"
	"testing"

	"github.com/shoal-dev/shoal"
)

// BenchmarkSubmitAndGet submits no-op tasks in batches of 10,000 to an
// embedded cluster (2 nodes × 2 CPUs) and gets them: allocations and
// this process's CPU time (driver, head and nodes; not the executors) per
// task, which vary far less between runs than throughput does.
func BenchmarkSubmitAndGet(b *testing.B) {
	ctx := benchCluster(b)
	for range 3 {
		asyncRound(ctx, b, 10_000) // (warm: leases, run times learned)
	}
	measureCPU(b, func() {
		for done := 0; done < b.N; done += 10_000 {
			asyncRound(ctx, b, min(10_000, b.N-done))
		}
	})
}

// asyncRound submits n no-op tasks, gets them all and releases them.
func asyncRound(ctx context.Context, b *testing.B, n int) {
	futs := make([]*shoal.Future[int], n)
	for i := range futs {
		futs[i] = square.Remote(ctx, i)
	}
	if _, err := shoal.GetAll(ctx, futs); err != nil {
		b.Fatal(err)
	}
	for _, f := range futs {
		f.Release()
	}
}

// benchCluster starts the benchmarks' embedded cluster (2 nodes × 2
// CPUs), shut down when b ends.
func benchCluster(b *testing.B) context.Context {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(2), shoal.WithCPUsPerNode(2))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { shoal.Shutdown(ctx) })
	return ctx
}

// measureCPU times run (b.N operations) and reports, beside allocations,
// this process's CPU time per operation (cpu-ns/op).
func measureCPU(b *testing.B, run func()) {
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ReportAllocs()
	b.ResetTimer()
	run()
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := (after.Utime.Nano() + after.Stime.Nano()) - (before.Utime.Nano() + before.Stime.Nano())
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkSyncRoundTrip submits one no-op task and gets it, b.N times
// (`shoal bench tasks`' sync_task_p50_us), after rounds of 10,000 async
// tasks (as that benchmark runs them first): allocations and this
// process's CPU time per round trip.
func BenchmarkSyncRoundTrip(b *testing.B) {
	ctx := benchCluster(b)
	for range 5 {
		asyncRound(ctx, b, 10_000)
	}
	measureCPU(b, func() {
		for i := range b.N {
			if v, err := square.Remote(ctx, i%1000).Get(ctx); err != nil || v != (i%1000)*(i%1000) {
				b.Fatalf("square(%d) = %d, %v", i%1000, v, err)
			}
		}
	})
}

// readyAwaitable is a future that is ready: Wait's own cost.
type readyAwaitable struct{ c chan struct{} }

func (r readyAwaitable) Done() <-chan struct{} { return r.c }

// BenchmarkWaitReady waits for 1,000 futures that are all ready (the
// rounds of `shoal bench`'s single_client_wait_1k_refs after the first).
func BenchmarkWaitReady(b *testing.B) {
	c := make(chan struct{})
	close(c)
	futs := make([]readyAwaitable, 1000)
	for i := range futs {
		futs[i] = readyAwaitable{c}
	}
	b.ReportAllocs()
	for range b.N {
		if r, _, err := shoal.Wait(context.Background(), futs, len(futs), -1); err != nil || len(r) != len(futs) {
			b.Fatalf("%d of %d ready, %v", len(r), len(futs), err)
		}
	}
}

// BenchmarkGetPut gets values this process put, each once (`shoal bench`'s
// single_client_get_calls): a Get's own cost where the value is at hand.
func BenchmarkGetPut(b *testing.B) {
	ctx := benchCluster(b)
	futs := make([]*shoal.Future[int64], 10_000)
	for i := range futs {
		f, err := shoal.Put(ctx, int64(i))
		if err != nil {
			b.Fatal(err)
		}
		futs[i] = f
	}
	b.Cleanup(func() {
		for _, f := range futs {
			f.Release()
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%len(futs) == 0 && i > 0 {
			b.StopTimer()
			for j := range futs {
				futs[j].Release()
				f, err := shoal.Put(ctx, int64(j))
				if err != nil {
					b.Fatal(err)
				}
				futs[j] = f
			}
			b.StartTimer()
		}
		if v, err := futs[i%len(futs)].Get(ctx); err != nil || v != int64(i%len(futs)) {
			b.Fatalf("get %d: %d, %v", i, v, err)
		}
	}
}
