package shoal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/proctree"
	"github.com/shoal-dev/shoal/internal/testwait"
)

// Worker leases (phase 2 of docs/proposals/direct-calls.md): tasks with
// inline arguments go straight to a leased executor. These tests hold what
// the head path guarantees: every result once and right, resources back
// after, nested tasks never deadlock, a dead executor's tasks retried.

// warm makes sure the job has executors, so that leases can be granted.
func warm(t *testing.T, ctx context.Context) {
	t.Helper()
	futs := make([]*shoal.Future[int], 16)
	for i := range futs {
		futs[i] = sleepThen.Remote(ctx, 20*time.Millisecond, i)
	}
	if _, err := shoal.GetAll(ctx, futs); err != nil {
		t.Fatal(err)
	}
}

// allCPUsFree waits until every live node has all its CPUs available
// again (leases returned).
func allCPUsFree(t *testing.T, ctx context.Context) {
	t.Helper()
	testwait.Within(t, 20*time.Second, "every lease returned", func() bool {
		st, err := shoal.ClusterStatus(ctx)
		if err != nil {
			return false
		}
		for _, n := range st.Nodes {
			if n.Alive && n.Available.CPU != n.Total.CPU {
				return false
			}
		}
		return true
	})
}

func TestLeasedTasks(t *testing.T) {
	// A cluster of its own: the head grants no lease while any job's tasks
	// wait for resources, which other tests' leftovers could make so.
	ctx := within(t, connect(t, startCluster(t, 2)), time.Minute)
	warm(t, ctx)
	before := directSent(t, ctx)
	const n = 5000
	futs := make([]*shoal.Future[int], n)
	for i := range futs {
		futs[i] = square.Remote(ctx, i)
	}
	requireValues(t, ctx, futs, squareOf)
	if sent := directSent(t, ctx) - before; sent < n/2 {
		t.Fatalf("only %d of %d tasks ran under leases", sent, n)
	}
	// Synchronous tasks reuse a lingering lease: once the head grants one
	// again (it refused some during the flood), 50 in a row run under it.
	deadline := time.Now().Add(10 * time.Second)
	for streak := 0; streak < 50; {
		if time.Now().After(deadline) {
			t.Fatal("synchronous tasks did not run under a lease 50 times in a row within 10s")
		}
		before = directSent(t, ctx)
		if v, err := square.Remote(ctx, streak).Get(ctx); err != nil || v != streak*streak {
			t.Fatalf("square(%d) = %d %v", streak, v, err)
		}
		if directSent(t, ctx) > before {
			streak++
		} else {
			streak = 0
		}
	}
	// Results leave the caller: a pending one, a finished one, inside a Put.
	slow := sleepThen.Remote(ctx, 100*time.Millisecond, 6)
	sum := add.Remote(ctx, slow, futs[3])
	if v, err := sum.Get(ctx); err != nil || v != 15 {
		t.Fatalf("add of leased results: %d %v", v, err)
	}
	// A large result is stored on the leased executor's node.
	big := blob.Remote(ctx, 7, 2<<20)
	b, err := big.Get(ctx)
	if err != nil || !bytes.Equal(b, blobBytes(7, 2<<20)) {
		t.Fatalf("a large leased result: %d bytes, %v", len(b), err)
	}
	if d, err := digest.Remote(ctx, big).Get(ctx); err != nil || d == "" {
		t.Fatalf("a task reading a large leased result: %v", err)
	}
	// An application error comes back as such.
	if _, err := boom.Remote(ctx, "leased").Get(ctx); err == nil {
		t.Fatal("a failing task succeeded")
	}
	allCPUsFree(t, ctx)
}

// squarer submits square tasks from inside the cluster: a second caller of
// the driver's job.
type squarer struct{}

var (
	squarerClass   = shoal.Actor0("test.Squarer", func(context.Context) (*squarer, error) { return &squarer{}, nil })
	squarerSquares = shoal.Method1(squarerClass, "Squares", func(ctx context.Context, _ *squarer, n int) (int64, error) {
		c, ok := client.FromContext(ctx)
		if !ok {
			return 0, errors.New("no client in the call's context")
		}
		before := c.DirectCallsSent()
		futs := make([]*shoal.Future[int], n)
		for i := range futs {
			futs[i] = square.Remote(ctx, i)
		}
		vals, err := shoal.GetAll(ctx, futs)
		if err != nil {
			return 0, err
		}
		for i, v := range vals {
			if v != i*i {
				return 0, fmt.Errorf("square(%d) = %d", i, v)
			}
		}
		return c.DirectCallsSent() - before, nil
	})
)

// Two callers flooding short tasks on a node with room for one lease: the
// second shares the first one's lease (its slot), so both skip the head.
func TestShortTasksShareALease(t *testing.T) {
	ctx := within(t, connect(t, startCluster(t, 1, "--cpus", "1.5")), time.Minute)
	warm(t, ctx)
	sq, err := squarerClass.New(ctx, nil, shoal.WithResources(shoal.Resources{CPU: 0.2}))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Kill(ctx)
	if err := sq.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	// Spread tasks go through the head, which learns that square is short.
	head := square.With(shoal.WithSpread())
	for i := range 8 {
		if v, err := head.Remote(ctx, i).Get(ctx); err != nil || v != i*i {
			t.Fatalf("square(%d) = %d %v", i, v, err)
		}
	}
	const n = 20000
	before := directSent(t, ctx)
	inside := squarerSquares.Remote(ctx, sq, n)
	futs := make([]*shoal.Future[int], n)
	for i := range futs {
		futs[i] = square.Remote(ctx, i)
	}
	requireValues(t, ctx, futs, squareOf)
	driverDirect := directSent(t, ctx) - before
	insideDirect, err := inside.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if driverDirect < n/2 || insideDirect < n/2 {
		t.Fatalf("with room for one lease, the driver sent %d of %d tasks straight to the executor and the actor %d of %d", driverDirect, n, insideDirect, n)
	}
	sq.Kill(ctx)
	allCPUsFree(t, ctx)
}

// Tasks that wait for their children give their lease's CPUs back while
// they wait, as tasks through the head do: no deadlock on a small node.
func TestLeasedNestedTasksDoNotDeadlock(t *testing.T) {
	ctx := within(t, connect(t, startCluster(t, 1, "--cpus", "2")), time.Minute)
	warm(t, ctx)
	futs := make([]*shoal.Future[int], 8)
	for i := range futs {
		futs[i] = parent.Remote(ctx, 3, 2)
	}
	vals, err := shoal.GetAll(ctx, futs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := parent.Remote(ctx, 3, 2).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if v != want {
			t.Fatalf("parent %d: %d, want %d", i, v, want)
		}
	}
	allCPUsFree(t, ctx)
}

// An executor killed under leased tasks: they run again through the head
// (they have retries), every result once and right.
func TestLeasedTasksRetriedWhenExecutorDies(t *testing.T) {
	c := startCluster(t, 2)
	ctx := within(t, connect(t, c), time.Minute)
	warm(t, ctx)
	futs := make([]*shoal.Future[int], 400)
	for i := range futs {
		futs[i] = sleepThen.Remote(ctx, 2*time.Millisecond, i)
	}
	var victim int
	for _, p := range c.Nodes {
		if kids := proctree.Children(p.Pid()); len(kids) > 0 {
			victim = kids[0]
			break
		}
	}
	if victim == 0 {
		t.Fatal("no executor process to kill")
	}
	// Kill once some tasks are done: others are running or queued.
	if _, err := futs[20].Get(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	requireValues(t, ctx, futs, identity)
	// Without retries, a task the dead executor may have run fails.
	noRetry := sleepThen.With(shoal.WithMaxRetries(0))
	warm(t, ctx)
	f := noRetry.Remote(ctx, time.Hour, 1)
	testwait.Within(t, 20*time.Second, "the task to hold a CPU", func() bool {
		st, err := shoal.ClusterStatus(ctx)
		if err != nil {
			return false
		}
		for _, n := range st.Nodes {
			if n.Alive && n.Available.CPU < n.Total.CPU {
				return true
			}
		}
		return false
	})
	for _, p := range c.Nodes {
		for _, pid := range proctree.Children(p.Pid()) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if _, err := f.Get(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a task without retries whose executor died: %v", err)
	}
}

// A driver's steady stream of leased tasks does not keep the node's slots
// from work waiting at the head (here the same driver's spread task;
// another job's tasks wait the same way): a lease goes back after its
// timeout, its pool is refused another while work waits at the head, and
// the head serves the waiting task first.
func TestStreamOfLeasedTasksDoesNotStarveWaitingWork(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "2")
	ctx := within(t, connect(t, c), 2*time.Minute)
	warm(t, ctx)
	streamCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		// 8 tasks of 5 ms in flight at all times: the pool's leases never
		// idle, nor stall.
		const inFlight = 8
		var futs []*shoal.Future[int]
		for i := 0; ; i++ {
			futs = append(futs, sleepThen.Remote(streamCtx, 5*time.Millisecond, i))
			if len(futs) < inFlight {
				continue
			}
			_, err := futs[0].Get(streamCtx)
			futs[0].Release()
			futs = futs[1:]
			if streamCtx.Err() != nil {
				done <- nil
				return
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	testwait.For(t, "the stream to hold leases", func() bool { return directSent(t, ctx) > 100 })
	// (It waits for a lease to time out, 500 ms, and the head: 0.2 s
	// measured. Before leases timed out it waited 12 s, 21 s, over 30 s
	// twice in four runs, until a pause of the stream sent its tasks to
	// the head.)
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	v, err := square.With(shoal.WithSpread()).Remote(ctx, 9).Get(waitCtx)
	stop()
	t.Logf("the spread task waited %v", time.Since(start))
	if err != nil {
		t.Fatalf("a task waiting at the head while a stream of leased tasks ran: %v", err)
	}
	if v != 81 {
		t.Fatalf("square(9) = %d", v)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
