package client

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
)

// Submission backpressure. Each task, actor creation and actor call this
// client submits takes a slot of pendingBound until it finishes, whatever
// its route: a leased task or direct call may go to the head at any moment
// (a stalled pool, a broken connection), and an executor's queue costs
// memory too. Submitting at the bound waits, as Ray's actor
// max_pending_calls and pending lease requests do, for a slot or the
// caller's context; inside a task the wait is reported as blocked
// (Config.OnBlock), as a Get's is, so that the task's CPUs go to the work
// it waits for, and a task with no unfinished child never waits (acquire):
// nested submission never deadlocks the cluster.
//
// "Finished" rather than "started": what a waiting task costs the head
// (its spec, its result object, its place in the queues) stays until it
// finishes, and a running task is bounded by the cluster's CPUs anyway.
//
// A slot is given back when the work's reference is finished (its status,
// a direct answer, a failure, the client's end). A reference released
// before its work finished hears no status: it waits in Client.orphans for
// the head's released_done (or its direct answer), and gives its slot back
// at once when a new session replaces the one it was sent on (a restarted
// head knows nothing of it: it is not replayed).
//
// The bound is Config.MaxPendingTasks, else $SHOAL_MAX_PENDING_TASKS
// (which a driver's WithMaxPendingTasks passes on to its job's executors),
// else DefaultMaxPendingTasks, and never more than the head's cap
// (Welcome.max_pending_tasks), which refuses work past it.

// DefaultMaxPendingTasks is a client's bound on its unfinished work by
// default.
const DefaultMaxPendingTasks = 100_000

// EnvMaxPendingTasks overrides DefaultMaxPendingTasks in a process (an
// executor inherits it from its job's environment).
const EnvMaxPendingTasks = "SHOAL_MAX_PENDING_TASKS"

// pendingBound counts a client's unfinished work: a slot per piece, sent
// to take it and received to give it back.
type pendingBound struct {
	slots chan struct{}
}

// pendingLimit is the bound of a client configured with max (0: the
// environment's or the default).
func pendingLimit(max int) (int, error) {
	if max == 0 {
		max = DefaultMaxPendingTasks
		if s := os.Getenv(EnvMaxPendingTasks); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("$%s=%q: want a positive number of tasks", EnvMaxPendingTasks, s)
			}
			max = n
		}
	}
	if max < 0 {
		return 0, fmt.Errorf("a bound on unfinished tasks must be positive, got %d", max)
	}
	return max, nil
}

// newPendingBound makes a bound of limit, lowered to the cap of the head
// the client joined (headCap; 0: none).
func newPendingBound(limit int, headCap int64) *pendingBound {
	if headCap > 0 && int64(limit) > headCap {
		limit = int(headCap)
	}
	return &pendingBound{slots: make(chan struct{}, limit)}
}

// max is the bound.
func (b *pendingBound) max() int { return cap(b.slots) }

// share is what a submission holds of the bound: a slot of it, or (pass)
// none; scope is the task that submitted it (nil for a driver).
type share struct {
	pass  bool
	scope *TaskScope
}

// acquire takes a share of the bound for work (kind "task", "actor" or
// "call" of name), waiting while the bound is reached, until ctx or the
// client ends.
//
// Inside a task (ctx carries its scope) the wait is reported as blocked,
// and a task with no unfinished child of its own takes a pass instead of
// waiting (now, or as soon as its last child finishes): slots may all be
// held by tasks waiting in turn for slots for their own children (a tree
// of nested tasks in one executor), and the pass lets each such chain
// reach a leaf that runs and finishes. It exceeds the bound by at most
// one per running task of this client.
func (c *Client) acquire(ctx context.Context, kind, name string) (share, error) {
	b := c.pending
	scope, _ := ctx.Value(taskKey{}).(*TaskScope)
	sh := share{scope: scope}
	select {
	case b.slots <- struct{}{}:
		return sh.taken(), nil
	default:
	}
	for blocked := false; ; {
		var drained chan struct{}
		if scope != nil {
			scope.mu.Lock()
			if scope.unfinished == 0 {
				scope.unfinished++
				scope.mu.Unlock()
				sh.pass = true
				return sh, nil
			}
			if scope.drained == nil {
				scope.drained = make(chan struct{})
			}
			drained = scope.drained
			scope.mu.Unlock()
			if !blocked && c.cfg.OnBlock != nil {
				blocked = true
				c.cfg.OnBlock(scope.ID, true)
				defer c.cfg.OnBlock(scope.ID, false)
			}
		}
		select {
		case b.slots <- struct{}{}:
			return sh.taken(), nil
		case <-drained:
		case <-ctx.Done():
			return share{}, fmt.Errorf("waiting to submit %s %q: this session has %d tasks and calls that have not finished, its bound (shoal.WithMaxPendingTasks): %w",
				kind, name, b.max(), context.Cause(ctx))
		case <-c.ctx.Done():
			return share{}, fmt.Errorf("waiting to submit %s %q: %w", kind, name, errs.ErrClosed)
		}
	}
}

// taken counts a share that took a slot in its task's children.
func (sh share) taken() share {
	if sh.scope != nil {
		sh.scope.mu.Lock()
		sh.scope.unfinished++
		sh.scope.mu.Unlock()
	}
	return sh
}

// settle gives back r's share of the bound, once: its work finished (or
// will never be heard of).
func (r *Ref) settle() {
	if !r.slot.Swap(false) {
		return
	}
	if !r.pass {
		<-r.c.pending.slots
	}
	if s := r.scope; s != nil {
		s.mu.Lock()
		if s.unfinished--; s.unfinished == 0 && s.drained != nil {
			close(s.drained)
			s.drained = nil
		}
		s.mu.Unlock()
	}
	if r.released.Load() {
		c := r.c
		c.mu.Lock()
		if c.orphans[r.ID] == r {
			delete(c.orphans, r.ID)
		}
		c.mu.Unlock()
	}
}

// releasedDone is told by the head that work whose reference this client
// released had ended.
func (c *Client) releasedDone(id ids.ID) {
	c.mu.Lock()
	r := c.orphans[id]
	c.mu.Unlock()
	if r != nil {
		r.settle()
	}
}

// settleOrphans gives back the slots of every released reference whose
// work was not heard to finish: the session it was sent on is gone.
func (c *Client) settleOrphans() {
	c.mu.Lock()
	orphans := c.orphans
	c.orphans = make(map[ids.ID]*Ref)
	c.mu.Unlock()
	for _, r := range orphans {
		r.settle()
	}
}

// PendingTasks is how many tasks and calls this client submitted that have
// not finished, and its bound on them.
func (c *Client) PendingTasks() (n, max int) { return len(c.pending.slots), c.pending.max() }
