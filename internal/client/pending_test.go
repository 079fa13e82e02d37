package client

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// submitAsync submits a task from another goroutine; the reference comes
// on the channel once Submit returned.
func submitAsync(ctx context.Context, c *Client, fn string) <-chan *Ref {
	out := make(chan *Ref, 1)
	go func() { out <- c.Submit(ctx, task(fn), false) }()
	return out
}

func notReturned(t *testing.T, refs <-chan *Ref, d time.Duration) {
	t.Helper()
	select {
	case r := <-refs:
		t.Fatalf("Submit returned %s at the bound", r.ID.Short())
	case <-time.After(d): // a bound on "returned early", not a wait for a condition
	}
}

func returned(t *testing.T, refs <-chan *Ref) *Ref {
	t.Helper()
	select {
	case r := <-refs:
		return r
	case <-time.After(wait):
		t.Fatal("Submit still waits")
		return nil
	}
}

// At the bound Submit waits; it resumes when a task finishes, when the
// head says a released one ended, and fails with the context's error when
// its context ends first.
func TestPendingBoundWaitsAndResumes(t *testing.T) {
	h := newFakeHead(t)
	c, s := newTestClient(t, h, func(cfg *Config) { cfg.MaxPendingTasks = 2 })
	ctx := context.Background()

	r1 := c.Submit(ctx, task("a"), false)
	r2 := c.Submit(ctx, task("b"), false)
	s.want(t, "submit", r1.ID)
	s.want(t, "submit", r2.ID)
	if n, max := c.PendingTasks(); n != 2 || max != 2 {
		t.Fatalf("PendingTasks = %d, %d; want 2, 2", n, max)
	}

	third := submitAsync(ctx, c, "c")
	notReturned(t, third, 50*time.Millisecond)
	s.ready(r1.ID, []byte("one"))
	r3 := returned(t, third)
	s.want(t, "submit", r3.ID)

	// A reference released before its task finished keeps its slot until
	// the head says the task ended.
	r2.Release()
	s.want(t, "release", r2.ID)
	fourth := submitAsync(ctx, c, "d")
	notReturned(t, fourth, 50*time.Millisecond)
	s.tell(&pb.HeadMessage{ReleasedDone: [][]byte{r2.ID.Bytes()}})
	r4 := returned(t, fourth)
	s.want(t, "submit", r4.ID)

	// Cancelled while waiting: a failed reference with the context's
	// error, nothing sent, and no slot kept.
	cctx, cancel := context.WithCancel(ctx)
	fifth := submitAsync(cctx, c, "e")
	notReturned(t, fifth, 50*time.Millisecond)
	cancel()
	r5 := returned(t, fifth)
	readyWithin(t, r5)
	if !errors.Is(r5.Err(), context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", r5.Err())
	}
	if n, _ := c.PendingTasks(); n != 2 {
		t.Fatalf("PendingTasks = %d after a cancelled wait, want 2", n)
	}
	s.none(t, "submit", r5.ID, 20*time.Millisecond)

	// A failure (here the head's refusal) gives the slot back too.
	s.tell(&pb.HeadMessage{Objects: []*pb.ObjectStatus{{Id: r3.ID.Bytes(), State: pb.ObjectState_OBJECT_STATE_FAILED,
		Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_TOO_MANY_PENDING, Message: "refused"}}}})
	readyWithin(t, r3)
	returned(t, submitAsync(ctx, c, "f"))
}

// The client's bound never exceeds the cap the head announces.
func TestPendingBoundFollowsHeadCap(t *testing.T) {
	h := newFakeHead(t)
	h.maxPending = 3
	c, _ := newTestClient(t, h, func(cfg *Config) { cfg.MaxPendingTasks = 1000 })
	if _, max := c.PendingTasks(); max != 3 {
		t.Fatalf("bound %d, want the head's cap 3", max)
	}
	t.Setenv(EnvMaxPendingTasks, "7")
	h2 := newFakeHead(t)
	c2, _ := newTestClient(t, h2)
	if _, max := c2.PendingTasks(); max != 7 {
		t.Fatalf("bound %d, want $%s's 7", max, EnvMaxPendingTasks)
	}
}

// Inside a task, a submission at the bound reports the task blocked while
// it waits, and a task with no unfinished child takes a pass instead of
// waiting (now, or once its last child finished): slots held by tasks that
// wait in turn cannot deadlock a tree of nested tasks.
func TestPendingBoundInsideTask(t *testing.T) {
	h := newFakeHead(t)
	var mu sync.Mutex
	var blocks []bool
	c, s := newTestClient(t, h, func(cfg *Config) {
		cfg.MaxPendingTasks = 1
		cfg.OnBlock = func(_ ids.ID, blocked bool) {
			mu.Lock()
			blocks = append(blocks, blocked)
			mu.Unlock()
		}
	})
	base := context.Background()
	other := c.Submit(base, task("other"), false) // the only slot
	s.want(t, "submit", other.ID)

	scope := &TaskScope{ID: ids.Random(), Ctx: base}
	ctx := WithTask(base, scope)
	child := returned(t, submitAsync(ctx, c, "child")) // the pass: no unfinished child
	s.want(t, "submit", child.ID)
	second := submitAsync(ctx, c, "second") // waits: the task has a child
	notReturned(t, second, 50*time.Millisecond)
	mu.Lock()
	if len(blocks) != 1 || !blocks[0] {
		t.Fatalf("OnBlock calls %v, want [true]", blocks)
	}
	mu.Unlock()
	s.ready(child.ID, []byte("c")) // its last child finished: a pass again
	r := returned(t, second)
	s.want(t, "submit", r.ID)
	mu.Lock()
	if len(blocks) != 2 || blocks[1] {
		t.Fatalf("OnBlock calls %v, want [true false]", blocks)
	}
	mu.Unlock()
	if n, _ := c.PendingTasks(); n != 1 {
		t.Fatalf("PendingTasks = %d (passes take no slot), want 1", n)
	}
}

// Work released before it finished gives its slot back when the session is
// replaced: a restarted head never hears of it, and so never says it ended.
func TestPendingBoundAfterReconnect(t *testing.T) {
	h := newFakeHead(t)
	c, s := newTestClient(t, h, func(cfg *Config) { cfg.MaxPendingTasks = 1 })
	ctx := context.Background()
	r := c.Submit(ctx, task("a"), false)
	s.want(t, "submit", r.ID)
	r.Release()
	s.want(t, "release", r.ID)
	next := submitAsync(ctx, c, "b")
	notReturned(t, next, 50*time.Millisecond)
	s.lose()
	s2 := h.session()
	r2 := returned(t, next)
	s2.want(t, "submit", r2.ID)
}
