package shoal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
)

// ledger records the calls it received, in order.
type ledger struct {
	seen []int
}

var (
	ledgerClass = shoal.Actor1("test.Ledger", func(_ context.Context, capacity int) (*ledger, error) {
		if capacity < 0 {
			return nil, errors.New("capacity must not be negative")
		}
		return &ledger{seen: make([]int, 0, capacity)}, nil
	})
	record = shoal.Method1(ledgerClass, "Record", func(_ context.Context, l *ledger, v int) (int, error) {
		l.seen = append(l.seen, v)
		return len(l.seen), nil
	})
	history = shoal.Method0(ledgerClass, "History", func(_ context.Context, l *ledger) ([]int, error) {
		return l.seen, nil
	})
	slowRecord = shoal.Method1(ledgerClass, "SlowRecord", func(ctx context.Context, l *ledger, d time.Duration) (int, error) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		l.seen = append(l.seen, -1)
		return len(l.seen), nil
	})
)

// gauge measures how many calls run at once.
type gauge struct {
	active, peak atomic.Int32
}

var (
	gaugeClass = shoal.Actor0("test.Gauge", func(context.Context) (*gauge, error) { return &gauge{}, nil })
	hold       = shoal.Method1(gaugeClass, "Hold", func(_ context.Context, g *gauge, d time.Duration) (int32, error) {
		n := g.active.Add(1)
		for {
			p := g.peak.Load()
			if n <= p || g.peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(d)
		g.active.Add(-1)
		return g.peak.Load(), nil
	})
	whoami = shoal.Method1(gaugeClass, "Whoami", func(_ context.Context, g *gauge, x int) (string, error) {
		return fmt.Sprintf("%d:%p", os.Getpid(), g), nil
	})
	// callThroughHandle runs in a task and calls an actor it was handed.
	callThroughHandle = shoal.Func2("test.callThroughHandle", func(ctx context.Context, h *shoal.ActorHandle[ledger], v int) (int, error) {
		return record.Remote(ctx, h, v).Get(ctx)
	})
)

func TestActorStateAndOrder(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	h, err := ledgerClass.New(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	futs := make([]*shoal.Future[int], n)
	for i := range futs {
		futs[i] = record.Remote(ctx, h, i)
	}
	requireRanInOrder(t, ctx, futs)
	seen, err := history.Remote(ctx, h).Get(ctx)
	if err != nil || len(seen) != n {
		t.Fatalf("history: %d entries, %v", len(seen), err)
	}
	for i, v := range seen {
		if v != i {
			t.Fatalf("call %d ran in position %d", v, i)
		}
	}
	// A handle passed to a task reaches the same actor.
	if c, err := callThroughHandle.Remote(ctx, h, 7).Get(ctx); err != nil || c != n+1 {
		t.Fatalf("call through a task: %d %v", c, err)
	}
	// A future as a method argument: calls keep their order while it waits.
	slow := sleepThen.Remote(ctx, 50*time.Millisecond, 42)
	first := record.Remote(ctx, h, slow)
	second := record.Remote(ctx, h, 43)
	if a, err := first.Get(ctx); err != nil || a != n+2 {
		t.Fatalf("first: %d %v", a, err)
	}
	if b, err := second.Get(ctx); err != nil || b != n+3 {
		t.Fatalf("second ran before the first: %d %v", b, err)
	}
}

// requireRanInOrder checks that the i-th of a fresh ledger's calls saw i
// earlier calls (each returns the ledger's length after it).
func requireRanInOrder(t *testing.T, ctx context.Context, futs []*shoal.Future[int]) {
	t.Helper()
	counts, err := shoal.GetAll(ctx, futs)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("call %d saw %d earlier calls", i, c-1)
		}
	}
}

var sleepThen = shoal.Func2("test.sleepThen", func(_ context.Context, d time.Duration, v int) (int, error) {
	time.Sleep(d)
	return v, nil
})

func TestActorMaxConcurrency(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			h, err := gaugeClass.New(ctx, nil, shoal.WithMaxConcurrency(limit))
			if err != nil {
				t.Fatal(err)
			}
			futs := make([]*shoal.Future[int32], 12)
			for i := range futs {
				futs[i] = hold.Remote(ctx, h, 30*time.Millisecond)
			}
			peaks, err := shoal.GetAll(ctx, futs)
			if err != nil {
				t.Fatal(err)
			}
			peak := peaks[len(peaks)-1]
			if peak > int32(limit) {
				t.Fatalf("%d calls ran at once with MaxConcurrency %d", peak, limit)
			}
			if limit > 1 && peak < 2 {
				t.Fatalf("calls never overlapped with MaxConcurrency %d", limit)
			}
			h.Kill(ctx)
		})
	}
}

func TestNamedActorFromAnotherDriver(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), time.Minute)
	h, err := ledgerClass.New(ctx, 10, shoal.WithActorName("shared-ledger"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := record.Remote(ctx, h, 1).Get(ctx); err != nil {
		t.Fatal(err)
	}
	other := within(t, connect(t, c, shoal.WithJobName("second-driver")), time.Minute)
	found, err := shoal.GetActor[ledger](other, "shared-ledger")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := record.Remote(other, found, 2).Get(other); err != nil || n != 2 {
		t.Fatalf("call from the second driver: %d %v", n, err)
	}
	if _, err := shoal.GetActor[gauge](other, "shared-ledger"); err == nil || !strings.Contains(err.Error(), "is a test.Ledger, not a test.Gauge") {
		t.Fatalf("lookup with the wrong type: %v", err)
	}
	if _, err := shoal.GetActor[ledger](other, "nobody"); !errors.Is(err, shoal.ErrActorDied) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Fatalf("lookup of a missing name: %v", err)
	}
	// Names are unique.
	dup, err := ledgerClass.New(ctx, 1, shoal.WithActorName("shared-ledger"))
	if err != nil {
		t.Fatal(err)
	}
	if err := dup.Ready(ctx); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second actor with the same name: %v", err)
	}
	h.Kill(ctx)
}

func TestKillFailsPendingCalls(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	h, err := ledgerClass.New(ctx, 10, shoal.WithActorName("doomed"))
	if err != nil {
		t.Fatal(err)
	}
	var futs []*shoal.Future[int]
	for range 5 {
		futs = append(futs, slowRecord.Remote(ctx, h, time.Hour))
	}
	time.Sleep(20 * time.Millisecond) // some calls queued, one running; either way all must fail
	if err := h.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	for i, f := range futs {
		_, err := f.Get(ctx)
		if !errors.Is(err, shoal.ErrActorDied) || !strings.Contains(err.Error(), `"doomed"`) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := record.Remote(ctx, h, 1).Get(ctx); !errors.Is(err, shoal.ErrActorDied) || !strings.Contains(err.Error(), "was killed") {
		t.Fatalf("call after the kill: %v", err)
	}
	// The name is free again.
	if _, err := shoal.GetActor[ledger](ctx, "doomed"); !errors.Is(err, shoal.ErrActorDied) {
		t.Fatalf("a killed actor is still found: %v", err)
	}
}

func TestActorConstructorFailure(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	h, err := ledgerClass.New(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Ready(ctx); err == nil || !strings.Contains(err.Error(), "capacity must not be negative") {
		t.Fatalf("Ready: %v", err)
	}
	if _, err := record.Remote(ctx, h, 1).Get(ctx); err == nil || !strings.Contains(err.Error(), "capacity must not be negative") {
		t.Fatalf("call on a failed actor: %v", err)
	}
	if _, err := ledgerClass.New(ctx, "ten"); !errors.Is(err, shoal.ErrBadArgument) {
		t.Fatalf("constructor argument of the wrong type: %v", err)
	}
}

func TestActorPool(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), 2*time.Minute)
	pool := shoal.NewActorPool[gauge]()
	for range 4 {
		h, err := gaugeClass.New(ctx, nil, shoal.WithResources(shoal.Resources{CPU: 0.5}))
		if err != nil {
			t.Fatal(err)
		}
		defer h.Kill(ctx)
		if err := h.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		pool.Add(h)
	}
	const n = 10000
	items := make([]int, n)
	for i := range items {
		items[i] = i
	}
	who, err := shoal.PoolMap(ctx, pool, whoami, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(who) != n {
		t.Fatalf("%d results for %d calls", len(who), n)
	}
	perActor := map[string]int{}
	for _, w := range who {
		perActor[w]++
	}
	if len(perActor) != 4 {
		t.Fatalf("calls went to %d actors, want 4: %v", len(perActor), perActor)
	}
	for a, c := range perActor {
		if c < n/10 {
			t.Fatalf("actor %s took only %d of %d calls: %v", a, c, n, perActor)
		}
	}
	if pool.InFlight() != 0 || len(pool.Idle()) != 4 {
		t.Fatalf("after the map: %d in flight, %d idle", pool.InFlight(), len(pool.Idle()))
	}
}

func TestCancelActorCalls(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	h, err := ledgerClass.New(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Kill(ctx)
	running := slowRecord.Remote(ctx, h, time.Hour)
	queued := slowRecord.Remote(ctx, h, time.Hour)
	after := record.Remote(ctx, h, 5)
	queued.Cancel()
	running.Cancel()
	for name, f := range map[string]*shoal.Future[int]{"running": running, "queued": queued} {
		if _, err := f.Get(ctx); !errors.Is(err, shoal.ErrCancelled) {
			t.Fatalf("%s call: %v", name, err)
		}
	}
	// The actor goes on serving.
	if n, err := after.Get(ctx); err != nil || n != 1 {
		t.Fatalf("call after the cancelled ones: %d %v", n, err)
	}
}

// slowStart's constructor takes a while and does not watch its context.
// (A type of its own: a handle's Go type names its class.)
type slowStart struct{ calls int }

var slowStartClass = shoal.Actor1("test.SlowStart", func(_ context.Context, d time.Duration) (*slowStart, error) {
	time.Sleep(d)
	return &slowStart{}, nil
})

var slowStartRecord = shoal.Method1(slowStartClass, "Record", func(_ context.Context, s *slowStart, v int) (int, error) {
	s.calls++
	return s.calls, nil
})

// An actor killed while its constructor runs stays dead (calls fail with
// ErrActorDied, however the constructor ends) and its node gets its
// resources back: a constructor finishing after the kill used to bring the
// actor back, holding its CPUs.
func TestActorKilledWhileConstructing(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "2")
	ctx := within(t, connect(t, c), time.Minute)
	for i := range 5 {
		h, err := slowStartClass.New(ctx, time.Duration(50+40*i)*time.Millisecond, shoal.WithResources(shoal.Resources{CPU: 0.5}))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20*i) * time.Millisecond) // (killed at different points of its construction)
		if err := h.Kill(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := slowStartRecord.Remote(ctx, h, 1).Get(ctx); !errors.Is(err, shoal.ErrActorDied) {
			t.Fatalf("round %d: a call to the killed actor: %v", i, err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := shoal.ClusterStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := st.Nodes[0]
		if n.Available.CPU == n.Total.CPU && st.Actors == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after killing 5 actors while they were constructed: CPU %v free of %v, %d actors alive", n.Available.CPU, n.Total.CPU, st.Actors)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
