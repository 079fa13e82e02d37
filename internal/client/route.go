package client

import (
	"sync"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/transfer"
)

// Routes. Work (a task, an actor's creation, an actor call) is sent by one
// of three routes, chosen once when it is submitted (Ref.route):
//
//	headRoute   through the head's session: every kind of work
//	actorRoute  actor calls: straight to the actor's executor when the head
//	            says it may be reached, else through the head, in the order
//	            made (actor_route.go)
//	leaseRoute  tasks that may run on worker leases: straight to the leased
//	            executors, else through the head (lease_route.go)
//
// A Ref owns the object (readiness, value, holders, release, replay); a
// route owns how the work travels. The two direct routes share the
// connections to executors (conns.go) and keep, in each of their
// references, what it knows of its delivery (directed).
//
// Lock order: actorRoute.mu or leaseRoute.mu (never both), then a Ref's
// mu, then directConns.mu; a Ref's mu, then Client.mu, then
// headSession.mu. Callbacks and releases of references never run under a
// route's lock: the route leaves them to its lockAfter.
type route interface {
	// send sends r's work, or queues it to be sent.
	send(r *Ref)
	// cancel asks that r's work be cancelled, where it was sent or before
	// it is.
	cancel(r *Ref)
	// lost is told that a connection the route's work used broke: a direct
	// connection to an executor, with the work sent on it and not answered
	// (in creation order), or (conn nil) the session with the head,
	// replaced by a new one. It returns the work that may have run and
	// fails for it (directConns.failLost says why).
	lost(conn *directConn, unanswered []*Ref) (mayHaveRun []*Ref)
}

// directRoute is a route that sends work on direct connections and hears
// their answers.
type directRoute interface {
	route
	// answered is told of results that came back on conn.
	answered(conn *directConn, answers []answer)
}

// answer is a result that came back on a direct connection.
type answer struct {
	r   *Ref
	res *pb.TaskResult
}

// lockAfter is a component's lock with the work it leaves to do once the
// lock is released: finishing and releasing references (their callbacks
// take other locks) and writing to sockets.
type lockAfter struct {
	mu    sync.Mutex
	after []func()
}

func (l *lockAfter) Lock() { l.mu.Lock() }

// later leaves f to run after Unlock. Called with the lock held.
func (l *lockAfter) later(f func()) { l.after = append(l.after, f) }

// Unlock releases the lock, then runs what was left to do, in order.
func (l *lockAfter) Unlock() {
	after := l.after
	l.after = nil
	l.mu.Unlock()
	for _, f := range after {
		f()
	}
}

// headRoute sends work through the head's session.
type headRoute struct{ c *Client }

func (h headRoute) send(r *Ref) {
	if err := h.c.session.sendWork(r.spec, nil); err != nil {
		h.c.fail(err)
	}
}

func (h headRoute) cancel(r *Ref) { h.c.session.sendCancel(r.ID) }

// lost: the head's session replays its work itself (Client.rejoined).
func (headRoute) lost(*directConn, []*Ref) []*Ref { return nil }

const (
	pathNone   uint8 = iota // queued, not sent yet
	pathHead                // sent to the head
	pathDirect              // sent to an executor
)

// directed is what a reference sent by a direct route knows of its
// delivery: the path it took, and what the head heard of it. Guarded by
// the Ref's mu, but for conn (directConns.mu), link (actorRoute.mu: set
// when the call is sent, before its route can hear of it) and lease
// (leaseRoute.mu); wantDirect is set before the reference is shared.
type directed struct {
	path         uint8
	exported     bool // the head was told of it (or must be, once sent)
	headReleased bool // the head was told of its release
	cancelReq    bool // cancelled before it was sent
	// place is where a direct result is stored (its executor's node).
	place *pb.Location
	conn  *directConn
	// The actor route's: the call's link to its actor, and whether it may
	// go straight to the actor.
	link       *actorLink
	wantDirect bool
	// The lease route's: the lease it was sent on.
	lease *taskLease
}

// cancelDirected cancels work of a direct route: at once when it was not
// sent (cancelUnsent, when its route takes it from its queue), at the head
// or at its executor when it was.
func (c *Client) cancelDirected(r *Ref) {
	r.mu.Lock()
	path := r.d.path
	if path == pathNone {
		r.d.cancelReq = true
	}
	r.mu.Unlock()
	switch path {
	case pathHead:
		c.session.sendCancel(r.ID)
	case pathDirect:
		c.conns.cancel(r)
	}
}

// sendHeadLocked sends r's work (of a direct route) to the head, and its
// release after it if it was released before it was sent. Called with
// r.mu held; the error is the session's (the client then fails).
func (r *Ref) sendHeadLocked() error {
	r.d.path = pathHead
	var release []byte
	if r.released.Load() {
		r.d.headReleased = true
		release = r.ID.Bytes()
	}
	return r.c.session.sendWork(r.spec, release)
}

// cancelUnsent fails a call or task cancelled before it was sent.
func (r *Ref) cancelUnsent() {
	err := errs.FromInfo(&pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_CANCELLED, TaskId: r.ID.Bytes(),
		Message: "cancelled by its caller before it was sent"})
	r.mu.Lock()
	if r.d.exported {
		// The head holds it as a pending object (its ID left this client):
		// what waits for it there must hear that it failed.
		r.exportLocked(directPut(r, nil, 0, nil, err, false))
		if r.released.Load() {
			r.releaseAtHeadLocked()
		}
	}
	after := r.finishLocked(nil, 0, nil, err)
	r.mu.Unlock()
	after.run()
}

// finishDirect records a direct call's or leased task's result in its
// reference, telling the head what it must know: a stored result at once
// (its bytes are in a node's store), anything else only if the reference
// was exported.
func (r *Ref) finishDirect(res *pb.TaskResult) {
	var (
		value []byte
		size  int64
		locs  []transfer.Location
		err   error
	)
	function := ""
	switch spec := r.spec.(type) {
	case *pb.ActorCall:
		function = spec.Method
	case *pb.TaskSpec:
		function = spec.Function
	}
	place := r.d.place
	switch {
	case res.Error != nil:
		info := res.Error
		if info.TaskId == nil {
			info.TaskId = r.ID.Bytes()
		}
		if info.Function == "" {
			info.Function = function
		}
		if info.NodeId == nil && place != nil {
			info.NodeId = place.NodeId
		}
		err = errs.FromInfo(info)
	case res.Stored:
		node, _ := ids.FromBytes("node id", place.NodeId)
		size, locs = res.Size, []transfer.Location{{Node: node, Addr: place.DataAddr}}
	default:
		value, size = res.Value, int64(len(res.Value))
	}
	r.mu.Lock()
	if res.Stored || r.d.exported {
		// Exported, or in a node's store (the head must know, so it frees
		// the bytes).
		r.d.exported = true
		r.exportLocked(directPut(r, value, size, place, err, res.Stored))
		if r.released.Load() {
			r.releaseAtHeadLocked()
		}
	}
	after := r.finishLocked(value, size, locs, err)
	r.mu.Unlock()
	after.run()
}

// directPut is what the head must be told of r, a direct call's or
// leased task's finished result. A task's result in a node's store goes
// with the task's spec: the head keeps it as the result's lineage, so that
// losing the node runs the task again, as for a task sent to the head.
func directPut(r *Ref, value []byte, size int64, place *pb.Location, err error, stored bool) *pb.PutObject {
	p := &pb.PutObject{Id: r.ID.Bytes(), Size: size}
	switch {
	case err != nil:
		p.Error = errs.ToInfo(err)
	case stored:
		p.NodeId = place.NodeId
		if spec, ok := r.spec.(*pb.TaskSpec); ok {
			p.Lineage = spec
		}
	default:
		p.Value = value
	}
	return p
}

// exportLocked queues p for the head. Called with r.mu held: the order of
// what the head hears of r follows r's state.
func (r *Ref) exportLocked(p *pb.PutObject) {
	r.c.session.send(64+len(p.Value), func(m *pb.ClientMessage) { m.Put = append(m.Put, p) })
}
