package dbgen

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// BenchmarkGenerate writes all eight tables as .tbl files. The text pool is
// built before the timer starts (see BenchmarkTextPool for its cost); the
// reference C dbgen takes about 14 s for SF 1 on the project's 2-core
// machine, and the goal is 5 s for SF 1 with the pool included.
func BenchmarkGenerate(b *testing.B) {
	if _, err := sharedEnv(); err != nil {
		b.Fatal(err)
	}
	for _, sf := range []float64{0.1, 1} {
		b.Run(fmt.Sprintf("SF%v", sf), func(b *testing.B) {
			dir := b.TempDir()
			var bytes int64
			for b.Loop() {
				if err := Generate(context.Background(), Options{SF: sf, OutDir: dir}); err != nil {
					b.Fatal(err)
				}
			}
			for _, t := range Tables() {
				n, _ := fileSize(dir, t)
				bytes += n
			}
			b.SetBytes(bytes)
			b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "workers")
		})
	}
}

// BenchmarkTextBlocks generates one table on one goroutine into io.Discard:
// the generator's speed per core.
func BenchmarkTextBlocks(b *testing.B) {
	if _, err := sharedEnv(); err != nil {
		b.Fatal(err)
	}
	for _, table := range []string{Lineitem, Orders, PartSupp, Part, Customer} {
		b.Run(table, func(b *testing.B) {
			var n int64
			for b.Loop() {
				n = 0
				for block, err := range TextBlocks(context.Background(), table, 0.1, 0, 1) {
					if err != nil {
						b.Fatal(err)
					}
					n += int64(len(block))
					_, _ = io.Discard.Write(block)
				}
			}
			b.SetBytes(n)
		})
	}
}

// BenchmarkTextPool builds the 300 MiB comment pool, sequentially and with
// every CPU.
func BenchmarkTextPool(b *testing.B) {
	g, err := compiledGrammar()
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				_, free := buildPoolParallel(g, textPoolSize, workers, defaultPoolSplit)
				free()
			}
			b.SetBytes(textPoolSize)
		})
	}
}
