package client

import (
	"bytes"
	"context"
	"slices"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
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
// the direct path failed) waits in the link's queue until the calls in
// flight on the first path have finished, so a caller's calls run in the
// order made whichever path they take.
//
// Scope: an executor serves the processes of its own job only (they hold
// its credential, internal/credential), and a client with the cluster token.
// A call on an actor of another job (a named actor found with GetActor)
// goes through the head.
//
// Failures: an executor that does not have the actor any more answers
// not_here and the call goes through the head, which knows whether the
// actor died and why; a stream that never opened sends its calls through
// the head too (they never ran). A stream that breaks after it opened
// fails its unanswered calls with ErrActorDied ("may have run"): an actor
// that never restarts died with its executor.

// actorRoute is the route of this client's actor calls (when direct calls
// are allowed): a link per actor called. Its lock guards the links.
type actorRoute struct {
	c     *Client
	mu    lockAfter
	links map[ids.ID]*actorLink
}

// actorLink is this client's way to one actor. Guarded by actorRoute.mu.
type actorLink struct {
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
	// holding: this link holds a share of handle while direct calls are
	// in flight, so that the head cannot end an actor whose handles were
	// released under calls it never saw.
	holding bool
}

// DirectCallsSent counts the actor calls and leased tasks this client sent
// straight to an executor.
func (c *Client) DirectCallsSent() int64 { return c.conns.sent.Load() }

// CallActor sends an actor method call and returns the reference to its
// result. direct allows the direct path (the caller knows the result can
// hold no futures or actor handles); the call takes it when its arguments
// are inline and the actor is reachable. It waits at the bound on
// unfinished work as Submit does.
func (c *Client) CallActor(ctx context.Context, call *pb.ActorCall, direct bool) *Ref {
	sh, err := c.acquire(ctx, "call", call.Method)
	if err != nil {
		return c.Failed(err)
	}
	id := c.gen.Next()
	call.Id = id.Bytes()
	if _, err := ids.FromBytes("actor id", call.ActorId); err != nil || !c.cfg.DirectCalls {
		return c.submit(id, call, c.viaHead, nil, sh)
	}
	return c.submit(id, call, c.actors, &directed{wantDirect: direct && rpc.InlineArgs(call.Args)}, sh)
}

func (a *actorRoute) send(r *Ref) {
	actor, _ := ids.FromBytes("actor id", r.spec.(*pb.ActorCall).ActorId) // (checked by CallActor)
	a.mu.Lock()
	l := a.links[actor]
	if l == nil {
		l = &actorLink{actor: actor}
		a.links[actor] = l
	}
	r.d.link = l
	l.queue = append(l.queue, r)
	a.flush(l)
	a.mu.Unlock()
}

func (a *actorRoute) cancel(r *Ref) { a.c.cancelDirected(r) }

// usable reports whether l's direct path may be used, learning the
// actor's address from its handle the first time: not for an actor whose
// executor serves another job's processes.
func (a *actorRoute) usable(l *actorLink) bool {
	if l.broken {
		return false
	}
	if l.info == nil {
		c := a.c
		c.mu.Lock()
		h := c.refs[l.actor]
		c.mu.Unlock()
		if h == nil {
			return false
		}
		h.mu.Lock()
		l.info = h.actor
		h.mu.Unlock()
		if l.info == nil {
			return false
		}
		if _, err := a.c.directToken(l.info.Scope); err != nil {
			l.broken = true
			return false
		}
		l.place = &pb.Location{NodeId: l.info.NodeId, DataAddr: l.info.DataAddr}
		l.handle = h
	}
	return true
}

// flush sends l's queued calls while the path each must take has nothing
// in flight on the other one. Sends happen under a.mu, so that they leave
// in queue order. Called with a.mu held.
func (a *actorRoute) flush(l *actorLink) {
	for len(l.queue) > 0 {
		r := l.queue[0]
		usable := r.d.wantDirect && a.usable(l)
		r.mu.Lock()
		path := pathHead
		if usable && !r.d.exported {
			path = pathDirect
		}
		other := pathDirect
		if path == pathDirect {
			other = pathHead
		}
		if l.inflight[other] > 0 {
			r.mu.Unlock()
			break
		}
		if r.d.cancelReq {
			r.mu.Unlock()
			l.pop()
			a.mu.later(r.cancelUnsent)
			continue
		}
		if path == pathHead {
			err := r.sendHeadLocked()
			r.mu.Unlock()
			l.pop()
			l.inflight[pathHead]++
			if err != nil {
				a.mu.later(func() { a.c.fail(err) })
			}
			a.mu.later(func() { r.OnReady(func() { a.headCallDone(l) }) })
			continue
		}
		call := r.spec.(*pb.ActorCall)
		conn := a.c.conns.open(l.info.Addr, l.info.LocalAddr, l.info.NodeId, l.info.Pid, l.info.Scope)
		flush, ok := a.c.conns.queue(conn, r, workSize(call), directItem{call: call})
		if !ok {
			// The connection failed under it: the head's path from now on
			// (the link hears of the failure too).
			r.mu.Unlock()
			l.broken, l.conn = true, nil
			continue
		}
		r.d.path, r.d.place = pathDirect, l.place
		r.mu.Unlock()
		l.pop()
		l.inflight[pathDirect]++
		l.conn = conn
		if flush != nil {
			a.mu.later(flush)
		}
		if !l.holding && l.handle != nil {
			c := a.c
			c.mu.Lock()
			if !l.handle.released.Load() {
				l.handle.holders++
				l.holding = true
			}
			c.mu.Unlock()
		}
	}
	if l.idle() {
		if l.holding {
			l.holding = false
			a.mu.later(l.handle.Release)
		}
		if l.info == nil || l.broken {
			// Nothing to remember: the next call looks the actor up again.
			delete(a.links, l.actor)
		}
	}
}

// pop takes the first call off l's queue.
func (l *actorLink) pop() {
	l.queue[0] = nil
	l.queue = l.queue[1:]
}

// idle reports whether l has no call waiting or in flight.
func (l *actorLink) idle() bool {
	return len(l.queue) == 0 && l.inflight[pathHead] == 0 && l.inflight[pathDirect] == 0
}

// headCallDone is told that a call sent through the head finished.
func (a *actorRoute) headCallDone(l *actorLink) {
	a.mu.Lock()
	l.inflight[pathHead]--
	a.flush(l)
	a.mu.Unlock()
}

// answered finishes the calls a batch answers; a call whose executor no
// longer has the actor goes through the head.
func (a *actorRoute) answered(_ *directConn, answers []answer) {
	finished := answers[:0] // (finished once the lock is let go, in order)
	defer func() {
		for _, an := range finished {
			an.r.finishDirect(an.res)
		}
	}()
	a.mu.Lock()
	touched := make([]*actorLink, 0, 1)
	for _, an := range answers {
		r := an.r
		l := r.d.link
		l.inflight[pathDirect]--
		if !slices.Contains(touched, l) {
			touched = append(touched, l)
		}
		if an.res.NotHere {
			// The actor is not in that executor any more: the call did
			// not run (or was cut short by the actor's death), and the
			// head knows what became of the actor.
			l.broken = true
			l.requeue(r)
			continue
		}
		finished = append(finished, an)
	}
	for _, l := range touched {
		a.flush(l)
	}
	a.mu.Unlock()
}

// requeue puts a call that did not run back into l's queue, in its
// creation place, to be sent again.
func (l *actorLink) requeue(r *Ref) {
	r.mu.Lock()
	r.d.path = pathNone
	r.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.queue, r.ID, func(q *Ref, id ids.ID) int { return bytes.Compare(q.ID[:], id[:]) })
	l.queue = slices.Insert(l.queue, i, r)
}

// lost: the links that used conn take the head's path from now on; calls
// it never delivered go through the head, calls that may have run fail.
// The head's session lost, nothing changes here: the executors' streams
// are not the head's.
func (a *actorRoute) lost(conn *directConn, unanswered []*Ref) (mayHaveRun []*Ref) {
	if conn == nil {
		return nil
	}
	a.mu.Lock()
	var touched []*actorLink
	for _, l := range a.links {
		if l.conn == conn {
			l.broken, l.conn = true, nil
			touched = append(touched, l)
		}
	}
	for _, r := range unanswered {
		l := r.d.link
		l.inflight[pathDirect]--
		l.broken = true
		if !slices.Contains(touched, l) {
			touched = append(touched, l)
		}
		if !conn.opened {
			l.requeue(r)
		} else {
			mayHaveRun = append(mayHaveRun, r)
		}
	}
	for _, l := range touched {
		a.flush(l)
	}
	a.mu.Unlock()
	return mayHaveRun
}

// kill marks the actor killed by this client: its later calls go through
// the head, after the kill on the same stream (sent by send, under the
// route's lock), so that they fail: a direct call could reach the actor's
// executor before the head's word of the kill does.
func (a *actorRoute) kill(id ids.ID, send func() error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.c
	c.mu.Lock()
	h := c.refs[id]
	c.mu.Unlock()
	if h != nil {
		h.mu.Lock()
		h.killed, h.actor = true, nil
		h.mu.Unlock()
	}
	if l := a.links[id]; l != nil {
		l.broken = true
	}
	return send()
}

// forget drops the link to an actor whose handle this client let go,
// unless calls still use it.
func (a *actorRoute) forget(actor ids.ID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.links[actor]; l != nil && l.idle() {
		delete(a.links, actor)
	}
}
