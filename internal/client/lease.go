package client

import (
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Worker leases (phase 2 of docs/proposals/direct-calls.md). Tasks whose
// arguments are all inline, whose result cannot hold futures, and that ask
// only for CPUs with the default placement, wait in a pool per CPU amount;
// the client asks the head for leases for the pool and sends its tasks
// straight to the leased executors. The executor runs a lease's tasks one
// after the other, so a lease carries one task at a time, or up to
// leaseDepth of a function this client has seen run shorter than
// shortTask (as the head backlogs short tasks): parallelism comes from
// more leases, pipelining only where a task is too short to hide the
// network. A refused request sends the pool's waiting tasks to the head
// when the pool holds no lease (and its next tasks too for a while);
// otherwise they wait for the pool's leases, and the pool asks again as
// tasks finish. Tasks that waited stallAfter with no task sent on the
// pool's leases go to the head: a lease's task may be long, or blocked in
// Get on a task waiting behind it. A lease idle for leaseLinger goes back
// to the head. A request for a function seen to run shorter than shortTask
// says so; the head may then grant a share of another caller's lease
// (its slot), whose ID the tasks carry instead.
// Results follow the rules of direct calls (direct.go). A task whose
// executor went away is submitted to the head again, as a retry.

const (
	// minRuns is how many runs of a function a client sees before it
	// trusts their mean.
	minRuns = 4
	// leaseDepth bounds the short tasks sent on one lease and not
	// answered: deep enough that a lease never waits for the network
	// between tasks.
	leaseDepth = 64
	// shortTask is the mean run time under which a function's tasks are
	// pipelined on a lease (the head's default ShortTask).
	shortTask = time.Millisecond
	// maxLeases bounds the leases of one pool.
	maxLeases = 8
	// leaseLinger is how long an idle lease is kept for the next tasks
	// (a synchronous caller's next task comes within it).
	leaseLinger = 20 * time.Millisecond
	// refusedFor is how long a pool without leases sends its tasks to the
	// head after the head refused it a lease, and how long a pool with
	// leases waits before asking for more after a refusal.
	refusedFor = 50 * time.Millisecond
	// stallAfter is how long tasks wait for a pool's leases without any
	// being sent before they go to the head instead.
	stallAfter = 10 * time.Millisecond
	// shortStallAfter is stallAfter for tasks of a function seen to run
	// shorter than shortTask: a lease then answers several every
	// millisecond, and a pause of 10 ms is the machine's (a GC, a busy
	// CPU), not a long task's.
	shortStallAfter = 100 * time.Millisecond
)

// taskPool holds the tasks of one CPU amount. Guarded by Client.dmu.
type taskPool struct {
	cpu    int64
	queue  []*Ref
	leases []*taskLease
	asks   int // lease requests at the head
	// refusedUntil: refused a first lease, the pool sends its tasks to the
	// head until then. askAfter: refused one more, it asks no more until
	// then (that says nothing of a first lease once its leases are gone).
	refusedUntil, askAfter time.Time
	// sent counts tasks sent on leases; stall, while tasks wait, checks
	// that some were sent in the last stallAfter (else the waiting tasks
	// go to the head: the leases' tasks may be blocked on them).
	sent      uint64
	stall     *time.Timer
	stallMark uint64
}

// runStat is a function's mean run time (an exponential average).
type runStat struct {
	mean time.Duration
	n    int
}

// depthLocked is how many tasks of function may wait on one lease.
func (c *Client) depthLocked(function string) int {
	if st := c.runTimes[function]; st != nil && st.n >= minRuns && st.mean < shortTask {
		return leaseDepth
	}
	return 1
}

// learnLocked records a leased task's run time.
func (c *Client) learnLocked(function string, d time.Duration) {
	st := c.runTimes[function]
	if st == nil {
		st = c.newRunStatLocked(function, d)
	}
	st.n++
	st.mean += (d - st.mean) / 8
}

// leaseAsk is a lease request at the head: for the pool's tasks, the first
// of which ran function.
type leaseAsk struct {
	pool     *taskPool
	function string
}

// learnFromHeadLocked takes the head's mean run time of function for as
// long as this client has not seen enough runs of its own.
func (c *Client) learnFromHeadLocked(function string, mean time.Duration) {
	if st := c.runTimes[function]; st == nil || st.n < minRuns {
		c.newRunStatLocked(function, mean).n = minRuns
	}
}

// newRunStatLocked starts function's run statistics at mean.
func (c *Client) newRunStatLocked(function string, mean time.Duration) *runStat {
	if len(c.runTimes) >= 4096 {
		clear(c.runTimes) // bounded: forget, and learn again
	}
	st := &runStat{mean: mean}
	c.runTimes[function] = st
	return st
}

// taskLease is a granted lease. Guarded by Client.dmu.
type taskLease struct {
	id ids.ID
	// slot is the ID the lease's tasks carry: the lease's own, or that of
	// the lease whose resources it shares (read only: every task of the
	// lease carries this slice).
	slot     []byte
	pool     *taskPool
	conn     *directConn
	place    *pb.Location
	inflight int
	idle     *time.Timer
	ended    bool
}

// leaseEligible reports whether a task may run under a lease.
func leaseEligible(spec *pb.TaskSpec) bool {
	r := spec.Resources
	return spec.Strategy == pb.Strategy_STRATEGY_DEFAULT && spec.AffinityNode == nil && len(spec.Env) == 0 && !spec.RetryAppErrors &&
		r != nil && r.Cpu > 0 && r.Gpu == 0 && r.Memory == 0 && len(r.Custom) == 0 && rpc.InlineArgs(spec.Args)
}

// submitLeased queues a task for its pool, or reports false when it must
// go to the head.
func (c *Client) submitLeased(id ids.ID, spec *pb.TaskSpec) (*Ref, bool) {
	c.dmu.Lock()
	p := c.pools[spec.Resources.Cpu]
	if p == nil {
		p = &taskPool{cpu: spec.Resources.Cpu}
		c.pools[p.cpu] = p
	}
	if len(p.leases) == 0 && time.Now().Before(p.refusedUntil) {
		c.dmu.Unlock()
		return nil, false
	}
	r := &Ref{ID: id, Task: true, ready: make(chan struct{}), c: c, spec: spec, pool: p, wantDirect: true}
	if err := c.track(r, nil); err != nil { // (inline arguments: nothing to hold)
		c.dmu.Unlock()
		r.finish(nil, 0, nil, err)
		return r, true
	}
	p.queue = append(p.queue, r)
	post := c.pumpLocked(p, nil)
	c.dmu.Unlock()
	runAll(post)
	return r, true
}

// pumpLocked sends p's waiting tasks on its leases while they have room,
// and asks for a lease when tasks still wait.
func (c *Client) pumpLocked(p *taskPool, post []func()) []func() {
	for len(p.queue) > 0 {
		depth := c.depthLocked(p.queue[0].spec.(*pb.TaskSpec).Function)
		var best *taskLease
		for _, l := range p.leases {
			if !l.ended && l.inflight < depth && (best == nil || l.inflight < best.inflight) {
				best = l
			}
		}
		if best == nil {
			break
		}
		r := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		r.mu.Lock()
		if r.cancelReq {
			r.mu.Unlock()
			post = append(post, r.cancelUnsent)
			continue
		}
		if r.exported {
			// Its ID left this client before it was sent: the head must
			// own it from the start.
			post = c.sendHeadLocked(r, post)
			r.mu.Unlock()
			continue
		}
		r.path, r.place = pathDirect, best.place
		r.mu.Unlock()
		best.inflight++
		p.sent++
		if best.idle != nil {
			best.idle.Stop()
			best.idle = nil
		}
		r.lease = best
		full := r.spec.(*pb.TaskSpec)
		spec := &pb.TaskSpec{Id: full.Id, Function: full.Function, Args: full.Args, Resources: full.Resources, LeaseId: best.slot}
		post = c.sendDirectLocked(best.conn, r, workSize(spec), directItem{task: spec}, post)
	}
	// Ask for a lease per waiting task, up to maxLeases (after a refusal,
	// not again for a while).
	want := min(len(p.queue), maxLeases-len(p.leases))
	if want > p.asks && len(p.leases) > 0 && time.Now().Before(p.askAfter) {
		want = 0
	}
	var fn string
	var short bool
	if p.asks < want {
		fn = p.queue[0].spec.(*pb.TaskSpec).Function
		short = c.depthLocked(fn) > 1
	}
	for ; p.asks < want; p.asks++ {
		id := c.gen.Next()
		c.leaseAsks[id] = leaseAsk{p, fn}
		req := &pb.LeaseRequest{Id: id.Bytes(), Resources: &pb.Resources{Cpu: p.cpu}, Short: short, Function: fn}
		if err := c.session.send(64, func(m *pb.ClientMessage) { m.LeaseRequests = append(m.LeaseRequests, req) }); err != nil {
			post = append(post, func() { c.fail(err) })
			break
		}
	}
	for _, l := range p.leases {
		if !l.ended && l.inflight == 0 && len(p.queue) == 0 && l.idle == nil {
			l.idle = time.AfterFunc(leaseLinger, func() { c.leaseIdle(l) })
		}
	}
	if len(p.queue) > 0 && p.stall == nil {
		p.stallMark = p.sent
		after := stallAfter
		if c.depthLocked(p.queue[0].spec.(*pb.TaskSpec).Function) > 1 {
			after = shortStallAfter
		}
		p.stall = time.AfterFunc(after, func() { c.poolStalled(p) })
	}
	return post
}

// poolStalled sends a pool's waiting tasks to the head when its leases
// took none for stallAfter: their tasks may be long, or blocked waiting
// for the very tasks that wait here.
func (c *Client) poolStalled(p *taskPool) {
	var post []func()
	c.dmu.Lock()
	p.stall = nil
	if len(p.queue) > 0 {
		// (A pool waiting for the head's first answer is not stalled:
		// a refusal sends its tasks to the head.)
		if p.sent == p.stallMark && (len(p.leases) > 0 || p.asks == 0) {
			post = c.queueToHeadLocked(p, post)
		} else {
			post = c.pumpLocked(p, post) // watch again
		}
	}
	c.dmu.Unlock()
	runAll(post)
}

// queueToHeadLocked sends every task waiting in p to the head.
func (c *Client) queueToHeadLocked(p *taskPool, post []func()) []func() {
	for _, r := range p.queue {
		r.mu.Lock()
		if r.cancelReq {
			post = append(post, r.cancelUnsent)
		} else {
			post = c.sendHeadLocked(r, post)
		}
		r.mu.Unlock()
	}
	clear(p.queue)
	p.queue = p.queue[:0]
	return post
}

// onLeases takes the head's answers to lease requests.
func (c *Client) onLeases(grants []*pb.LeaseGrant) {
	var post []func()
	c.dmu.Lock()
	for _, g := range grants {
		id, err := ids.FromBytes("lease id", g.Id)
		if err != nil {
			continue
		}
		ask, ok := c.leaseAsks[id]
		if !ok {
			continue
		}
		delete(c.leaseAsks, id)
		p := ask.pool
		if g.FunctionMeanNs > 0 {
			c.learnFromHeadLocked(ask.function, time.Duration(g.FunctionMeanNs))
		}
		p.asks--
		if !g.Granted {
			// No room now: what waits goes to the head, which queues it
			// until there is, unless this pool holds leases.
			if len(p.leases) > 0 {
				// The pool's leases take them as they free up (or the
				// stall check sends them to the head).
				p.askAfter = time.Now().Add(refusedFor)
				continue
			}
			p.refusedUntil = time.Now().Add(refusedFor)
			post = c.queueToHeadLocked(p, post)
			continue
		}
		l := &taskLease{id: id, slot: g.Id, pool: p, conn: c.connLocked(g.Addr, g.LocalAddr, g.NodeId, g.Pid), place: &pb.Location{NodeId: g.NodeId, DataAddr: g.DataAddr}}
		if len(g.Slot) > 0 {
			l.slot = g.Slot
		}
		p.leases = append(p.leases, l)
		post = c.pumpLocked(p, post)
	}
	c.dmu.Unlock()
	runAll(post)
}

// leaseIdle returns a lease that stayed idle for leaseLinger.
func (c *Client) leaseIdle(l *taskLease) {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if l.ended || l.inflight > 0 || len(l.pool.queue) > 0 {
		return
	}
	l.idle = nil
	c.endLeaseLocked(l)
}

// endLeaseLocked drops a lease and gives it back to the head.
func (c *Client) endLeaseLocked(l *taskLease) {
	if l.ended {
		return
	}
	l.ended = true
	if l.idle != nil {
		l.idle.Stop()
		l.idle = nil
	}
	p := l.pool
	for i, x := range p.leases {
		if x == l {
			p.leases = append(p.leases[:i], p.leases[i+1:]...)
			break
		}
	}
	id := l.id.Bytes()
	c.session.send(24, func(m *pb.ClientMessage) { m.LeaseReturns = append(m.LeaseReturns, id) })
}

// resetLeases forgets every lease and lease request after the session
// with the head was lost (the new session's head knows none of them; the
// executors that held them went with the old one) and asks again for
// what waits.
func (c *Client) resetLeases() {
	var post []func()
	c.dmu.Lock()
	clear(c.leaseAsks)
	for _, p := range c.pools {
		p.asks = 0
		for _, l := range p.leases {
			l.ended = true
			if l.idle != nil {
				l.idle.Stop()
			}
		}
		p.leases = nil
		post = c.pumpLocked(p, post)
	}
	c.dmu.Unlock()
	runAll(post)
}

// leaseTaskDoneLocked is told that a task sent on a lease was answered or
// will never be.
func (c *Client) leaseTaskDoneLocked(r *Ref) {
	if l := r.lease; l != nil {
		l.inflight--
		r.lease = nil
	}
}

// taskBackLocked sends a task its lease's executor did not run (or may
// have run, when that executor went away) to the head; a task that may
// have run counts the retry.
func (c *Client) taskBackLocked(r *Ref, mayHaveRun bool, post []func()) []func() {
	c.leaseTaskDoneLocked(r)
	r.mu.Lock()
	defer r.mu.Unlock()
	spec := r.spec.(*pb.TaskSpec)
	if mayHaveRun && spec.MaxRetries > 0 {
		spec.MaxRetries--
	}
	// (If the head holds it as a pending object this client declared, the
	// task becomes its producer there.)
	return c.sendHeadLocked(r, post)
}

// dropLeasesLocked ends the leases on a broken connection and returns
// their pools.
func (c *Client) dropLeasesLocked(conn *directConn) map[*taskPool]bool {
	pools := map[*taskPool]bool{}
	for _, p := range c.pools {
		for _, l := range append([]*taskLease(nil), p.leases...) {
			if l.conn == conn {
				c.endLeaseLocked(l)
				pools[p] = true
			}
		}
	}
	return pools
}
