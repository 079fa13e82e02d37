package shoal_test

import (
	"context"
	"fmt"
	"log"

	"github.com/shoal-dev/shoal"
)

// Remote functions are registered at package level, under a name every
// process of the program agrees on.
var exampleSquare = shoal.Func1("example.square", func(ctx context.Context, x int) (int, error) {
	return x * x, nil
})

// Calls return futures at once; GetAll waits for them. Without an address,
// Init starts an embedded cluster whose executors run this same program.
func Example() {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(1), shoal.WithCPUsPerNode(2))
	if err != nil {
		log.Fatal(err)
	}
	defer shoal.Shutdown(ctx)

	futs := make([]*shoal.Future[int], 10)
	for i := range futs {
		futs[i] = exampleSquare.Remote(ctx, i)
	}
	squares, err := shoal.GetAll(ctx, futs)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(squares)
	// Output: [0 1 4 9 16 25 36 49 64 81]
}

// exampleCounter is an actor: state that lives in one executor, with
// methods called in order per caller.
type exampleCounter struct{ n int }

var (
	exampleCounterClass = shoal.Actor1("example.counter", func(ctx context.Context, start int) (*exampleCounter, error) {
		return &exampleCounter{n: start}, nil
	})
	exampleAdd = shoal.Method1(exampleCounterClass, "add", func(ctx context.Context, c *exampleCounter, k int) (int, error) {
		c.n += k
		return c.n, nil
	})
)

// An actor is created with New and called through its handle; each call
// returns a future, and one caller's calls run in the order made.
func ExampleActor1() {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(1), shoal.WithCPUsPerNode(2))
	if err != nil {
		log.Fatal(err)
	}
	defer shoal.Shutdown(ctx)

	counter, err := exampleCounterClass.New(ctx, 100)
	if err != nil {
		log.Fatal(err)
	}
	defer counter.Release()
	var last *shoal.Future[int]
	for k := 1; k <= 3; k++ {
		last = exampleAdd.Remote(ctx, counter, k)
	}
	n, err := last.Get(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n)
	// Output: 106
}

var exampleSum = shoal.Func1("example.sum", func(ctx context.Context, xs []float64) (float64, error) {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s, nil
})

// Put stores a value in the cluster once; passing its future to calls
// sends them a reference, not the bytes, and each call receives the value.
func ExamplePut() {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(1), shoal.WithCPUsPerNode(2))
	if err != nil {
		log.Fatal(err)
	}
	defer shoal.Shutdown(ctx)

	xs := make([]float64, 1<<20)
	for i := range xs {
		xs[i] = 0.5
	}
	data, err := shoal.Put(ctx, xs)
	if err != nil {
		log.Fatal(err)
	}
	defer data.Release()
	a, b := exampleSum.Remote(ctx, data), exampleSum.Remote(ctx, data)
	sa, err := a.Get(ctx)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := b.Get(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sa, sb)
	// Output: 524288 524288
}
