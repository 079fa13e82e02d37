package shoal_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/testmain"
)

// TestMain runs the test binary as an executor when a node starts it as
// one; otherwise it runs the tests, stops the shared cluster and checks that
// no goroutine outlived its test.
func TestMain(m *testing.M) { testmain.Run(m, shared.stop) }

// shared is one multi-process cluster (a head and 3 node processes with 2
// CPUs each) used by the tests that need no special cluster.
var shared sharedState

type sharedState struct {
	once sync.Once
	c    *clustertest.Cluster
	err  error
}

func (s *sharedState) stop() {
	if s.c != nil {
		s.c.Stop()
	}
}

func startCluster(t testing.TB, nodes int, nodeArgs ...string) *clustertest.Cluster {
	t.Helper()
	bin, err := clustertest.BuildShoal()
	if err != nil {
		t.Fatal(err)
	}
	if len(nodeArgs) == 0 {
		nodeArgs = []string{"--cpus", "2"}
	}
	opts := clustertest.Options{Binary: bin, Nodes: nodes, NodeArgs: nodeArgs}
	if testing.Verbose() {
		opts.Output = os.Stderr
	}
	c, err := clustertest.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Output == nil {
		// (Runs after the stop: a failed test shows how the cluster saw it
		// to the end, as -v would have.)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("the cluster's output, the last %d KiB of each process:\n%s", clusterTail>>10, c.OutputTail(clusterTail))
			}
		})
	}
	t.Cleanup(c.Stop)
	return c
}

// clusterTail is how much of each process's output a failed test shows.
const clusterTail = 16 << 10

func sharedCluster(t testing.TB) *clustertest.Cluster {
	t.Helper()
	shared.once.Do(func() {
		bin, err := clustertest.BuildShoal()
		if err != nil {
			shared.err = err
			return
		}
		opts := clustertest.Options{Binary: bin, Nodes: 3, NodeArgs: []string{"--cpus", "2"}}
		if testing.Verbose() {
			opts.Output = os.Stderr
		}
		shared.c, shared.err = clustertest.Start(context.Background(), opts)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

// connect joins c as a driver for the duration of the test.
func connect(t testing.TB, c *clustertest.Cluster, opts ...shoal.Option) context.Context {
	t.Helper()
	opts = append([]shoal.Option{shoal.WithAddress(c.HeadAddr), shoal.WithTokenFile(c.TokenFile)}, opts...)
	ctx, err := shoal.Init(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shoal.Shutdown(ctx) })
	return ctx
}

// within returns a context that ends after d, for bounding waits.
func within(t testing.TB, ctx context.Context, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	return ctx
}

// requireValues waits for futs and checks that the i-th holds want(i).
func requireValues(t *testing.T, ctx context.Context, futs []*shoal.Future[int], want func(i int) int) {
	t.Helper()
	vals, err := shoal.GetAll(ctx, futs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if v != want(i) {
			t.Fatalf("task %d returned %d, want %d", i, v, want(i))
		}
	}
}

// sumOf waits for fs and sums their values.
func sumOf(ctx context.Context, fs []*shoal.Future[int]) (int, error) {
	vals, err := shoal.GetAll(ctx, fs)
	if err != nil {
		return 0, err
	}
	sum := 0
	for _, v := range vals {
		sum += v
	}
	return sum, nil
}

func identity(i int) int { return i }
func squareOf(i int) int { return i * i }
