package shoal_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
)

// Object lifetimes: a call holds its arguments from the moment Remote
// returns until the callee has them, whatever route the call and each
// argument took, however soon the caller releases them.

// twiceActor doubles what it is given; its calls run in the order made.
type twiceActor struct{ calls int }

var (
	twiceClass = shoal.Actor0("test.Twice", func(context.Context) (*twiceActor, error) { return &twiceActor{}, nil })
	twiceOf    = shoal.Method1(twiceClass, "Of", func(_ context.Context, a *twiceActor, x int) (int, error) {
		a.calls++
		return 2 * x, nil
	})
	twiceBytes = shoal.Method1(twiceClass, "Len", func(_ context.Context, a *twiceActor, b []byte) (int, error) {
		a.calls++
		return len(b), nil
	})
	// headSquare takes the head's path (spread placement is never leased).
	headSquare = square.With(shoal.WithSpread())
)

func readyTwice(t *testing.T, ctx context.Context) *shoal.ActorHandle[twiceActor] {
	t.Helper()
	h, err := twiceClass.New(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Kill(context.Background()) })
	return h
}

// argKind makes a future of value v by one of the routes an object can
// come from.
type argKind struct {
	name string
	make func(ctx context.Context, t *testing.T, src *shoal.ActorHandle[twiceActor], v int) (*shoal.Future[int], int)
}

var argKinds = []argKind{
	{"put", func(ctx context.Context, t *testing.T, _ *shoal.ActorHandle[twiceActor], v int) (*shoal.Future[int], int) {
		f, err := shoal.Put(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		return f, v
	}},
	{"head task", func(ctx context.Context, _ *testing.T, _ *shoal.ActorHandle[twiceActor], v int) (*shoal.Future[int], int) {
		return headSquare.Remote(ctx, v), v * v
	}},
	{"leased task", func(ctx context.Context, _ *testing.T, _ *shoal.ActorHandle[twiceActor], v int) (*shoal.Future[int], int) {
		return square.Remote(ctx, v), v * v
	}},
	{"direct call", func(ctx context.Context, _ *testing.T, src *shoal.ActorHandle[twiceActor], v int) (*shoal.Future[int], int) {
		return twiceOf.Remote(ctx, src, v), 2 * v
	}},
}

// Issue 13, item 1: an actor call whose future argument is released right
// after the call, while the actor takes direct calls (so the call waits
// behind direct calls in flight before it goes to the head).
func TestActorCallHoldsReleasedArgument(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), 2*time.Minute)
	src, dst := readyTwice(t, ctx), readyTwice(t, ctx)
	for _, kind := range argKinds {
		t.Run(kind.name, func(t *testing.T) {
			const n = 200
			futs := make([]*shoal.Future[int], 0, 2*n)
			want := make([]int, 0, 2*n)
			for i := range n {
				// A direct call in flight, then a call that must go
				// through the head, its argument released at once.
				futs = append(futs, twiceOf.Remote(ctx, dst, i))
				want = append(want, 2*i)
				arg, v := kind.make(ctx, t, src, i)
				futs = append(futs, twiceOf.Remote(ctx, dst, arg))
				want = append(want, 2*v)
				arg.Release()
			}
			for i, f := range futs {
				got, err := f.Get(ctx)
				if err != nil {
					t.Fatalf("call %d of %d: %v", i, len(futs), err)
				}
				if got != want[i] {
					t.Fatalf("call %d returned %d, want %d", i, got, want[i])
				}
			}
		})
	}
}

// A large argument is Put by Remote and released by it right after the
// call is made: the call must still find it.
func TestActorCallHoldsItsLargeArgument(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	dst := readyTwice(t, ctx)
	big := make([]byte, 256<<10)
	futs := make([]*shoal.Future[int], 0, 100)
	for i := range 50 {
		futs = append(futs, twiceOf.Remote(ctx, dst, i), twiceBytes.Remote(ctx, dst, big[:len(big)-i]))
	}
	for i, f := range futs {
		got, err := f.Get(ctx)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		want := 2 * (i / 2)
		if i%2 == 1 {
			want = len(big) - i/2
		}
		if got != want {
			t.Fatalf("call %d returned %d, want %d", i, got, want)
		}
	}
}

// Issue 13, item 2: a task or an actor call whose argument is another
// actor's direct-call result, released right after the call, completes;
// and so does every later call to that actor, also when calls to it that
// went through the head were released before they finished (the actor's
// route must still hear that they did).
func TestCallOnReleasedDirectResultCompletes(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), 3*time.Minute)
	src, dst := readyTwice(t, ctx), readyTwice(t, ctx)
	for _, consumer := range []string{"task", "actor call", "same actor"} {
		t.Run(consumer, func(t *testing.T) {
			for round := range 5 {
				const n = 200
				futs := make([]*shoal.Future[int], n)
				want := make([]int, n)
				for i := range futs {
					arg := twiceOf.Remote(ctx, src, i)
					switch consumer {
					case "task":
						futs[i], want[i] = square.Remote(ctx, arg), 4*i*i
					case "actor call":
						futs[i], want[i] = twiceOf.Remote(ctx, dst, arg), 4*i
					case "same actor":
						// A call to src through the head (a future
						// argument), released with its argument before
						// either finished; then a direct call to src.
						twiceOf.Remote(ctx, src, arg).Release()
						futs[i], want[i] = twiceOf.Remote(ctx, src, i), 2*i
					}
					arg.Release()
				}
				wait := within(t, ctx, 30*time.Second)
				for i, f := range futs {
					got, err := f.Get(wait)
					if err != nil {
						t.Fatalf("round %d, call %d of %d: %v", round, i, n, err)
					}
					if got != want[i] {
						t.Fatalf("round %d, call %d returned %d, want %d", round, i, got, want[i])
					}
				}
			}
		})
	}
}

// Issue 13, item 7: errors.Is and errors.As find a program's own errors
// after they crossed processes, on every route.
var (
	errNotFound = shoal.RegisterError("test.NotFound", errors.New("not found"))
	lookup      = shoal.Func1("test.lookup", func(_ context.Context, key int) (int, error) {
		if key < 0 {
			return 0, &quotaError{Limit: -key}
		}
		return 0, fmt.Errorf("looking up %d: %w", key, errNotFound)
	})
	// lookupVia calls lookup from inside a task and returns its error.
	lookupVia = shoal.Func1("test.lookupVia", func(ctx context.Context, key int) (int, error) {
		v, err := lookup.Remote(ctx, key).Get(ctx)
		if err != nil {
			return 0, fmt.Errorf("nested: %w", err)
		}
		return v, nil
	})
	lookupMethod = shoal.Method1(twiceClass, "Lookup", func(_ context.Context, _ *twiceActor, key int) (int, error) {
		return 0, fmt.Errorf("in an actor: %w", errNotFound)
	})
)

type quotaError struct{ Limit int }

func (e *quotaError) Error() string { return fmt.Sprintf("over quota %d", e.Limit) }

func init() { shoal.RegisterErrorType[*quotaError]("test.Quota") }

func TestRegisteredErrorsCrossProcesses(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	h := readyTwice(t, ctx)
	for _, tc := range []struct {
		name string
		f    *shoal.Future[int]
	}{
		{"leased task", lookup.Remote(ctx, 1)},
		{"head task", lookup.With(shoal.WithSpread()).Remote(ctx, 2)},
		{"nested task", lookupVia.Remote(ctx, 3)},
		{"direct actor call", lookupMethod.Remote(ctx, h, 4)},
		{"argument of a task", square.Remote(ctx, lookup.Remote(ctx, 5))},
	} {
		_, err := tc.f.Get(ctx)
		if !errors.Is(err, errNotFound) || !errors.Is(err, shoal.ErrTaskFailed) {
			t.Errorf("%s: errors.Is(%v, errNotFound) is false", tc.name, err)
		}
		if errors.Is(err, shoal.ErrCancelled) {
			t.Errorf("%s: %v matches ErrCancelled", tc.name, err)
		}
	}
	for _, f := range []*shoal.Future[int]{lookup.Remote(ctx, -7), lookupVia.Remote(ctx, -7)} {
		_, err := f.Get(ctx)
		var q *quotaError
		if !errors.As(err, &q) || q.Limit != 7 {
			t.Errorf("errors.As(%v, *quotaError): %v", err, q)
		}
		if errors.Is(err, errNotFound) {
			t.Errorf("%v matches errNotFound", err)
		}
	}
}

// Issue 13, item 7: Wait(n) returns at most n ready futures (the first n
// ready ones in order), as Ray's wait does.
func TestWaitReturnsAtMostN(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	futs := make([]*shoal.Future[int], 6)
	for i := range futs {
		futs[i] = square.Remote(ctx, i)
	}
	if _, err := shoal.GetAll(ctx, futs); err != nil {
		t.Fatal(err)
	}
	for n := range len(futs) + 1 {
		ready, notReady, err := shoal.Wait(ctx, futs, n, time.Second)
		if err != nil || len(ready) != n || len(notReady) != len(futs)-n {
			t.Fatalf("Wait(%d) of %d ready: %d ready, %d not, %v", n, len(futs), len(ready), len(notReady), err)
		}
		for i, f := range ready {
			if f != futs[i] {
				t.Fatalf("Wait(%d): ready[%d] is not the %d-th future", n, i, i)
			}
		}
	}
	if _, _, err := shoal.Wait(ctx, futs, -1, 0); err == nil {
		t.Fatal("Wait(-1) did not fail")
	}
}

// keeper holds futures it was given, as a borrower.
type keeper struct{ kept []*shoal.Future[int] }

var (
	keeperClass = shoal.Actor0("test.Keeper", func(context.Context) (*keeper, error) { return &keeper{}, nil })
	keep        = shoal.Method1(keeperClass, "Keep", func(_ context.Context, k *keeper, fs []*shoal.Future[int]) (int, error) {
		k.kept = append(k.kept, fs...)
		return len(k.kept), nil
	})
	// keptValue reads the i-th kept future.
	keptValue = shoal.Method1(keeperClass, "Value", func(ctx context.Context, k *keeper, i int) (int, error) {
		return k.kept[i].Get(ctx)
	})
	slowSquare = shoal.Func1("test.slowSquare", func(_ context.Context, x int) (int, error) {
		time.Sleep(time.Second)
		return x * x, nil
	})
)

// Objects an actor borrowed outlive the driver that owned them, whichever
// route made them; work the owner left unfinished ends with its job, and
// the borrower's copy says so; once the borrower goes too, nothing is left.
func TestBorrowedObjectsOutliveTheirOwner(t *testing.T) {
	c := startCluster(t, 2)
	ctx := within(t, connect(t, c), time.Minute)
	k, err := keeperClass.New(ctx, nil, shoal.WithActorName("keeper"))
	if err != nil {
		t.Fatal(err)
	}
	// The owner: another driver, which hands its futures to the keeper and
	// ends.
	owner, err := shoal.Init(context.Background(), shoal.WithAddress(c.HeadAddr), shoal.WithTokenFile(c.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	kb, err := shoal.GetActor[keeper](owner, "keeper")
	if err != nil {
		t.Fatal(err)
	}
	src := readyTwice(t, owner)
	put, err := shoal.Put(owner, 1000)
	if err != nil {
		t.Fatal(err)
	}
	big, err := shoal.Put(owner, 7) // (a second Put, released before it is kept)
	if err != nil {
		t.Fatal(err)
	}
	fs := []*shoal.Future[int]{put, square.Remote(owner, 3), headSquare.Remote(owner, 4), twiceOf.Remote(owner, src, 5), big, slowSquare.Remote(owner, 6)}
	want := []int{1000, 9, 16, 10, 7}
	for _, f := range fs[:len(want)] {
		if _, err := f.Get(owner); err != nil {
			t.Fatal(err)
		}
	}
	kept := keep.Remote(owner, kb, fs)
	for _, f := range fs {
		f.Release()
	}
	if n, err := kept.Get(owner); err != nil || n != len(fs) {
		t.Fatalf("keeping the owner's futures: %d %v", n, err)
	}
	if err := shoal.Shutdown(owner); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if v, err := keptValue.Remote(ctx, k, i).Get(ctx); err != nil || v != w {
			t.Fatalf("kept future %d after its owner ended: %d %v, want %d", i, v, err, w)
		}
	}
	if v, err := keptValue.Remote(ctx, k, len(want)).Get(ctx); !errors.Is(err, shoal.ErrCancelled) {
		t.Fatalf("kept future of a task its owner left running: %d %v, want ErrCancelled (its job ended)", v, err)
	}
	if err := k.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	k.Release()
	requireStoreEmpty(t, ctx)
	requireResourcesBack(t, ctx)
}

// chanAwaitable is a future that is ready once its channel is closed.
type chanAwaitable chan struct{}

func (c chanAwaitable) Done() <-chan struct{} { return c }

// Wait for all of its futures waits for each in turn; when it gives up (a
// timeout, ctx ended) the ones that became ready meanwhile, behind the one
// it waited for, count as ready, as when it waits for some of them.
func TestWaitForAllGivesUp(t *testing.T) {
	for _, how := range []string{"timeout", "ctx", "some"} {
		t.Run(how, func(t *testing.T) {
			futs := []chanAwaitable{make(chan struct{}), make(chan struct{}), make(chan struct{})}
			close(futs[0])
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			timeout, n := 200*time.Millisecond, len(futs)
			switch how {
			case "ctx":
				timeout = -1
				time.AfterFunc(200*time.Millisecond, cancel)
			case "some":
				n = 2 // (the goroutine each)
			}
			time.AfterFunc(20*time.Millisecond, func() { close(futs[2]) })
			ready, notReady, err := shoal.Wait(ctx, futs, n, timeout)
			if how == "ctx" && !errors.Is(err, context.Canceled) || how != "ctx" && err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if len(ready) != 2 || len(notReady) != 1 || ready[0] != futs[0] || ready[1] != futs[2] || notReady[0] != futs[1] {
				t.Fatalf("Wait(%d) gave up (%s): %d ready, %d not", n, how, len(ready), len(notReady))
			}
		})
	}
}
