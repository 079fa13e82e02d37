package client

import (
	"slices"
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
// to the head (within twice that: see taskLease.linger), and a busy one
// once it has taken tasks for leaseTimeout and they are answered. A request for a
// function seen to run shorter than shortTask says so; the head may then
// grant a share of another caller's lease (its slot), whose ID the tasks
// carry instead.
// Results follow the rules of direct calls (actor_route.go). A task whose
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
	// leaseTimeout is how long a lease takes new tasks: then it goes back
	// to the head once its tasks are answered, and the pool asks again.
	// The head grants it again at once unless tasks wait there, which then
	// have the resources first: a client with a steady stream of tasks
	// does not keep the slots from other jobs' work for as long as its
	// stream lasts. (Ray's worker_lease_timeout_milliseconds, 500 ms.)
	leaseTimeout = 500 * time.Millisecond
	// shortStallAfter is stallAfter for tasks of a function seen to run
	// shorter than shortTask: a lease then answers several every
	// millisecond, and a pause of 10 ms is the machine's (a GC, a busy
	// CPU), not a long task's.
	shortStallAfter = 100 * time.Millisecond
)

// leaseRoute is the route of tasks that may run on worker leases. Its lock
// guards its pools, their leases, the lease requests at the head and the
// run times it learned.
type leaseRoute struct {
	c        *Client
	mu       lockAfter
	pools    map[int64]*taskPool // by CPU amount
	asks     map[ids.ID]leaseAsk // lease requests at the head
	runTimes map[string]*runStat // leased tasks' run times, by function
}

// taskPool holds the tasks of one CPU amount. Guarded by leaseRoute.mu.
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

// depth is how many tasks of function may wait on one lease.
func (lr *leaseRoute) depth(function string) int {
	if st := lr.runTimes[function]; st != nil && st.n >= minRuns && st.mean < shortTask {
		return leaseDepth
	}
	return 1
}

// learn records a leased task's run time.
func (lr *leaseRoute) learn(function string, d time.Duration) {
	st := lr.runTimes[function]
	if st == nil {
		st = lr.newRunStat(function, d)
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

// learnFromHead takes the head's mean run time of function for as long as
// this client has not seen enough runs of its own.
func (lr *leaseRoute) learnFromHead(function string, mean time.Duration) {
	if st := lr.runTimes[function]; st == nil || st.n < minRuns {
		lr.newRunStat(function, mean).n = minRuns
	}
}

// newRunStat starts function's run statistics at mean.
func (lr *leaseRoute) newRunStat(function string, mean time.Duration) *runStat {
	if len(lr.runTimes) >= 4096 {
		clear(lr.runTimes) // bounded: forget, and learn again
	}
	st := &runStat{mean: mean}
	lr.runTimes[function] = st
	return st
}

// taskLease is a granted lease. Guarded by leaseRoute.mu.
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
	ended    bool
	// expires is when the lease stops taking tasks (leaseTimeout after
	// its grant); expired is set by the first pump past it.
	expires time.Time
	expired bool
	// sent counts the tasks sent on the lease. linger, while armed, fires
	// every leaseLinger while the lease is idle or was used since the last
	// time (lingerMark), and ends it when neither: one timer a lease
	// rather than one each time it goes idle, as a timer armed as the
	// earliest of its processor's wakes another thread to watch it (the
	// runtime's wakeNetPoller): that cost each synchronous round trip a
	// thread's wake-up (5% of the driver's CPU time in
	// BenchmarkSyncRoundTrip).
	sent       uint64
	linger     *time.Timer
	lingering  bool
	lingerMark uint64
}

// leaseEligible reports whether a task may run under a lease.
func leaseEligible(spec *pb.TaskSpec) bool {
	r := spec.Resources
	return spec.Strategy == pb.Strategy_STRATEGY_DEFAULT && spec.AffinityNode == nil && len(spec.Env) == 0 && !spec.RetryAppErrors &&
		r != nil && r.Cpu > 0 && r.Gpu == 0 && r.Memory == 0 && len(r.Custom) == 0 && rpc.InlineArgs(spec.Args)
}

// send queues a task for its pool; while the head refuses the pool a
// first lease, the task goes to the head.
func (lr *leaseRoute) send(r *Ref) {
	spec := r.spec.(*pb.TaskSpec)
	lr.mu.Lock()
	defer lr.mu.Unlock()
	p := lr.pools[spec.Resources.Cpu]
	if p == nil {
		p = &taskPool{cpu: spec.Resources.Cpu}
		lr.pools[p.cpu] = p
	}
	if len(p.leases) == 0 && time.Now().Before(p.refusedUntil) {
		lr.toHead(r)
		return
	}
	p.queue = append(p.queue, r)
	lr.pump(p)
}

func (lr *leaseRoute) cancel(r *Ref) { lr.c.cancelDirected(r) }

// toHead sends r to the head (a task that waited, or that its lease's
// executor did not run), or fails it when it was cancelled before. Called
// with lr.mu held.
func (lr *leaseRoute) toHead(r *Ref) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d.cancelReq {
		lr.mu.later(r.cancelUnsent)
		return
	}
	if err := r.sendHeadLocked(); err != nil {
		lr.mu.later(func() { lr.c.fail(err) })
	}
}

// pump sends p's waiting tasks on its leases while they have room, and
// asks for a lease when tasks still wait. Called with lr.mu held.
func (lr *leaseRoute) pump(p *taskPool) {
	c := lr.c
	if len(p.leases) > 0 && len(p.queue) > 0 {
		now := time.Now()
		for _, l := range p.leases {
			l.expired = l.expired || now.After(l.expires)
		}
	}
	for len(p.queue) > 0 {
		depth := lr.depth(p.queue[0].spec.(*pb.TaskSpec).Function)
		var best *taskLease
		for _, l := range p.leases {
			if !l.ended && !l.expired && l.inflight < depth && (best == nil || l.inflight < best.inflight) {
				best = l
			}
		}
		if best == nil {
			break
		}
		r := p.queue[0]
		r.mu.Lock()
		if r.d.cancelReq || r.d.exported {
			// Cancelled, or its ID left this client before it was sent:
			// the head must own it from the start.
			r.mu.Unlock()
			p.pop()
			lr.toHead(r)
			continue
		}
		full := r.spec.(*pb.TaskSpec)
		spec := &pb.TaskSpec{Id: full.Id, Function: full.Function, Args: full.Args, Resources: full.Resources, LeaseId: best.slot}
		flush, ok := c.conns.queue(best.conn, r, workSize(spec), directItem{task: spec})
		if !ok {
			// The lease's connection failed under it (the route hears of
			// that too): the lease is over.
			r.mu.Unlock()
			lr.endLease(best)
			continue
		}
		r.d.path, r.d.place = pathDirect, best.place
		r.mu.Unlock()
		p.pop()
		r.d.lease = best
		best.inflight++
		best.sent++
		p.sent++
		if flush != nil {
			lr.mu.later(flush)
		}
	}
	// Expired leases go back once their tasks are answered, before the
	// pool asks again for what waits (the head takes the returns first).
	for i := 0; i < len(p.leases); i++ {
		if l := p.leases[i]; l.expired && l.inflight == 0 {
			lr.endLease(l)
			i--
		}
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
		short = lr.depth(fn) > 1
	}
	for ; p.asks < want; p.asks++ {
		id := c.gen.Next()
		lr.asks[id] = leaseAsk{p, fn}
		req := &pb.LeaseRequest{Id: id.Bytes(), Resources: &pb.Resources{Cpu: p.cpu}, Short: short, Function: fn}
		if err := c.session.send(64, func(m *pb.ClientMessage) { m.LeaseRequests = append(m.LeaseRequests, req) }); err != nil {
			lr.mu.later(func() { c.fail(err) })
			break
		}
	}
	for _, l := range p.leases {
		if !l.ended && l.inflight == 0 && len(p.queue) == 0 && !l.lingering {
			l.lingering, l.lingerMark = true, l.sent
			if l.linger == nil {
				l.linger = time.AfterFunc(leaseLinger, func() { lr.leaseIdle(l) })
			} else {
				l.linger.Reset(leaseLinger)
			}
		}
	}
	if len(p.queue) > 0 && p.stall == nil {
		p.stallMark = p.sent
		after := stallAfter
		if lr.depth(p.queue[0].spec.(*pb.TaskSpec).Function) > 1 {
			after = shortStallAfter
		}
		p.stall = time.AfterFunc(after, func() { lr.poolStalled(p) })
	}
}

// pop takes the first task off p's queue.
func (p *taskPool) pop() {
	p.queue[0] = nil
	p.queue = p.queue[1:]
}

// poolStalled sends a pool's waiting tasks to the head when its leases
// took none for stallAfter: their tasks may be long, or blocked waiting
// for the very tasks that wait here.
func (lr *leaseRoute) poolStalled(p *taskPool) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	p.stall = nil
	if len(p.queue) > 0 {
		// (A pool waiting for the head's first answer is not stalled:
		// a refusal sends its tasks to the head.)
		if p.sent == p.stallMark && (len(p.leases) > 0 || p.asks == 0) {
			lr.queueToHead(p)
		} else {
			lr.pump(p) // watch again
		}
	}
}

// queueToHead sends every task waiting in p to the head. Called with lr.mu
// held.
func (lr *leaseRoute) queueToHead(p *taskPool) {
	for _, r := range p.queue {
		lr.toHead(r)
	}
	clear(p.queue)
	p.queue = p.queue[:0]
}

// granted takes the head's answers to lease requests.
func (lr *leaseRoute) granted(grants []*pb.LeaseGrant) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for _, g := range grants {
		id, err := ids.FromBytes("lease id", g.Id)
		if err != nil {
			continue
		}
		ask, ok := lr.asks[id]
		if !ok {
			continue
		}
		delete(lr.asks, id)
		p := ask.pool
		if g.FunctionMeanNs > 0 {
			lr.learnFromHead(ask.function, time.Duration(g.FunctionMeanNs))
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
			lr.queueToHead(p)
			continue
		}
		l := &taskLease{id: id, slot: g.Id, pool: p, conn: lr.c.conns.open(g.Addr, g.LocalAddr, g.NodeId, g.Pid, g.Scope), place: &pb.Location{NodeId: g.NodeId, DataAddr: g.DataAddr},
			expires: time.Now().Add(leaseTimeout)}
		if len(g.Slot) > 0 {
			l.slot = g.Slot
		}
		p.leases = append(p.leases, l)
		lr.pump(p)
	}
}

// leaseIdle returns a lease that stayed idle since its linger timer last
// fired (or was armed); it watches on a lease idle now but used since, and
// leaves a busy one to be watched again once it is idle.
func (lr *leaseRoute) leaseIdle(l *taskLease) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if l.ended || !l.lingering {
		return
	}
	switch {
	case l.inflight > 0 || len(l.pool.queue) > 0:
		l.lingering = false // (pump arms it again)
	case l.sent != l.lingerMark:
		l.lingerMark = l.sent
		l.linger.Reset(leaseLinger)
	default:
		l.lingering = false
		lr.endLease(l)
	}
}

// endLease drops a lease and gives it back to the head. Called with lr.mu
// held.
func (lr *leaseRoute) endLease(l *taskLease) {
	if l.ended {
		return
	}
	l.ended = true
	if l.lingering {
		l.linger.Stop()
		l.lingering = false
	}
	p := l.pool
	for i, x := range p.leases {
		if x == l {
			p.leases = append(p.leases[:i], p.leases[i+1:]...)
			break
		}
	}
	id := l.id.Bytes()
	lr.c.session.send(24, func(m *pb.ClientMessage) { m.LeaseReturns = append(m.LeaseReturns, id) })
}

// answered finishes the tasks a batch answers; a task its executor did
// not run goes to the head.
func (lr *leaseRoute) answered(_ *directConn, answers []answer) {
	finished := answers[:0] // (finished once the lock is let go, in order)
	defer func() {
		for _, an := range finished {
			an.r.finishDirect(an.res)
		}
	}()
	lr.mu.Lock()
	pools := make([]*taskPool, 0, 1)
	for _, an := range answers {
		r, res := an.r, an.res
		spec := r.spec.(*pb.TaskSpec)
		if p := lr.pools[spec.Resources.Cpu]; !slices.Contains(pools, p) {
			pools = append(pools, p)
		}
		if res.NotHere {
			lr.taskBack(r, false)
			continue
		}
		if res.Error != nil && res.Error.Kind == pb.ErrorKind_ERROR_KIND_NODE_DIED {
			// The executor's node went away under the task (its result
			// could not be stored): as if the executor had, a retry.
			lr.taskBack(r, true)
			continue
		}
		lr.taskDone(r)
		lr.learn(spec.Function, time.Duration(res.DurationNs))
		finished = append(finished, an)
	}
	for _, p := range pools {
		lr.pump(p)
	}
	lr.mu.Unlock()
}

// lost: with conn, ends the leases on it, and sends the tasks it carried
// to the head (as retries when they may have run), but for those that may
// have run and may not be retried: they fail. With conn nil (the session
// with the head was lost), forgets every lease and lease request (the new
// session's head knows none of them; the executors that held them went
// with the old one) and asks again for what waits.
func (lr *leaseRoute) lost(conn *directConn, unanswered []*Ref) (mayHaveRun []*Ref) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if conn == nil {
		clear(lr.asks)
		for _, p := range lr.pools {
			p.asks = 0
			for _, l := range p.leases {
				l.ended = true
				if l.lingering {
					l.linger.Stop()
					l.lingering = false
				}
			}
			p.leases = nil
			lr.pump(p)
		}
		return nil
	}
	var pools []*taskPool
	for _, p := range lr.pools {
		for _, l := range append([]*taskLease(nil), p.leases...) {
			if l.conn == conn {
				lr.endLease(l)
				if !slices.Contains(pools, p) {
					pools = append(pools, p)
				}
			}
		}
	}
	for _, r := range unanswered {
		// A task may run again: through the head, as a retry.
		spec := r.spec.(*pb.TaskSpec)
		if p := lr.pools[spec.Resources.Cpu]; !slices.Contains(pools, p) {
			pools = append(pools, p)
		}
		if !conn.opened || spec.MaxRetries != 0 {
			lr.taskBack(r, conn.opened)
		} else {
			lr.taskDone(r)
			mayHaveRun = append(mayHaveRun, r)
		}
	}
	for _, p := range pools {
		lr.pump(p)
	}
	return mayHaveRun
}

// taskDone is told that a task sent on a lease was answered or will never
// be.
func (lr *leaseRoute) taskDone(r *Ref) {
	if l := r.d.lease; l != nil {
		l.inflight--
		r.d.lease = nil
	}
}

// taskBack sends a task its lease's executor did not run (or may have
// run, when that executor went away) to the head; a task that may have
// run counts the retry.
func (lr *leaseRoute) taskBack(r *Ref, mayHaveRun bool) {
	lr.taskDone(r)
	r.mu.Lock()
	defer r.mu.Unlock()
	spec := r.spec.(*pb.TaskSpec)
	if mayHaveRun && spec.MaxRetries > 0 {
		spec.MaxRetries--
	}
	// (If the head holds it as a pending object this client declared, the
	// task becomes its producer there.)
	if err := r.sendHeadLocked(); err != nil {
		lr.mu.later(func() { lr.c.fail(err) })
	}
}
