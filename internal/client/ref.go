package client

import (
	"github.com/shoal-dev/shoal/internal/mapcompact"
	"sync"
	"sync/atomic"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/transfer"
)

// Ref is the client's record of an object it owns.
type Ref struct {
	ID    ids.ID
	Task  bool // the result of a task (so it can be cancelled)
	ready chan struct{}
	// done is set just before ready closes: a cheaper check than a
	// receive on ready, made once per child of a task and per Wait.
	done atomic.Bool

	// Set once before ready closes; value may be filled later by a fetch.
	mu       sync.Mutex
	value    []byte
	size     int64
	locs     []transfer.Location
	err      error
	released atomic.Bool
	// slot: r's work holds a share of the client's bound on unfinished
	// work until it finishes, counted in scope, the task that submitted it
	// (if any), and a slot of the bound unless it was the task's pass
	// (pending.go).
	slot  atomic.Bool
	pass  bool
	scope *TaskScope
	local bool // never sent to the head (failed before sending)
	// updated, made by a reader that waits for news of the object, is
	// closed (and cleared) when a later status arrives, e.g. new locations
	// after it was rebuilt. Guarded by mu.
	updated chan struct{}
	// rebuilding: every copy of the ready object was lost and the head
	// runs the task that made it again; a read waits for its news.
	// Guarded by mu.
	rebuilding bool
	// holders counts the handles (futures) sharing this reference; the
	// head's reference goes when the last lets go. Guarded by c.mu.
	holders int32
	// What a restarted head must be told (see replay): the spec that made
	// the object (a *pb.TaskSpec, *pb.ActorSpec or *pb.ActorCall), whether
	// it is borrowed, and (in x) the objects nested in a Put's value.
	spec     any
	borrowed bool
	// x holds what few references need (nil until one does): a Ref is
	// made per task, and fits a smaller size class without them.
	x *refExtras
	c *Client
	// argHolds are shares of the references that a task's or call's
	// arguments name (object arguments, and futures and actor handles
	// inside values) that this client keeps until the work has finished:
	// the head must see the work before any release of them, also when it
	// waits in a route's queue or is replayed to a restarted head.
	// selfHold: the client keeps a share of r itself until r is finished
	// (a routed actor call: its route must hear when it finishes, and a
	// head that saw r released would not say). Both guarded by mu.
	argHolds []*Ref
	selfHold bool
	// view holds value when it is a view of a store's memory (nil
	// otherwise): r lets go of its share on release, ReadRange's views of
	// it hold shares of their own. Guarded by mu.
	view *viewHold

	// route is how the work that makes r travels (nil when r is not the
	// result of work), chosen when it is submitted; d, what a direct
	// route's work knows of its delivery (nil on the head's route).
	route route
	d     *directed
	// actor is set on an actor's object: how to reach it directly (never
	// once this client killed the actor).
	actor  *pb.ActorRoute
	killed bool
}

// refExtras is what few references need: the objects nested in a Put's
// value, and the functions to run once it is ready (OnReady). Guarded by
// the Ref's mu (nested is set before the Ref is shared).
type refExtras struct {
	nested  [][]byte
	onReady []func()
}

// OnReady runs f once r is ready (at once if it is), on the goroutine that
// receives the readiness: f must be quick and must not block.
func (r *Ref) OnReady(f func()) {
	r.mu.Lock()
	if !r.IsReady() {
		if r.x == nil {
			r.x = &refExtras{}
		}
		r.x.onReady = append(r.x.onReady, f)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	f()
}

// Ready is closed when the object is ready or failed.
func (r *Ref) Ready() <-chan struct{} { return r.ready }

// IsReady reports whether the object is ready or failed.
func (r *Ref) IsReady() bool { return r.done.Load() }

// inlineValue returns r's value if r is ready, not failed nor released, and
// its value is at hand (inline, or fetched before); nil otherwise.
func (r *Ref) inlineValue() []byte {
	if !r.done.Load() || r.released.Load() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil
	}
	return r.value
}

// replay is what the head must be told about r after a restart.
func (r *Ref) replay() (replayItem, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it := replayItem{id: r.ID, size: 64}
	id := r.ID.Bytes()
	spec := r.spec
	if _, ok := spec.(*pb.ActorSpec); ok {
		// The actor's executor went with the old head's sessions: it is
		// created again (its state starts over).
		it.fill = func(m *pb.ClientMessage) { addWork(m, spec) }
		return it, true
	}
	if r.borrowed {
		it.fill = func(m *pb.ClientMessage) { m.Borrow = append(m.Borrow, id) }
		return it, true
	}
	ready := r.IsReady()
	if d := r.d; d != nil && (d.path == pathNone || d.path == pathDirect && !(d.exported && ready)) {
		// Not sent yet (it will be, to the new head), or a direct call the
		// head never heard of.
		return it, false
	}
	if spec != nil && !ready {
		// A task or call not finished: sent again.
		it.fill = func(m *pb.ClientMessage) { addWork(m, spec) }
		return it, true
	}
	if !ready || r.err != nil {
		return it, false
	}
	p := &pb.PutObject{Id: id, Size: r.size}
	if r.x != nil {
		p.Nested = r.x.nested
	}
	switch {
	case r.value != nil && int64(len(r.value)) <= r.c.welcome.InlineLimit:
		p.Value = r.value
		it.size += len(r.value)
	case len(r.locs) > 0:
		p.NodeId = r.locs[0].Node.Bytes()
	default:
		return it, false
	}
	it.fill = func(m *pb.ClientMessage) { m.Put = append(m.Put, p) }
	return it, true
}

// finish records an object's state. A second state (an object lost after
// it was ready) replaces the first unless the bytes are already here.
func (r *Ref) finish(value []byte, size int64, locs []transfer.Location, err error) {
	r.mu.Lock()
	after := r.finishLocked(value, size, locs, err)
	r.mu.Unlock()
	after.run()
}

// finishLocked is finish with r.mu held; it returns what to do once r.mu
// is released.
func (r *Ref) finishLocked(value []byte, size int64, locs []transfer.Location, err error) afterFinish {
	first := !r.IsReady()
	if first || r.value == nil {
		r.value, r.size, r.locs, r.err = value, size, locs, err
		r.rebuilding = false
	}
	var after afterFinish
	if first {
		r.done.Store(true)
		close(r.ready)
		if r.x != nil {
			after.callbacks, r.x.onReady = r.x.onReady, nil
		}
		after.holds, r.argHolds = r.argHolds, nil
		if r.selfHold {
			r.selfHold, after.self = false, r
		}
		after.settle = r
	}
	if r.updated != nil {
		close(r.updated)
		r.updated = nil
	}
	return after
}

// copiesLost records the head's news that every copy of r was lost and
// is being made again: a read fetching the old copies stops (a silent node
// would hold it until its timeouts) and waits for the new ones.
func (r *Ref) copiesLost() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.IsReady() || r.value != nil || r.err != nil {
		return
	}
	r.locs, r.rebuilding = nil, true
	if r.updated != nil {
		close(r.updated)
		r.updated = nil
	}
}

// afterFinish is what a reference's finish leaves to do once its lock is
// released: the readiness callbacks, then letting go of the shares the
// finished work held.
type afterFinish struct {
	callbacks []func()
	holds     []*Ref
	self      *Ref
	settle    *Ref // gives back its slot of the bound
}

func (a afterFinish) run() {
	if a.settle != nil {
		a.settle.settle()
	}
	for _, f := range a.callbacks {
		f()
	}
	for _, h := range a.holds {
		h.Release()
	}
	if a.self != nil {
		a.self.Release()
	}
}

// Release gives up one holder's share of the reference; when the last
// holder lets go the head is told, and frees the object once nothing else
// references it.
func (r *Ref) Release() {
	if r.local || r.released.Load() {
		return
	}
	c := r.c
	c.mu.Lock()
	r.holders--
	if r.holders > 0 || r.released.Swap(true) {
		c.mu.Unlock()
		return
	}
	if c.refs[r.ID] == r {
		delete(c.refs, r.ID)
		mapcompact.Deleted(&c.refs, &c.refDeletes)
	}
	if r.slot.Load() {
		// Its work has not finished: it keeps its slot until the head
		// says it did (pending.go).
		c.orphans[r.ID] = r
	}
	c.mu.Unlock()
	r.mu.Lock()
	r.value = nil
	view := r.view
	r.view = nil
	// A call not sent yet is released when it is; a direct call's result
	// is released at the head only if the head heard of it.
	if d := r.d; d == nil || d.path == pathHead || d.path == pathDirect && d.exported {
		r.releaseAtHeadLocked()
	}
	actor := r.actor != nil
	// Released before it finished: nothing here waits for it any more, so
	// its arguments go too (the head, which saw it before this release,
	// holds them while it runs). (A routed call holds itself until it
	// finished, and a task waiting in a pool holds no arguments.)
	holds := r.argHolds
	r.argHolds = nil
	r.mu.Unlock()
	if view != nil {
		view.drop()
	}
	for _, h := range holds {
		h.Release()
	}
	if actor {
		c.actors.forget(r.ID)
	}
}

// releaseAtHeadLocked tells the head that r was released, once. Called
// with r.mu held.
func (r *Ref) releaseAtHeadLocked() {
	if d := r.d; d != nil {
		if d.headReleased {
			return
		}
		d.headReleased = true
	}
	id := r.ID.Bytes()
	r.c.session.send(24, func(m *pb.ClientMessage) { m.Release = append(m.Release, id) })
}

// Released reports whether Release was called.
func (r *Ref) Released() bool { return r.released.Load() }

// Cancel asks that the task or call that produces r be cancelled.
func (r *Ref) Cancel() {
	if !r.Task || r.IsReady() {
		return
	}
	r.route.cancel(r)
}

// Err returns the failure of r, if any, after it is ready.
func (r *Ref) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Size is the encoded size of r's value, once ready.
func (r *Ref) Size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size
}

// Export makes sure the head knows r before its ID leaves this client (as
// a task's argument, inside a value, in a Put): a direct call's result is
// declared to the head, with its value if it is known, or as pending until
// it is. Other references are known to the head already.
func (r *Ref) Export() {
	d := r.d
	if d == nil {
		return // the head knows it
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.exported {
		return
	}
	d.exported = true
	if d.path == pathHead {
		return // the head knows it
	}
	if d.path == pathNone || !r.IsReady() {
		// Not sent yet (it will go through the head, which makes the
		// declared object the call's or task's result), or not finished.
		r.exportLocked(&pb.PutObject{Id: r.ID.Bytes(), Pending: true})
		return
	}
	r.exportLocked(directPut(r, r.value, r.size, d.place, r.err, r.value == nil && r.err == nil))
}

// ShareView returns a share of r's value's memory when that value is a
// view of a store's memory (and nil otherwise): the memory stays until r is
// released and every share is dropped (the function, called once).
func (r *Ref) ShareView() (drop func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.view == nil || r.value == nil {
		return nil
	}
	return r.view.share()
}

// viewHold is a view of a store's memory shared by its readers: the
// memory is let go (release) when the last of them drops its share.
type viewHold struct {
	shares  atomic.Int32
	release func()
}

func newViewHold(release func()) *viewHold {
	h := &viewHold{release: release}
	h.shares.Store(1)
	return h
}

// share returns another share of h, and the function that drops it (once).
func (h *viewHold) share() func() {
	h.shares.Add(1)
	var once sync.Once
	return func() { once.Do(h.drop) }
}

func (h *viewHold) drop() {
	if h.shares.Add(-1) == 0 {
		h.release()
	}
}
