package shoal_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
)

// The early-release stress test (issue 13, acceptance 2): calls over every
// route, whose arguments come from every route and are released at random
// points of the call's life, while actors are killed and task executors
// crash at random. Every call returns its correct value or a typed error
// that names its cause; none hangs; at the end no object outlives its last
// holder.

var (
	stressAdd       = shoal.Func2("test.stressAdd", func(_ context.Context, a, b int) (int, error) { return a + b, nil })
	stressAddMethod = shoal.Method2(twiceClass, "Add", func(_ context.Context, _ *twiceActor, a, b int) (int, error) { return a + b, nil })
	// stressSum borrows the futures inside its argument and sums them.
	stressSum = shoal.Func1("test.stressSum", sumOf)
	// stressNested submits the addition itself and waits for it.
	stressNested = shoal.Func2("test.stressNested", func(ctx context.Context, fs []*shoal.Future[int], k int) (int, error) {
		return stressAdd.Remote(ctx, fs[0], k).Get(ctx)
	})
	stressLen = shoal.Func2("test.stressLen", func(_ context.Context, b []byte, k int) (int, error) { return len(b) + k, nil })
)

// stressCalls is how many calls the test checks (each with an argument
// made by another call or a Put); SHOAL_STRESS_CALLS changes it.
func stressCalls(t *testing.T) int {
	if s := os.Getenv("SHOAL_STRESS_CALLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("SHOAL_STRESS_CALLS=%q is not a positive number", s)
		}
		return n
	}
	return 100_000
}

// stressActor leaves the tasks room: four actors holding a whole CPU each
// would take every CPU of the cluster, and the tasks would wait for ever.
var stressActor = shoal.WithResources(shoal.Resources{CPU: 0.25})

// actorSet is a set of actors that a killer replaces at random.
type actorSet struct {
	mu     sync.Mutex
	actors []*shoal.ActorHandle[twiceActor]
	all    []*shoal.ActorHandle[twiceActor]
}

func (s *actorSet) pick(r *rand.Rand) *shoal.ActorHandle[twiceActor] {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.actors[r.IntN(len(s.actors))]
}

// replace kills a random actor and puts a new one in its place.
func (s *actorSet) replace(ctx context.Context, r *rand.Rand) error {
	h, err := twiceClass.New(ctx, nil, stressActor)
	if err != nil {
		return err
	}
	s.mu.Lock()
	i := r.IntN(len(s.actors))
	old := s.actors[i]
	s.actors[i] = h
	s.all = append(s.all, h)
	s.mu.Unlock()
	return old.Kill(ctx)
}

// stressOutcome checks one call's outcome: its value, or an error of a
// kind the faults explain, naming its cause.
type stressOutcome struct {
	values, actorDied, executor, cancelled, released atomic.Int64
	mu                                               sync.Mutex
	bad                                              []string
}

// done counts the calls checked so far.
func (o *stressOutcome) done() int64 {
	return o.values.Load() + o.actorDied.Load() + o.executor.Load() + o.cancelled.Load() + o.released.Load()
}

func (o *stressOutcome) check(what string, got, want int, err error, cancelled bool) {
	switch {
	case err == nil && got == want:
		o.values.Add(1)
		return
	case err == nil:
		o.fail(fmt.Sprintf("%s returned %d, want %d", what, got, want))
		return
	case errors.Is(err, shoal.ErrActorDied) && strings.Contains(err.Error(), "actor"):
		o.actorDied.Add(1)
		return
	case errors.Is(err, shoal.ErrExecutor) && strings.Contains(err.Error(), "executor"):
		o.executor.Add(1)
		return
	case cancelled && errors.Is(err, shoal.ErrCancelled):
		o.cancelled.Add(1)
		return
	}
	o.fail(fmt.Sprintf("%s: %v", what, err))
}

func (o *stressOutcome) fail(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.bad) < 20 {
		o.bad = append(o.bad, msg)
	}
}

func TestEarlyReleaseStress(t *testing.T) {
	if testing.Short() {
		t.Skip("the stress test takes a minute")
	}
	total := stressCalls(t)
	c := startCluster(t, 2, "--cpus", "2")
	ctx := within(t, connect(t, c), 10*time.Minute)
	seed := time.Now().UnixNano()
	if s := os.Getenv("SHOAL_STRESS_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (SHOAL_STRESS_SEED), %d calls", seed, total)

	set := &actorSet{}
	for range 4 {
		h, err := twiceClass.New(ctx, nil, stressActor)
		if err != nil {
			t.Fatal(err)
		}
		set.actors = append(set.actors, h)
		set.all = append(set.all, h)
	}
	out := &stressOutcome{}
	stop := make(chan struct{})
	var faults sync.WaitGroup
	faults.Add(1)
	go func() {
		// Faults, paced by the work done (so that a slow run, under the
		// race detector, sees as many per call): an actor killed and
		// replaced every ~300 calls, a task executor crashed (os.Exit in a
		// task) every ~2,000.
		defer faults.Done()
		r := rand.New(rand.NewPCG(uint64(seed), 1))
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		next := int64(0)
		for i := 0; ; i++ {
			next += int64(200 + r.IntN(200))
			for out.done() < next {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
			if err := set.replace(ctx, r); err != nil && ctx.Err() == nil {
				t.Errorf("replacing an actor: %v", err)
				return
			}
			if i%7 == 6 {
				crash.With(shoal.WithMaxRetries(0)).Remote(ctx, 3).Release()
			}
		}
	}()

	go func() {
		// A stall (no call answered for 30 s) is reported with the
		// cluster's task counts, to see where the calls wait.
		last := int64(-1)
		for {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Second):
			}
			if d := out.done(); d == last {
				st, err := shoal.ClusterStatus(ctx)
				t.Logf("no call answered for 30 s (%d of %d done); tasks by state %v, %v", d, total, st.TasksByState, err)
			} else {
				last = d
			}
		}
	}()
	const workers, batch = 8, 250
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(seed), uint64(w)+2))
			for {
				start := next.Add(batch) - batch
				if start >= int64(total) || t.Failed() {
					return
				}
				n := min(batch, total-int(start))
				stressBatch(ctx, r, set, out, int(start), n)
			}
		}()
	}
	wg.Wait()
	close(stop)
	faults.Wait()
	t.Logf("%d values, %d ErrActorDied, %d ErrExecutor, %d cancelled, %d released unread",
		out.values.Load(), out.actorDied.Load(), out.executor.Load(), out.cancelled.Load(), out.released.Load())
	for _, b := range out.bad {
		t.Error(b)
	}
	if got := out.done(); got != int64(total) && !t.Failed() {
		t.Fatalf("%d of %d calls accounted for", got, total)
	}
	if out.values.Load() < int64(total)/2 {
		t.Errorf("only %d of %d calls returned their value", out.values.Load(), total)
	}
	// Nothing outlives its last holder: once every handle is let go, the
	// head's directory and the nodes' stores empty.
	set.mu.Lock()
	for _, h := range set.all {
		h.Kill(ctx)
		h.Release()
	}
	set.mu.Unlock()
	requireStoreEmpty(t, ctx)
	requireResourcesBack(t, ctx)
}

// stressBatch makes n calls (numbered from first), each on an argument
// from a random route released at a random point, then checks them.
func stressBatch(ctx context.Context, r *rand.Rand, set *actorSet, out *stressOutcome, first, n int) {
	type pending struct {
		what      string
		f         *shoal.Future[int]
		want      int
		cancelled bool
		release   []func()
	}
	calls := make([]pending, 0, n)
	var later sync.WaitGroup
	for i := range n {
		v, k := first+i, r.IntN(1000)
		var arg *shoal.Future[int]
		producer := ""
		switch r.IntN(5) {
		case 0:
			producer = "Put"
			p, err := shoal.Put(ctx, v)
			if err != nil {
				out.fail(fmt.Sprintf("Put: %v", err))
				continue
			}
			arg = p
		case 1:
			producer, arg = "leased task", stressAdd.Remote(ctx, v, 0)
		case 2:
			producer, arg = "head task", stressAdd.With(shoal.WithSpread()).Remote(ctx, v, 0)
		case 3:
			producer, arg = "direct call", stressAddMethod.Remote(ctx, set.pick(r), v, 0)
		case 4:
			// A call through the head: its argument is a future (a Put,
			// released at once).
			p, err := shoal.Put(ctx, v)
			if err != nil {
				out.fail(fmt.Sprintf("Put: %v", err))
				continue
			}
			producer, arg = "head call", stressAddMethod.Remote(ctx, set.pick(r), p, 0)
			p.Release()
		}
		var f *shoal.Future[int]
		consumer := ""
		switch r.IntN(6) {
		case 0, 1:
			consumer, f = "head task", stressAdd.Remote(ctx, arg, k)
		case 2, 3:
			consumer, f = "actor call", stressAddMethod.Remote(ctx, set.pick(r), arg, k)
		case 4:
			consumer, f = "borrowing task", stressSum.Remote(ctx, []*shoal.Future[int]{arg})
			k = 0
		case 5:
			consumer, f = "nested task", stressNested.Remote(ctx, []*shoal.Future[int]{arg}, k)
		}
		if r.IntN(50) == 0 {
			// A large argument, Put by Remote and released by it.
			big := make([]byte, 100<<10+r.IntN(100))
			consumer, f, v = "large argument", stressLen.Remote(ctx, big, k), len(big)
		}
		p := pending{what: fmt.Sprintf("call %d (%s of a %s)", v, consumer, producer), f: f, want: v + k}
		switch r.IntN(4) {
		case 0: // at once
			arg.Release()
		case 1: // a moment later, from another goroutine
			later.Add(1)
			d := time.Duration(r.IntN(2000)) * time.Microsecond
			go func() {
				defer later.Done()
				time.Sleep(d)
				arg.Release()
			}()
		case 2: // after the call's result is read
			p.release = append(p.release, arg.Release)
		case 3: // never: the garbage collector's cleanup lets it go
		}
		switch r.IntN(40) {
		case 0:
			p.cancelled = true
			f.Cancel()
		case 1:
			// Released unread: nothing waits for it, nothing may leak.
			f.Release()
			out.released.Add(1)
			continue
		}
		calls = append(calls, p)
	}
	for _, p := range calls {
		wait, cancel := context.WithTimeout(ctx, time.Minute)
		got, err := p.f.Get(wait)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			out.fail(p.what + ": no answer within a minute")
		} else {
			out.check(p.what, got, p.want, err, p.cancelled)
		}
		p.f.Release()
		for _, rel := range p.release {
			rel()
		}
	}
	later.Wait()
}

// requireStoreEmpty waits until the head knows no object and the nodes'
// stores hold none.
func requireStoreEmpty(t *testing.T, ctx context.Context) {
	t.Helper()
	var last string
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC() // futures dropped unreleased go by their cleanups
		st, err := shoal.ClusterStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stored := int64(0)
		for _, n := range st.Nodes {
			stored += n.StoreObjects
		}
		if st.Objects == 0 && stored == 0 {
			return
		}
		last = fmt.Sprintf("the head knows %d objects (%d bytes), the stores hold %d", st.Objects, st.ObjectBytes, stored)
		if time.Now().After(deadline) {
			t.Fatalf("objects outlived their holders: %s", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requireResourcesBack waits until every node's resources are all free and
// no worker lease is held: nothing a blocked, cancelled, retried, leased or
// killed piece of work held is left counted.
func requireResourcesBack(t *testing.T, ctx context.Context) {
	t.Helper()
	var last string
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := shoal.ClusterStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last = ""
		for _, n := range st.Nodes {
			if n.Alive && (!reflect.DeepEqual(n.Available, n.Total) || n.Leases != 0 || n.SharedLeases != 0 || n.Running != 0) {
				last += fmt.Sprintf(" node %s: %s free of %s, %d running, %d leases (%d shared);", n.ID, n.Available, n.Total, n.Running, n.Leases, n.SharedLeases)
			}
		}
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("resources not given back:%s", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
