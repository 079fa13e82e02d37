package shoal_test

import (
	"context"
	"testing"

	"github.com/shoal-dev/shoal"
)

var addOne = shoal.Func1("test.bench_add_one", func(_ context.Context, x int) (int, error) { return x + 1, nil })

// BenchmarkChain runs chains of tasks, each taking the previous one's
// result (a future argument: through the head), 1,000 hops at a time:
// allocations and this process's CPU time per hop.
func BenchmarkChain(b *testing.B) { benchmarkChain(b, 0) }

// BenchmarkChainAfterAsync is BenchmarkChain after 5 rounds of 50,000
// async tasks, as `shoal bench tasks` runs its chain: the maps on the
// task path grew to hold them.
func BenchmarkChainAfterAsync(b *testing.B) { benchmarkChain(b, 5) }

func benchmarkChain(b *testing.B, asyncRounds int) {
	ctx := benchCluster(b)
	for range asyncRounds {
		asyncRound(ctx, b, 50_000)
	}
	chain := func(n int) {
		f := addOne.Remote(ctx, 0)
		futs := []*shoal.Future[int]{f}
		for range n - 1 {
			f = addOne.Remote(ctx, f)
			futs = append(futs, f)
		}
		if v, err := f.Get(ctx); err != nil || v != n {
			b.Fatalf("chain of %d: %d, %v", n, v, err)
		}
		for _, f := range futs {
			f.Release()
		}
	}
	chain(1000)
	measureCPU(b, func() {
		for done := 0; done < b.N; done += 1000 {
			chain(min(1000, b.N-done))
		}
	})
}
