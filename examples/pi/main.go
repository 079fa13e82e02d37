// Command pi estimates π by Monte Carlo sampling fanned out over a Shoal
// cluster: an embedded local one by default, or the cluster at -address.
//
//	go run ./examples/pi
//	go run ./examples/pi -tasks 2000 -samples 2000000
//	go run ./examples/pi -address 127.0.0.1:7380   # a running `shoal head`
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/shoal-dev/shoal"
)

// sample counts how many of n random points in the unit square fall inside
// the quarter circle. Each task seeds its own generator from its index, so
// the result is reproducible.
var sample = shoal.Func2("pi.sample", func(_ context.Context, seed uint64, n int) (int, error) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	inside := 0
	for range n {
		x, y := r.Float64(), r.Float64()
		if x*x+y*y <= 1 {
			inside++
		}
	}
	return inside, nil
})

func main() {
	address := flag.String("address", "", "head address of a running cluster (default: an embedded local cluster)")
	tasks := flag.Int("tasks", 1000, "tasks to fan out")
	samples := flag.Int("samples", 200_000, "points per task")
	nodes := flag.Int("nodes", 2, "nodes of the embedded cluster")
	flag.Parse()

	opts := []shoal.Option{shoal.WithJobName("pi")}
	if *address != "" {
		opts = append(opts, shoal.WithAddress(*address))
	} else {
		opts = append(opts, shoal.WithLocalNodes(*nodes), shoal.WithCPUsPerNode(float64(runtime.NumCPU())/float64(*nodes)))
	}
	// Init first: in the executor processes of the cluster it never returns.
	ctx, err := shoal.Init(context.Background(), opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer shoal.Shutdown(ctx)

	start := time.Now()
	futs := make([]*shoal.Future[int], *tasks)
	for i := range futs {
		futs[i] = sample.Remote(ctx, uint64(i), *samples)
	}
	counts, err := shoal.GetAll(ctx, futs)
	if err != nil {
		log.Fatal(err)
	}
	elapsed := time.Since(start)
	inside := 0
	for _, c := range counts {
		inside += c
	}
	total := float64(*tasks) * float64(*samples)
	pi := 4 * float64(inside) / total
	fmt.Printf("π ≈ %.6f (error %.2e) from %.0f samples in %d tasks\n", pi, math.Abs(pi-math.Pi), total, *tasks)
	fmt.Printf("%.2fs: %.0f tasks/s, %.1f M samples/s\n", elapsed.Seconds(), float64(*tasks)/elapsed.Seconds(), total/elapsed.Seconds()/1e6)
}
