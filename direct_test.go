package shoal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/testwait"
)

// Direct actor calls (docs/proposals/direct-calls.md): calls with inline
// arguments on a ready actor go straight to its executor. These tests hold
// the invariants that path must keep: order across paths, results that
// leave the caller, death, kill, cancel, large results and lifetime.

var (
	bigResult = shoal.Method1(ledgerClass, "Big", func(_ context.Context, l *ledger, n int) ([]byte, error) {
		l.seen = append(l.seen, -2)
		return blobBytes(n, n), nil
	})
	exitNow = shoal.Method1(ledgerClass, "Exit", func(_ context.Context, _ *ledger, code int) (int, error) {
		os.Exit(code)
		return 0, nil
	})
	gateWait = shoal.Method1(ledgerClass, "GateWait", func(ctx context.Context, _ *ledger, name string) (int, error) {
		select {
		case <-gate(name):
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	gateOpen = shoal.Method1(ledgerClass, "GateOpen", func(_ context.Context, _ *ledger, name string) (int, error) {
		close(gate(name))
		return 2, nil
	})
)

// gates are latches by name in an executor process, where the calls of an
// actor meet.
var gates sync.Map

func gate(name string) chan struct{} {
	ch, _ := gates.LoadOrStore(name, make(chan struct{}))
	return ch.(chan struct{})
}

func directSent(t *testing.T, ctx context.Context) int64 {
	t.Helper()
	c, ok := client.FromContext(ctx)
	if !ok {
		t.Fatal("no client in the context")
	}
	return c.DirectCallsSent()
}

func readyLedger(t *testing.T, ctx context.Context, opts ...shoal.ActorOption) *shoal.ActorHandle[ledger] {
	t.Helper()
	h, err := ledgerClass.New(ctx, 100, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// Calls keep their order when some must go through the head (a future
// among the arguments, which is a direct result itself) and the rest go
// direct.
func TestDirectCallsKeepOrderAcrossPaths(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	h := readyLedger(t, ctx)
	defer h.Kill(ctx)
	before := directSent(t, ctx)
	const n = 600
	futs := make([]*shoal.Future[int], n)
	for i := range futs {
		if i%50 == 25 {
			// The future of the previous call, a direct call's result: it
			// must be made known to the head before the head sees it.
			futs[i] = record.Remote(ctx, h, futs[i-1])
			continue
		}
		futs[i] = record.Remote(ctx, h, i)
	}
	requireRanInOrder(t, ctx, futs)
	seen, err := history.Remote(ctx, h).Get(ctx)
	if err != nil || len(seen) != n {
		t.Fatalf("history: %d entries, %v", len(seen), err)
	}
	for i, v := range seen {
		// Call i records i; a call that took the previous call's future
		// records that call's count, which is i too.
		if v != i {
			t.Fatalf("position %d holds %d, want %d", i, v, i)
		}
	}
	if sent := directSent(t, ctx) - before; sent < n/2 {
		t.Fatalf("only %d of %d calls went direct", sent, n)
	}
}

// A direct call's result used by a task while it is still running (the
// head hears of it as pending, then its value), and after it finished.
func TestDirectResultLeavesTheCaller(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	h := readyLedger(t, ctx)
	defer h.Kill(ctx)
	before := directSent(t, ctx)
	slow := slowRecord.Remote(ctx, h, 200*time.Millisecond) // 1
	sq := square.Remote(ctx, slow)                          // waits for it at the head
	if v, err := sq.Get(ctx); err != nil || v != 1 {
		t.Fatalf("square of a pending direct result: %d %v", v, err)
	}
	done := record.Remote(ctx, h, 5) // 2
	if _, err := done.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := add.Remote(ctx, done, done).Get(ctx); err != nil || v != 4 {
		t.Fatalf("add of a finished direct result: %d %v", v, err)
	}
	// Inside a Put's value, read back through the head.
	type box struct{ F *shoal.Future[int] }
	put, err := shoal.Put(ctx, box{F: done})
	if err != nil {
		t.Fatal(err)
	}
	got, err := put.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := got.F.Get(ctx); err != nil || v != 2 {
		t.Fatalf("nested direct result: %d %v", v, err)
	}
	// A failed direct call's error reaches a task that takes its future.
	failed := record.Remote(ctx, h, "not a number")
	if _, err := square.Remote(ctx, failed).Get(ctx); err == nil {
		t.Fatal("a task whose argument failed succeeded")
	}
	if directSent(t, ctx)-before < 2 {
		t.Fatal("the calls did not go direct")
	}
}

// Killing an actor fails the direct calls queued and running on it with
// the head's account of its death, which names it.
func TestDirectCallsFailWhenActorKilled(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	h := readyLedger(t, ctx, shoal.WithActorName("doomed-direct"))
	before := directSent(t, ctx)
	var futs []*shoal.Future[int]
	for range 5 {
		futs = append(futs, slowRecord.Remote(ctx, h, time.Hour))
	}
	if directSent(t, ctx)-before != 5 {
		t.Fatalf("%d of 5 calls went direct", directSent(t, ctx)-before)
	}
	time.Sleep(20 * time.Millisecond) // one running, four queued; all must fail either way
	if err := h.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	for i, f := range futs {
		_, err := f.Get(ctx)
		if !errors.Is(err, shoal.ErrActorDied) || !strings.Contains(err.Error(), `"doomed-direct"`) || !strings.Contains(err.Error(), "was killed") {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := record.Remote(ctx, h, 1).Get(ctx); !errors.Is(err, shoal.ErrActorDied) || !strings.Contains(err.Error(), "was killed") {
		t.Fatalf("call after the kill: %v", err)
	}
}

// An executor that dies under direct calls fails them with ErrActorDied;
// later calls learn of the death from the head.
func TestDirectCallsFailWhenExecutorDies(t *testing.T) {
	ctx := within(t, connect(t, startCluster(t, 1)), time.Minute)
	h := readyLedger(t, ctx, shoal.WithActorName("mortal"))
	if _, err := record.Remote(ctx, h, 1).Get(ctx); err != nil {
		t.Fatal(err)
	}
	slow := slowRecord.Remote(ctx, h, time.Hour)
	exit := exitNow.Remote(ctx, h, 3) // queued behind the slow call
	slow.Cancel()
	for i, f := range []*shoal.Future[int]{slow, exit} {
		if _, err := f.Get(ctx); err == nil {
			t.Fatalf("call %d succeeded", i)
		}
	}
	if _, err := exit.Get(ctx); !errors.Is(err, shoal.ErrActorDied) || !strings.Contains(err.Error(), "mortal") {
		t.Fatalf("the call that ended the executor: %v", err)
	}
	if _, err := record.Remote(ctx, h, 2).Get(ctx); !errors.Is(err, shoal.ErrActorDied) {
		t.Fatalf("a call after the death: %v", err)
	}
}

// A result too large to travel inline stays in the executor's node store
// and is registered with the head; releasing it frees it.
func TestDirectLargeResult(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), time.Minute)
	h := readyLedger(t, ctx)
	defer h.Kill(ctx)
	before := directSent(t, ctx)
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	baseline := st.ObjectBytes
	const size = 3 << 20
	f := bigResult.Remote(ctx, h, size)
	b, err := f.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, blobBytes(size, size)) {
		t.Fatal("the large result differs")
	}
	if directSent(t, ctx)-before != 1 {
		t.Fatal("the call did not go direct")
	}
	// Its bytes are in a node's store, as the head knows; a task reads them.
	if d, err := digest.Remote(ctx, f).Get(ctx); err != nil || d == "" {
		t.Fatalf("a task reading the large result: %q %v", d, err)
	}
	f.Release()
	testwait.Within(t, 20*time.Second, "the large result freed", func() bool {
		st, err := shoal.ClusterStatus(ctx)
		return err == nil && st.ObjectBytes < baseline+size/2
	})
}

// Releasing the last handle while direct calls are in flight lets them
// finish: the head ends the actor only after them.
func TestDirectCallsOutliveReleasedHandle(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	h := readyLedger(t, ctx)
	var futs []*shoal.Future[int]
	futs = append(futs, slowRecord.Remote(ctx, h, 100*time.Millisecond))
	for i := range 100 {
		futs = append(futs, record.Remote(ctx, h, i))
	}
	h.Release()
	requireRanInOrder(t, ctx, futs)
}

// Cancelling a direct call stops it where it runs.
func TestDirectCallCancel(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	h := readyLedger(t, ctx)
	defer h.Kill(ctx)
	cctx, cancel := context.WithCancel(ctx)
	f := slowRecord.Remote(cctx, h, time.Hour)
	queued := slowRecord.Remote(cctx, h, time.Hour)
	time.Sleep(20 * time.Millisecond)
	cancel()
	for i, g := range []*shoal.Future[int]{f, queued} {
		if _, err := g.Get(ctx); !errors.Is(err, shoal.ErrCancelled) {
			t.Fatalf("cancelled call %d: %v", i, err)
		}
	}
	if v, err := record.Remote(ctx, h, 1).Get(ctx); err != nil || v != 1 {
		t.Fatalf("a call after the cancelled ones: %d %v", v, err)
	}
}

// The executor runs a synchronous caller's call on the connection's reader;
// a call that runs long there must not hold up the caller's next call on
// that connection (here, to the same actor, which runs two calls at once:
// the next call is the one that lets the first finish).
func TestDirectLongCallDoesNotHoldUpTheNext(t *testing.T) {
	ctx := within(t, connect(t, startCluster(t, 1)), time.Minute)
	a := readyLedger(t, ctx, shoal.WithMaxConcurrency(2))
	defer a.Kill(ctx)
	// (Calls on an open connection leave one to a request.)
	if _, err := record.Remote(ctx, a, 1).Get(ctx); err != nil {
		t.Fatal(err)
	}
	before := directSent(t, ctx)
	name := fmt.Sprint("gate-", time.Now().UnixNano())
	waiting := gateWait.Remote(ctx, a, name)
	if v, err := gateOpen.Remote(ctx, a, name).Get(ctx); err != nil || v != 2 {
		t.Fatalf("opening the gate: %d %v", v, err)
	}
	if v, err := waiting.Get(ctx); err != nil || v != 1 {
		t.Fatalf("waiting at the gate: %d %v", v, err)
	}
	if sent := directSent(t, ctx) - before; sent != 2 {
		t.Fatalf("%d of the 2 calls went straight to the executor", sent)
	}
}

// Kill is asynchronous, but a caller's calls after it fail: they must not
// reach the actor's executor straight before the head's word of the kill.
func TestDirectCallAfterKillFails(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	for i := range 10 {
		h := readyLedger(t, ctx)
		if _, err := record.Remote(ctx, h, i).Get(ctx); err != nil {
			t.Fatalf("a call before the kill: %v", err)
		}
		if err := h.Kill(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := record.Remote(ctx, h, i).Get(ctx); !errors.Is(err, shoal.ErrActorDied) {
			t.Fatalf("round %d: a call right after the kill: %v", i, err)
		}
	}
}
