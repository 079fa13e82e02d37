package client

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/transfer"
	"github.com/shoal-dev/shoal/internal/wire"
)

// Direct actor calls (docs/proposals/direct-calls.md). A call whose
// arguments are all inline goes straight to the executor its actor lives
// in, over one stream per (client, executor), when the head has told this
// client how to reach the actor (the actor's object carries an ActorRoute:
// it is alive and never restarts). Its result comes back on the stream and
// stays in this client: the head never hears of it unless the result
// leaves the client (Export), or is too large to travel inline (then it is
// in the executor's node store and is registered with the head at once).
//
// Order: each (client, actor) pair sends a call on one path at a time. A
// call that must take the other path (a future among its arguments, or
// the direct path failed) waits in the route's queue until the calls in
// flight on the first path have finished, so a caller's calls run in the
// order made whichever path they take.
//
// Failures: an executor that does not have the actor any more answers
// not_here and the call goes through the head, which knows whether the
// actor died and why; a stream that never opened sends its calls through
// the head too (they never ran). A stream that breaks after it opened
// fails its unanswered calls with ErrActorDied ("may have run"): an actor
// that never restarts died with its executor.

const (
	pathNone   uint8 = iota // queued, not sent yet
	pathHead                // sent to the head
	pathDirect              // sent to the actor's executor
)

// actorRoute is this client's way to one actor. Guarded by Client.dmu.
type actorRoute struct {
	actor  ids.ID
	info   *pb.ActorRoute // how to reach it; nil until known
	place  *pb.Location   // where its direct calls run (set with info; read only)
	handle *Ref           // the actor's object in this client
	conn   *directConn
	broken bool // the direct path failed: the head's from now on
	// inflight counts the calls sent on each path and not finished.
	inflight [3]int
	// queue holds calls not sent yet, in the order they were made.
	queue []*Ref
	// holding: this route holds a share of handle while direct calls are
	// in flight, so that the head cannot end an actor whose handles were
	// released under calls it never saw.
	holding bool
}

// directConn is a stream to one executor. Guarded by Client.dmu.
type directConn struct {
	addr  string
	local string // the executor's address for callers on its machine
	// node and pid name the executor, to ask the head why it exited.
	node   []byte
	pid    int32
	out    *wire.Batcher[*pb.DirectRequest, directItem]
	calls  map[ids.ID]*Ref // sent and not answered
	opened bool
	failed bool
}

// directItem is one item of a DirectRequest: a call, a task or the ID of a
// call to cancel.
type directItem struct {
	call   *pb.ActorCall
	task   *pb.TaskSpec
	cancel []byte
}

func addDirectItem(m *pb.DirectRequest, it directItem) {
	switch {
	case it.call != nil:
		m.Calls = append(m.Calls, it.call)
	case it.task != nil:
		m.Tasks = append(m.Tasks, it.task)
	default:
		m.Cancel = append(m.Cancel, it.cancel)
	}
}

func (c *Client) directAllowed() bool { return c.cfg.DirectCalls }

// DirectCallsSent counts the actor calls this client sent straight to an
// executor.
func (c *Client) DirectCallsSent() int64 { return c.directSent.Load() }

// CallActor sends an actor method call and returns the reference to its
// result. direct allows the direct path (the caller knows the result can
// hold no futures or actor handles); the call takes it when its arguments
// are inline and the actor is reachable.
func (c *Client) CallActor(call *pb.ActorCall, direct bool) *Ref {
	id := c.gen.Next()
	call.Id = id.Bytes()
	actorID, err := ids.FromBytes("actor id", call.ActorId)
	if err != nil || !c.directAllowed() {
		return c.sendWork(id, call, workSize(call), func(m *pb.ClientMessage) { m.ActorCalls = append(m.ActorCalls, call) })
	}
	// The route keeps a share of r until r has finished (selfHold): its
	// order across paths waits for that, and a head told of r's release
	// would not say when r finishes.
	r := &Ref{ID: id, Task: true, ready: make(chan struct{}), c: c, spec: call, wantDirect: direct && rpc.InlineArgs(call.Args), selfHold: true}
	if err := c.track(r, call.Args); err != nil {
		r.finish(nil, 0, nil, err)
		return r
	}
	c.dmu.Lock()
	rt := c.routes[actorID]
	if rt == nil {
		rt = &actorRoute{actor: actorID}
		c.routes[actorID] = rt
	}
	r.route = rt
	rt.queue = append(rt.queue, r)
	post := c.flushLocked(rt, nil)
	c.dmu.Unlock()
	runAll(post)
	return r
}

// routed reports whether r goes through direct.go's paths (an actor call
// or a task that may take a lease) rather than straight to the head.
func (r *Ref) routed() bool { return r.route != nil || r.pool != nil }

func runAll(fs []func()) {
	for _, f := range fs {
		f()
	}
}

// usableLocked reports whether rt's direct path may be used, learning the
// actor's address from its handle the first time.
func (c *Client) usableLocked(rt *actorRoute) bool {
	if rt.broken {
		return false
	}
	if rt.info == nil {
		c.mu.Lock()
		h := c.refs[rt.actor]
		c.mu.Unlock()
		if h == nil {
			return false
		}
		h.mu.Lock()
		rt.info = h.actor
		h.mu.Unlock()
		if rt.info == nil {
			return false
		}
		rt.place = &pb.Location{NodeId: rt.info.NodeId, DataAddr: rt.info.DataAddr}
		rt.handle = h
	}
	return true
}

// flushLocked sends rt's queued calls while the path each must take has
// nothing in flight on the other one. Sends happen here, under c.dmu, so
// that they leave in queue order; what must not run under it (callbacks on
// references) is returned in post.
func (c *Client) flushLocked(rt *actorRoute, post []func()) []func() {
	for len(rt.queue) > 0 {
		r := rt.queue[0]
		usable := r.wantDirect && c.usableLocked(rt)
		r.mu.Lock()
		path := pathHead
		if usable && !r.exported {
			path = pathDirect
		}
		other := pathDirect
		if path == pathDirect {
			other = pathHead
		}
		if rt.inflight[other] > 0 {
			r.mu.Unlock()
			break
		}
		rt.queue[0] = nil
		rt.queue = rt.queue[1:]
		if r.cancelReq {
			r.mu.Unlock()
			post = append(post, r.cancelUnsent)
			continue
		}
		rt.inflight[path]++
		if path == pathHead {
			post = c.sendHeadLocked(r, post)
			r.mu.Unlock()
			post = append(post, func() { r.OnReady(func() { c.headCallDone(rt) }) })
			continue
		}
		r.path = pathDirect
		r.place = rt.place
		r.mu.Unlock()
		if !rt.holding && rt.handle != nil {
			c.mu.Lock()
			if !rt.handle.released.Load() {
				rt.handle.holders++
				rt.holding = true
			}
			c.mu.Unlock()
		}
		conn := c.connLocked(rt.info.Addr, rt.info.LocalAddr, rt.info.NodeId, rt.info.Pid)
		rt.conn = conn
		call := r.spec.(*pb.ActorCall)
		post = c.sendDirectLocked(conn, r, workSize(call), directItem{call: call}, post)
	}
	if rt.idle() {
		if rt.holding {
			rt.holding = false
			post = append(post, rt.handle.Release)
		}
		if rt.info == nil || rt.broken {
			// Nothing to remember: the next call looks the route up again.
			delete(c.routes, rt.actor)
		}
	}
	return post
}

// idle reports whether rt has no call waiting or in flight.
func (rt *actorRoute) idle() bool {
	return len(rt.queue) == 0 && rt.inflight[pathHead] == 0 && rt.inflight[pathDirect] == 0
}

// cancelUnsent fails a call or task cancelled before it was sent.
func (r *Ref) cancelUnsent() {
	err := errs.FromInfo(&pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_CANCELLED, TaskId: r.ID.Bytes(),
		Message: "cancelled by its caller before it was sent"})
	r.mu.Lock()
	if r.exported {
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

// sendHeadLocked sends r (an actor call or a task) to the head, and its
// release after it if it was released before it was sent. Called with
// c.dmu and r.mu held.
func (c *Client) sendHeadLocked(r *Ref, post []func()) []func() {
	r.path = pathHead
	released := r.released.Load()
	r.headReleased = released
	spec := r.spec
	err := c.send(workSize(spec), func(m *pb.ClientMessage) {
		switch s := spec.(type) {
		case *pb.ActorCall:
			m.ActorCalls = append(m.ActorCalls, s)
		case *pb.TaskSpec:
			m.Submit = append(m.Submit, s)
		}
		if released {
			m.Release = append(m.Release, r.ID.Bytes())
		}
	})
	if err != nil {
		post = append(post, func() { c.fail(err) })
	}
	return post
}

// sendDirectLocked queues r on conn as item, writing at once when the
// connection was idle (a synchronous caller waits) and soon otherwise
// (the replies' reader or the flusher writes it with what else comes).
// Called with c.dmu held.
func (c *Client) sendDirectLocked(conn *directConn, r *Ref, size int, item directItem, post []func()) []func() {
	r.conn = conn
	conn.calls[r.ID] = r
	c.directSent.Add(1)
	conn.out.Queue(size, item)
	if len(conn.calls) == 1 {
		return append(post, func() { conn.out.Flush() })
	}
	conn.out.FlushSoon()
	return post
}

// headCallDone is told that a call sent through the head finished.
func (c *Client) headCallDone(rt *actorRoute) {
	c.dmu.Lock()
	rt.inflight[pathHead]--
	post := c.flushLocked(rt, nil)
	c.dmu.Unlock()
	runAll(post)
}

// connLocked returns the stream to the executor at addr (or local, from
// this machine), opening it if needed.
func (c *Client) connLocked(addr, local string, node []byte, pid int32) *directConn {
	if conn := c.conns[addr]; conn != nil && !conn.failed {
		return conn
	}
	conn := &directConn{addr: addr, local: local, node: node, pid: pid, calls: make(map[ids.ID]*Ref),
		out: wire.NewBatcher(nil, c.maxMessage()/2, func() *pb.DirectRequest { return &pb.DirectRequest{} }, addDirectItem)}
	c.conns[addr] = conn
	go c.runConn(conn)
	return conn
}

// directDialTimeout bounds how long a stream to an executor takes to open.
const directDialTimeout = 10 * time.Second

// runConn connects to conn's executor and reads its replies until the
// connection breaks or the client closes. Calls queued before the
// connection is up go out once it is.
func (c *Client) runConn(conn *directConn) {
	nc, err := wire.Dial(c.ctx, conn.addr, conn.local, c.cfg.Token, c.cfg.Peers.ClientConfig(), directDialTimeout)
	if err != nil {
		c.connFailed(conn, fmt.Errorf("connecting to the actor's executor at %s: %w", conn.addr, err))
		return
	}
	stop := context.AfterFunc(c.ctx, func() { nc.Close() })
	defer stop()
	defer nc.Close()
	c.dmu.Lock()
	conn.opened = true
	c.dmu.Unlock()
	conn.out.SetWriter(nc)
	conn.out.Flush()
	flusherDone := make(chan struct{})
	defer close(flusherDone)
	go conn.out.RunFlusher(flusherDone)
	r := wire.NewReader(nc)
	for {
		m := &pb.DirectReply{}
		if err := r.Read(m); err != nil {
			if c.ctx.Err() != nil {
				err = errs.ErrClosed
			}
			c.connFailed(conn, fmt.Errorf("the connection to its executor at %s broke: %w", conn.addr, err))
			return
		}
		c.directResults(conn, m)
		conn.out.Flush() // calls made while the replies were on their way
	}
}

// directResults finishes the calls a batch answers.
func (c *Client) directResults(conn *directConn, m *pb.DirectReply) {
	type done struct {
		r   *Ref
		res *pb.TaskResult
	}
	finished := make([]done, 0, len(m.Results))
	var post []func()
	c.dmu.Lock()
	touched := map[*actorRoute]bool{}
	pools := map[*taskPool]bool{}
	for _, res := range m.Results {
		id, err := ids.FromBytes("call id", res.TaskId)
		if err != nil {
			continue
		}
		r := conn.calls[id]
		if r == nil {
			continue
		}
		delete(conn.calls, id)
		if r.pool != nil {
			pools[r.pool] = true
			if res.NotHere {
				post = c.taskBackLocked(r, false, post)
				continue
			}
			if res.Error != nil && res.Error.Kind == pb.ErrorKind_ERROR_KIND_NODE_DIED {
				// The executor's node went away under the task (its result
				// could not be stored): as if the executor had, a retry.
				post = c.taskBackLocked(r, true, post)
				continue
			}
			c.leaseTaskDoneLocked(r)
			c.learnLocked(r.spec.(*pb.TaskSpec).Function, time.Duration(res.DurationNs))
			finished = append(finished, done{r, res})
			continue
		}
		rt := r.route
		rt.inflight[pathDirect]--
		touched[rt] = true
		if res.NotHere {
			// The actor is not in that executor any more: the call did
			// not run (or was cut short by the actor's death), and the
			// head knows what became of the actor.
			rt.broken = true
			c.requeueLocked(rt, r)
			continue
		}
		finished = append(finished, done{r, res})
	}
	for rt := range touched {
		post = c.flushLocked(rt, post)
	}
	for p := range pools {
		post = c.pumpLocked(p, post)
	}
	c.dmu.Unlock()
	for _, d := range finished {
		c.finishDirect(d.r, d.res)
	}
	runAll(post)
}

// requeueLocked puts a call that did not run back into its route's queue,
// in its creation place, to be sent again.
func (c *Client) requeueLocked(rt *actorRoute, r *Ref) {
	r.mu.Lock()
	r.path = pathNone
	r.mu.Unlock()
	i, _ := slices.BinarySearchFunc(rt.queue, r.ID, func(q *Ref, id ids.ID) int { return bytes.Compare(q.ID[:], id[:]) })
	rt.queue = slices.Insert(rt.queue, i, r)
}

// connFailed ends a stream: calls it never delivered go through the head,
// calls that may have run fail, and the routes that used it take the
// head's path from now on.
func (c *Client) connFailed(conn *directConn, cause error) {
	var failed []*Ref
	var post []func()
	c.dmu.Lock()
	conn.failed = true
	conn.out.Stop(cause)
	if c.conns[conn.addr] == conn {
		delete(c.conns, conn.addr)
	}
	calls := make([]*Ref, 0, len(conn.calls))
	for _, r := range conn.calls {
		calls = append(calls, r)
	}
	conn.calls = nil
	slices.SortFunc(calls, func(a, b *Ref) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	touched := map[*actorRoute]bool{}
	for _, rt := range c.routes {
		if rt.conn == conn {
			rt.broken, rt.conn = true, nil
			touched[rt] = true
		}
	}
	pools := c.dropLeasesLocked(conn)
	for _, r := range calls {
		if r.pool != nil {
			// A task may run again: through the head, as a retry.
			pools[r.pool] = true
			if !conn.opened || r.spec.(*pb.TaskSpec).MaxRetries != 0 {
				post = c.taskBackLocked(r, conn.opened, post)
			} else {
				c.leaseTaskDoneLocked(r)
				failed = append(failed, r)
			}
			continue
		}
		rt := r.route
		rt.inflight[pathDirect]--
		rt.broken = true
		touched[rt] = true
		if !conn.opened {
			c.requeueLocked(rt, r)
		} else {
			failed = append(failed, r)
		}
	}
	for rt := range touched {
		post = c.flushLocked(rt, post)
	}
	for p := range pools {
		post = c.pumpLocked(p, post)
	}
	c.dmu.Unlock()
	runAll(post)
	if len(failed) > 0 {
		go c.failLost(conn, failed, cause)
	}
}

// failLost fails the calls and tasks that were running in an executor
// whose connection broke, saying why it went away when the head knows
// (the node reports an executor's exit status and crash report).
func (c *Client) failLost(conn *directConn, failed []*Ref, cause error) {
	why := cause.Error()
	if c.ctx.Err() == nil && len(conn.node) > 0 && conn.pid != 0 {
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		rep, err := c.cfg.Head.ExecutorExit(ctx, &pb.ExecutorExitRequest{NodeId: conn.node, Pid: conn.pid})
		cancel()
		if err == nil && rep.Cause != "" {
			why = fmt.Sprintf("its executor (pid %d) exited: %s", conn.pid, rep.Cause)
		}
	}
	for _, r := range failed {
		if r.pool != nil {
			c.finishDirect(r, &pb.TaskResult{TaskId: r.ID.Bytes(), Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_EXECUTOR,
				Message: fmt.Sprintf("%s while it ran (MaxRetries 0: not retried)", why)}})
			continue
		}
		label := r.route.actor.Short()
		if info := r.route.info; info != nil {
			label = info.Label
		}
		c.finishDirect(r, &pb.TaskResult{TaskId: r.ID.Bytes(), Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED,
			Message: fmt.Sprintf("actor %s died: %s; the call may have run", label, why)}})
	}
}

// finishDirect records a direct call's result in its reference, telling
// the head what it must know: a stored result at once (its bytes are in a
// node's store), anything else only if the reference was exported.
func (c *Client) finishDirect(r *Ref, res *pb.TaskResult) {
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
	place := r.place
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
	if res.Stored || r.exported {
		// Exported, or in a node's store (the head must know, so it frees
		// the bytes).
		r.exported = true
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
	r.c.send(64+len(p.Value), func(m *pb.ClientMessage) { m.Put = append(m.Put, p) })
}

// Export makes sure the head knows r before its ID leaves this client (as
// a task's argument, inside a value, in a Put): a direct call's result is
// declared to the head, with its value if it is known, or as pending until
// it is. Other references are known to the head already.
func (r *Ref) Export() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.exported {
		return
	}
	r.exported = true
	if r.path == pathHead || !r.routed() {
		return // the head knows it
	}
	if r.path == pathNone || !r.IsReady() {
		// Not sent yet (it will go through the head, which makes the
		// declared object the call's or task's result), or not finished.
		r.exportLocked(&pb.PutObject{Id: r.ID.Bytes(), Pending: true})
		return
	}
	r.exportLocked(directPut(r, r.value, r.size, r.place, r.err, r.value == nil && r.err == nil))
}

// cancelDirect asks r's executor to cancel a direct call.
func (c *Client) cancelDirect(r *Ref) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	conn := r.conn
	if conn == nil || conn.calls[r.ID] == nil {
		return
	}
	id := r.ID.Bytes()
	conn.out.Queue(24, directItem{cancel: id})
	conn.out.FlushSoon() // not under c.dmu: the flusher writes it
}

// forgetRoute drops the route to an actor whose handle this client let go,
// unless calls still use it.
func (c *Client) forgetRoute(actor ids.ID) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	rt := c.routes[actor]
	if rt != nil && rt.idle() {
		delete(c.routes, actor)
	}
}
