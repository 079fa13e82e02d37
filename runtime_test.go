package shoal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

var (
	square = shoal.Func1("test.square", func(_ context.Context, x int) (int, error) { return x * x, nil })
	add    = shoal.Func2("test.add", func(_ context.Context, a, b int) (int, error) { return a + b, nil })
	pid    = shoal.Func0("test.pid", func(ctx context.Context) (string, error) {
		return fmt.Sprintf("%s/%d", shoal.NodeID(ctx), os.Getpid()), nil
	})
	sleepUntilCancelled = shoal.Func1("test.sleep", func(ctx context.Context, d time.Duration) (string, error) {
		select {
		case <-time.After(d):
			return "slept", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	boom = shoal.Func1("test.boom", func(_ context.Context, msg string) (int, error) {
		var m map[string]int
		if msg == "nil map" {
			m["x"] = 1 // a runtime panic
		}
		panic(msg)
	})
	fails  = shoal.Func0("test.fails", func(context.Context) (int, error) { return 0, errors.New("the disk is full") })
	digest = shoal.Func1("test.digest", func(_ context.Context, b []byte) (string, error) {
		return fmt.Sprintf("%d:%x", len(b), sha256.Sum256(b)), nil
	})
	echo    = shoal.Func1("test.echo", func(_ context.Context, b []byte) ([]byte, error) { return b, nil })
	gpuTask = shoal.Func0("test.gpu", func(ctx context.Context) (string, error) { return shoal.NodeID(ctx), nil }).
		With(shoal.WithResources(shoal.Resources{CPU: 1, GPU: 1}))
)

// parent submits children and waits for them from inside a task. It is
// registered in init because it calls itself.
var parent *shoal.Func[int]

func init() {
	parent = shoal.Func2("test.parent", func(ctx context.Context, children, depth int) (int, error) {
		if depth == 0 {
			return 1, nil
		}
		futs := make([]*shoal.Future[int], children)
		for i := range futs {
			futs[i] = parent.Remote(ctx, children, depth-1)
		}
		vals, err := shoal.GetAll(ctx, futs)
		if err != nil {
			return 0, err
		}
		sum := 1
		for _, v := range vals {
			sum += v
		}
		return sum, nil
	})
}

func TestFanOut10000(t *testing.T) {
	ctx := connect(t, sharedCluster(t))
	ctx = within(t, ctx, 2*time.Minute)
	const n = 10000
	futs := make([]*shoal.Future[int], n)
	for i := range futs {
		futs[i] = square.Remote(ctx, i)
	}
	requireValues(t, ctx, futs, squareOf)
}

func TestFuturesAsArguments(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	// A tree of additions whose leaves are futures and Puts.
	put, err := shoal.Put(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	a := square.Remote(ctx, 3)         // 9
	b := add.Remote(ctx, a, put)       // 109
	c := add.Remote(ctx, b, 1)         // 110
	d := add.Remote(ctx, c, a)         // 119
	e := square.Remote(ctx, int64(11)) // converted to int: 121
	got, err := add.Remote(ctx, d, e).Get(ctx)
	if err != nil || got != 240 {
		t.Fatalf("got %d, %v; want 240", got, err)
	}
	// The same computation twice gives two distinct futures with equal values.
	x, y := square.Remote(ctx, 5), square.Remote(ctx, 5)
	if x.ID() == y.ID() {
		t.Fatal("two calls share a future ID")
	}
	vx, _ := x.Get(ctx)
	vy, _ := y.Get(ctx)
	if vx != 25 || vy != 25 {
		t.Fatalf("got %d and %d", vx, vy)
	}
}

func TestNestedTasksWithEverySlotBusy(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), 2*time.Minute)
	// 3 nodes x 2 CPUs = 6 slots; 12 parents each wait on 3 children, which
	// each wait on 3 grandchildren: without giving slots back while blocked
	// in Get, this deadlocks.
	futs := make([]*shoal.Future[int], 12)
	for i := range futs {
		futs[i] = parent.Remote(ctx, 3, 2)
	}
	vals, err := shoal.GetAll(ctx, futs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if v != 1+3+9 {
			t.Fatalf("tree %d counted %d tasks, want 13", i, v)
		}
	}
}

func TestWaitWithTimeout(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	futs := []*shoal.Future[string]{
		sleepUntilCancelled.Remote(ctx, time.Millisecond),
		sleepUntilCancelled.Remote(ctx, time.Hour),
		sleepUntilCancelled.Remote(ctx, 2*time.Millisecond),
		sleepUntilCancelled.Remote(ctx, time.Hour),
	}
	defer func() {
		for _, f := range futs {
			f.Cancel()
		}
	}()
	ready, notReady, err := shoal.Wait(ctx, futs, 2, 20*time.Second)
	if err != nil || len(ready) != 2 || len(notReady) != 2 {
		t.Fatalf("Wait(2): %d ready, %d not, %v", len(ready), len(notReady), err)
	}
	if ready[0] != futs[0] || ready[1] != futs[2] {
		t.Fatal("the wrong futures are ready")
	}
	start := time.Now()
	ready, notReady, err = shoal.Wait(ctx, futs, 3, 300*time.Millisecond)
	if err != nil || len(ready) != 2 || len(notReady) != 2 {
		t.Fatalf("Wait(3) with timeout: %d ready, %d not, %v", len(ready), len(notReady), err)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("Wait returned after %v, before its timeout", waited)
	}
	ready, _, _ = shoal.Wait(ctx, futs, 4, 0)
	if len(ready) != 2 {
		t.Fatalf("Wait with timeout 0: %d ready", len(ready))
	}
}

func TestPutGetSizes(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), 3*time.Minute)
	for _, size := range []int{1, 1000, 64<<10 - 2, 64<<10 + 1, 1 << 20, 16 << 20, 256 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i*31 + size)
			}
			fut, err := shoal.Put(ctx, data)
			if err != nil {
				t.Fatal(err)
			}
			defer fut.Release()
			got, err := fut.Get(ctx)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Put/Get: %v", err)
			}
			want := fmt.Sprintf("%d:%x", size, sha256.Sum256(data))
			if d, err := digest.Remote(ctx, fut).Get(ctx); err != nil || d != want {
				t.Fatalf("digest in a task: %q, %v", d, err)
			}
			back := echo.Remote(ctx, data) // a large argument and a large result
			defer back.Release()
			if got, err := back.Get(ctx); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("echo: %v", err)
			}
		})
	}
}

func TestTaskOnOneNodeReadsObjectOnAnother(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), time.Minute)
	data := bytes.Repeat([]byte("peer-to-peer "), 1<<20) // 13 MiB
	fut, err := shoal.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer fut.Release()
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Run the reader on every node: at least two of them lack the object
	// and must pull it from the node that has it.
	want := fmt.Sprintf("%d:%x", len(data), sha256.Sum256(data))
	for _, n := range st.Nodes {
		got, err := digest.With(shoal.WithNodeAffinity(n.ID, false)).Remote(ctx, fut).Get(ctx)
		if err != nil || got != want {
			t.Fatalf("on node %s: %q, %v", n.ID, got, err)
		}
	}
	// Every node now holds a copy; the bytes went node to node.
	err = c.WaitFor(ctx, 10*time.Second, func(st *pb.StatusReply) bool {
		for _, n := range st.Nodes {
			if n.StoreBytes < int64(len(data)) {
				return false
			}
		}
		return true
	}, "every node to hold a copy")
	if err != nil {
		t.Fatal(err)
	}
}

func TestGPUTaskWaitsForGPUNode(t *testing.T) {
	c := startCluster(t, 1)
	ctx := within(t, connect(t, c), time.Minute)
	fut := gpuTask.Remote(ctx)
	if _, notReady, _ := shoal.Wait(ctx, []*shoal.Future[string]{fut}, 1, 500*time.Millisecond); len(notReady) != 1 {
		t.Fatal("a GPU task ran on a cluster without GPUs")
	}
	if _, err := c.AddNode(ctx, "--cpus", "1", "--gpus", "1"); err != nil {
		t.Fatal(err)
	}
	node, err := fut.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := shoal.ClusterStatus(ctx)
	for _, n := range st.Nodes {
		if n.ID == node && n.Total.GPU != 1 {
			t.Fatalf("GPU task ran on node %s with resources %s", node, n.Total)
		}
	}
}

func TestCancellation(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	t.Run("running task", func(t *testing.T) {
		fut := sleepUntilCancelled.Remote(ctx, time.Hour)
		time.Sleep(50 * time.Millisecond) // let it start; either way it must be cancelled
		fut.Cancel()
		_, err := fut.Get(ctx)
		if !errors.Is(err, shoal.ErrCancelled) {
			t.Fatalf("got %v, want ErrCancelled", err)
		}
	})
	t.Run("context of the call", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		fut := sleepUntilCancelled.Remote(cctx, time.Hour)
		cancel()
		_, err := fut.Get(ctx)
		if !errors.Is(err, shoal.ErrCancelled) {
			t.Fatalf("got %v, want ErrCancelled", err)
		}
	})
	t.Run("queued behind busy slots", func(t *testing.T) {
		var futs []*shoal.Future[string]
		for range 10 { // more than the 6 slots
			futs = append(futs, sleepUntilCancelled.Remote(ctx, time.Hour))
		}
		for _, f := range futs {
			f.Cancel()
		}
		for i, f := range futs {
			if _, err := f.Get(ctx); !errors.Is(err, shoal.ErrCancelled) {
				t.Fatalf("task %d: %v", i, err)
			}
		}
	})
	t.Run("Get gives up when its context ends", func(t *testing.T) {
		fut := sleepUntilCancelled.Remote(ctx, time.Hour)
		defer fut.Cancel()
		gctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := fut.Get(gctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestPanicNamesTaskAndExecutorSurvives(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), time.Minute)
	st, _ := shoal.ClusterStatus(ctx)
	node := st.Nodes[0].ID
	onNode := shoal.WithNodeAffinity(node, false)
	before, err := pid.With(onNode).Remote(ctx).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"the answer is not 42", "nil map"} {
		_, err = boom.With(onNode).Remote(ctx, msg).Get(ctx)
		var te *shoal.TaskError
		if !errors.As(err, &te) || !errors.Is(err, shoal.ErrTaskPanicked) {
			t.Fatalf("got %v, want a TaskError matching ErrTaskPanicked", err)
		}
		text := err.Error()
		wantPanic := msg
		if msg == "nil map" {
			wantPanic = "assignment to entry in nil map"
		}
		for _, want := range []string{`task "test.boom"`, "panicked", wantPanic, "runtime_test.go"} {
			if !strings.Contains(text, want) {
				t.Errorf("error lacks %q:\n%s", want, text)
			}
		}
	}
	after, err := pid.With(onNode).Remote(ctx).Get(ctx)
	if err != nil || after != before {
		t.Fatalf("executor before the panics %s, after %s (%v)", before, after, err)
	}
	// An application error is reported as such, with the task's name.
	_, err = fails.Remote(ctx).Get(ctx)
	if !errors.Is(err, shoal.ErrTaskFailed) || !strings.Contains(err.Error(), "the disk is full") || !strings.Contains(err.Error(), "test.fails") {
		t.Fatalf("application error: %v", err)
	}
	// A task whose argument failed fails with that error.
	_, err = square.Remote(ctx, boom.Remote(ctx, "upstream")).Get(ctx)
	if !errors.Is(err, shoal.ErrTaskPanicked) || !strings.Contains(err.Error(), "upstream") {
		t.Fatalf("dependent of a failed task: %v", err)
	}
}

func TestClearErrors(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), time.Minute)
	t.Run("unknown function", func(t *testing.T) {
		_, err := shoal.CallByName[int](ctx, "no.such.function", 1).Get(ctx)
		if !errors.Is(err, shoal.ErrUnknownFunction) || !strings.Contains(err.Error(), `"no.such.function" is not registered`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("argument of the wrong type, checked by the caller", func(t *testing.T) {
		_, err := square.Remote(ctx, "seven").Get(ctx)
		if !errors.Is(err, shoal.ErrBadArgument) || !strings.Contains(err.Error(), "argument 1: got string, want int") {
			t.Fatalf("got %v", err)
		}
		_, err = square.Remote(ctx, 1.5).Get(ctx)
		if !errors.Is(err, shoal.ErrBadArgument) || !strings.Contains(err.Error(), "does not fit in int") {
			t.Fatalf("got %v", err)
		}
		_, err = add.Remote(ctx, 1).Get(ctx)
		if !errors.Is(err, shoal.ErrBadArgument) || !strings.Contains(err.Error(), "takes 2 arguments, got 1") {
			t.Fatalf("got %v", err)
		}
		strFut := pid.Remote(ctx)
		_, err = square.Remote(ctx, strFut).Get(ctx)
		if !errors.Is(err, shoal.ErrBadArgument) || !strings.Contains(err.Error(), "future of string, want int") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("by name, the way Remote goes", func(t *testing.T) {
		// A large argument (stored once, by reference) and a future argument
		// reach a function called by name as they reach Remote's.
		big := bytes.Repeat([]byte("shoal"), 700_000)
		want, err := digest.Remote(ctx, big).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byName := shoal.ByName[string]("test.digest").With(shoal.WithMaxRetries(0), shoal.WithSpread())
		if got, err := byName.Remote(ctx, big).Get(ctx); err != nil || got != want {
			t.Fatalf("by name, a large value: %q, %v; want %q", got, err, want)
		}
		fut := echo.Remote(ctx, big)
		defer fut.Release()
		if got, err := byName.Remote(ctx, fut).Get(ctx); err != nil || got != want {
			t.Fatalf("by name, a future: %q, %v; want %q", got, err, want)
		}
	})
	t.Run("argument of the wrong type, checked by the executor", func(t *testing.T) {
		_, err := shoal.CallByName[int](ctx, "test.square", "seven").Get(ctx)
		if !errors.Is(err, shoal.ErrBadArgument) || !strings.Contains(err.Error(), "argument 1: cannot decode it as int") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unreachable head", func(t *testing.T) {
		start := time.Now()
		_, err := shoal.Init(context.Background(), shoal.WithAddress("127.0.0.1:1"), shoal.WithToken("x"), shoal.WithConnectTimeout(time.Second))
		if !errors.Is(err, shoal.ErrHeadUnreachable) || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("took %v to report an unreachable head", d)
		}
	})
	t.Run("no cluster in the context", func(t *testing.T) {
		_, err := square.Remote(context.Background(), 1).Get(context.Background())
		if !errors.Is(err, shoal.ErrNotInitialized) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("released future", func(t *testing.T) {
		f := square.Remote(ctx, 2)
		f.Release()
		if _, err := f.Get(ctx); err == nil || !strings.Contains(err.Error(), "released") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestManyDriversShareACluster(t *testing.T) {
	c := sharedCluster(t)
	var total atomic.Int64
	errs := make(chan error, 3)
	for d := range 3 {
		go func() {
			ctx, err := shoal.Init(context.Background(), shoal.WithAddress(c.HeadAddr), shoal.WithTokenFile(c.TokenFile))
			if err != nil {
				errs <- err
				return
			}
			defer shoal.Shutdown(ctx)
			futs := make([]*shoal.Future[int], 500)
			for i := range futs {
				futs[i] = add.Remote(ctx, d, i)
			}
			vals, err := shoal.GetAll(ctx, futs)
			for _, v := range vals {
				total.Add(int64(v))
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if want := int64(3*(499*500/2) + 500*(0+1+2)); total.Load() != want {
		t.Fatalf("sum %d, want %d", total.Load(), want)
	}
}

var crash = shoal.Func1("test.crash", func(_ context.Context, code int) (int, error) {
	os.Exit(code)
	return 0, nil
})

func TestExecutorCrashIsSurvived(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), time.Minute)
	st, _ := shoal.ClusterStatus(ctx)
	onNode := shoal.WithNodeAffinity(st.Nodes[1].ID, false)
	before, err := pid.With(onNode).Remote(ctx).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = crash.With(onNode, shoal.WithMaxRetries(0)).Remote(ctx, 3).Get(ctx)
	if !errors.Is(err, shoal.ErrExecutor) || !strings.Contains(err.Error(), "test.crash") || !strings.Contains(err.Error(), "went away") {
		t.Fatalf("crashed task: %v", err)
	}
	// The node starts a new executor for the next task.
	after, err := pid.With(onNode).Remote(ctx).Get(ctx)
	if err != nil || after == before {
		t.Fatalf("after the crash: %q (before %q), %v", after, before, err)
	}
	if v, err := square.With(onNode).Remote(ctx, 9).Get(ctx); err != nil || v != 81 {
		t.Fatalf("square after the crash: %d %v", v, err)
	}
}

func TestEmbeddedClusterLeavesNothingBehind(t *testing.T) {
	existing := goleak.IgnoreCurrent()
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(2), shoal.WithCPUsPerNode(1))
	if err != nil {
		t.Fatal(err)
	}
	futs := make([]*shoal.Future[int], 200)
	for i := range futs {
		futs[i] = square.Remote(ctx, i)
	}
	if _, err := shoal.GetAll(ctx, futs); err != nil {
		t.Fatal(err)
	}
	big, err := shoal.Put(ctx, make([]byte, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := digest.Remote(ctx, big).Get(ctx); err != nil || !strings.HasPrefix(d, "1048576:") {
		t.Fatalf("digest %q %v", d, err)
	}
	if err := shoal.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(existing); err != nil {
		t.Fatal(err)
	}
}

// blobBundle carries futures inside a value (nested objects, not arguments).
type blobBundle struct{ Parts []*shoal.Future[[]byte] }

var whereBundle = shoal.Func1("test.where_bundle", func(ctx context.Context, b blobBundle) (string, error) {
	return shoal.NodeID(ctx), nil
})

// A task that carries its input as futures inside a value (as a dataframe
// partition task carries its map outputs) runs where that input is.
func TestTaskRunsWhereItsNestedFuturesAre(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), time.Minute)
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range st.Nodes {
		on := shoal.WithNodeAffinity(n.ID, false)
		parts := []*shoal.Future[[]byte]{blob.With(on).Remote(ctx, 100+i, 1<<20), blob.With(on).Remote(ctx, 200+i, 1<<20)}
		if _, _, err := shoal.Wait(ctx, parts, len(parts), -1); err != nil {
			t.Fatal(err)
		}
		got, err := whereBundle.Remote(ctx, blobBundle{Parts: parts}).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != n.ID {
			t.Errorf("a task whose nested futures (2 MiB) are on node %s ran on node %s", n.ID, got)
		}
		for _, p := range parts {
			p.Release()
		}
	}
}
