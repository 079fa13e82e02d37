// Package shoal is a distributed compute engine for Go: remote functions
// and futures over a cluster of machines, on one laptop or many nodes.
//
// Register remote functions at package level, call shoal.Init first thing
// in main, and call them with Remote:
//
//	var square = shoal.Func1("square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//
//	func main() {
//		ctx, err := shoal.Init(context.Background()) // an embedded local cluster
//		if err != nil {
//			log.Fatal(err)
//		}
//		defer shoal.Shutdown(ctx)
//
//		futs := make([]*shoal.Future[int], 100)
//		for i := range futs {
//			futs[i] = square.Remote(ctx, i)
//		}
//		squares, err := shoal.GetAll(ctx, futs)
//		...
//	}
//
// With no address, Init starts an embedded cluster (a head and local nodes
// inside the program; tasks run in executor processes re-executed from the
// program's own binary). shoal.WithAddress("host:7380") joins a cluster
// started with `shoal head` and `shoal node` instead; the code is the same.
//
// Because executors are the program itself, shoal.Init must run before
// anything else in main: in an executor process it never returns, it serves
// tasks. Tests do the same from TestMain with shoal.MainForTest.
//
// Futures are identified by unique IDs, never by their content: two calls
// with equal arguments are two tasks with two futures. A future holds a
// reference on its object until Release (or until the garbage collector
// finds the future unreachable).
package shoal
