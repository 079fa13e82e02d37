// Command paramserver fits a linear model by synchronous data-parallel
// gradient descent, the parameter-server pattern of Ray's examples: an
// actor holds the model's weights; every round, worker tasks (one per data
// shard) read the weights from it, compute their shard's gradient, and the
// driver has the actor apply their mean.
//
//	go run ./examples/paramserver
//	go run ./examples/paramserver -shards 8 -rounds 200
//	go run ./examples/paramserver -address 127.0.0.1:7380   # a running `shoal head`
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"runtime"

	"github.com/shoal-dev/shoal"
)

// trueWeights are what the fit should find: y = 3 x0 - 2 x1 + 0.5 x2.
var trueWeights = []float64{3, -2, 0.5}

// shard makes shard i's rows: the same rows every time it is asked.
func shard(i, rows int) (xs [][]float64, ys []float64) {
	r := rand.New(rand.NewPCG(uint64(i), 0xfeed))
	for range rows {
		x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		y := 0.0
		for j, w := range trueWeights {
			y += w * x[j]
		}
		xs, ys = append(xs, x), append(ys, y+0.01*r.NormFloat64())
	}
	return xs, ys
}

// server is the actor: the model, and how many updates it applied.
type server struct {
	weights []float64
	updates int
}

var (
	serverClass = shoal.Actor0("paramserver.server", func(context.Context) (*server, error) {
		return &server{weights: make([]float64, len(trueWeights))}, nil
	})
	getWeights = shoal.Method0(serverClass, "weights", func(_ context.Context, s *server) ([]float64, error) {
		return s.weights, nil
	})
	// apply steps the weights against the mean of the gradients.
	apply = shoal.Method2(serverClass, "apply", func(_ context.Context, s *server, grads [][]float64, rate float64) ([]float64, error) {
		for _, g := range grads {
			for j := range s.weights {
				s.weights[j] -= rate * g[j] / float64(len(grads))
			}
		}
		s.updates++
		return s.weights, nil
	})
)

// gradient is a worker's task: the mean squared error's gradient on its
// shard at the server's current weights, and the shard's loss.
var gradient = shoal.Func3("paramserver.gradient", func(ctx context.Context, ps *shoal.ActorHandle[server], i, rows int) (Gradient, error) {
	w, err := getWeights.Remote(ctx, ps).Get(ctx)
	if err != nil {
		return Gradient{}, err
	}
	xs, ys := shard(i, rows)
	g := Gradient{Grad: make([]float64, len(w))}
	for k, x := range xs {
		pred := 0.0
		for j := range w {
			pred += w[j] * x[j]
		}
		diff := pred - ys[k]
		g.Loss += diff * diff / float64(len(xs))
		for j := range w {
			g.Grad[j] += 2 * diff * x[j] / float64(len(xs))
		}
	}
	return g, nil
})

// Gradient is what a worker sends back.
type Gradient struct {
	Grad []float64
	Loss float64
}

func main() {
	address := flag.String("address", "", "head address of a running cluster (default: an embedded local cluster)")
	shards := flag.Int("shards", 4, "data shards (worker tasks per round)")
	rows := flag.Int("rows", 10_000, "rows per shard")
	rounds := flag.Int("rounds", 50, "rounds of gradient descent")
	rate := flag.Float64("rate", 0.1, "learning rate")
	flag.Parse()

	opts := []shoal.Option{shoal.WithJobName("paramserver")}
	if *address != "" {
		opts = append(opts, shoal.WithAddress(*address))
	} else {
		opts = append(opts, shoal.WithLocalNodes(2), shoal.WithCPUsPerNode(max(2, float64(runtime.NumCPU())/2)))
	}
	// Init first: in the executor processes of the cluster it never returns.
	ctx, err := shoal.Init(context.Background(), opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer shoal.Shutdown(ctx)

	w, err := fit(ctx, *shards, *rows, *rounds, *rate, func(round int, loss float64, w []float64) {
		if round == 1 || round%10 == 0 || round == *rounds {
			fmt.Printf("round %3d: loss %.5f, weights %.3f\n", round, loss, w)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("fit %.3f, true %.3f\n", w, trueWeights)
}

// fit runs rounds of gradient descent over shards and returns the weights;
// report is told each round's mean loss and the weights after it.
func fit(ctx context.Context, shards, rows, rounds int, rate float64, report func(round int, loss float64, w []float64)) ([]float64, error) {
	ps, err := serverClass.New(ctx, nil, shoal.WithActorResources(shoal.Resources{}))
	if err != nil {
		return nil, err
	}
	defer ps.Release()
	var w []float64
	for round := 1; round <= rounds; round++ {
		futs := make([]*shoal.Future[Gradient], shards)
		for i := range futs {
			futs[i] = gradient.Remote(ctx, ps, i, rows)
		}
		gs, err := shoal.GetAll(ctx, futs)
		if err != nil {
			return nil, err
		}
		grads, loss := make([][]float64, len(gs)), 0.0
		for i, g := range gs {
			grads[i], loss = g.Grad, loss+g.Loss/float64(len(gs))
		}
		if w, err = apply.Remote(ctx, ps, grads, rate).Get(ctx); err != nil {
			return nil, err
		}
		report(round, loss, w)
	}
	return w, nil
}
