package head

import (
	"slices"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// Worker leases (phase 2 of docs/proposals/direct-calls.md). A client with
// tasks to run asks for a lease: resources committed on a node whose
// executor for the client's job serves direct calls. The client then sends
// tasks straight to that executor, which runs a lease's tasks one at a
// time, and gives the lease back when it has nothing left to send or has
// taken tasks for 500 ms. The head stays the only scheduler of resources:
// a lease is granted only from resources free now that no task waiting at
// the head could run on now, and refused otherwise (the client then
// submits to the head as usual).
//
// A request for tasks known to be short (under a millisecond) that finds no
// free resources may instead share a slot: another caller's lease of the
// same job and resources. The sharer sends its tasks under the slot's ID,
// so the executor runs them one at a time with the slot's other tasks: the
// resources are counted once and never oversubscribed, and short tasks of
// several callers all skip the head. The slot's resources stay held until
// its owner and every sharer gave their leases back.

// maxSharers bounds the leases sharing one slot: beyond it, a caller's
// tasks would wait behind too many others' (each caller pipelines up to 64
// short tasks on a lease).
const maxSharers = 3

// lease is one granted worker lease.
type lease struct {
	id      ids.ID
	owner   *session
	exec    *session
	node    *nodeState
	req     scheduler.Resources
	blocked bool // its running task waits in Get: its resources are free
	// slot is the lease whose resources this one shares (nil: it holds its
	// own); sharers counts the live leases sharing this one's.
	slot    *lease
	sharers int
	// ended: its owner gave it back (a slot's resources are held on while
	// sharers remain).
	ended bool
}

// grantLease answers a lease request of s.
func (h *Head) grantLease(s *session, r *pb.LeaseRequest) *pb.LeaseGrant {
	g := &pb.LeaseGrant{Id: r.Id}
	id, err := ids.FromBytes("lease id", r.Id)
	if err != nil || s.job == nil || h.leases[id] != nil {
		return g
	}
	req := resourcesFromPB(r.Resources)
	if req.Negative() || !req.OnlyCPU() || req.CPU <= 0 {
		return g
	}
	best := h.nodeForLease(s, req)
	runs := h.durations[r.Function] // the head's runs of the function, if any
	l := &lease{id: id, owner: s, req: req}
	if best != nil {
		l.exec, l.node = best.execs[s.job.work().id], best
		best.committed = best.committed.Add(req)
		best.running++
		best.idleSince = time.Time{}
	} else if slot := h.slotToShare(s, req, r.Short || runs.under(h.cfg.ShortTask)); slot != nil {
		l.exec, l.node, l.slot = slot.exec, slot.node, slot
		slot.sharers++
		g.Slot = slot.id.Bytes()
	} else {
		return g
	}
	if runs != nil && runs.n > 0 {
		g.FunctionMeanNs = int64(max(runs.mean, 1))
	}
	h.leases[id] = l
	s.leases[id] = l
	l.exec.hosted[id] = l
	g.Granted, g.Addr, g.LocalAddr, g.NodeId, g.DataAddr, g.Pid = true, l.exec.directAddr, l.exec.directLocal, l.node.id.Bytes(), l.node.dataAddr, l.exec.pid
	g.Scope = l.exec.job.credentialJob().id.Bytes()
	return g
}

// nodeForLease picks the node with the most CPU free (so leases spread)
// where req fits and s's job has an executor serving direct calls, but for
// nodes a task waiting at the head waits for (waitsFor): what frees there
// goes to it first.
func (h *Head) nodeForLease(s *session, req scheduler.Resources) *nodeState {
	waiting := h.waitingTasks()
	if len(waiting) > 0 {
		h.countLeased()
		defer clear(waiting) // (holds no finished task past the request)
	}
	var best *nodeState
	for _, n := range h.alive {
		exec := n.execs[s.job.work().id]
		if n.draining || exec == nil || exec.dead || exec.directAddr == "" || !req.Fits(n.total.Sub(n.committed)) || h.waitsFor(waiting, n) {
			continue
		}
		if best == nil || n.total.CPU-n.committed.CPU > best.total.CPU-best.committed.CPU {
			best = n
		}
	}
	return best
}

// slotToShare picks the lease a short-task lease request of s may share:
// another session's live lease of the same job and resources, with room
// for a sharer, that s does not share yet; the one with fewest sharers.
func (h *Head) slotToShare(s *session, req scheduler.Resources, short bool) *lease {
	if !short {
		return nil
	}
	var best *lease
	for _, l := range h.leases {
		if l.slot != nil || l.ended || l.owner == s || l.blocked || l.exec.job != s.job.work() || l.req.CPU != req.CPU ||
			l.sharers >= maxSharers || !l.node.alive || l.node.draining || l.exec.dead {
			continue
		}
		if best != nil && best.sharers <= l.sharers {
			continue
		}
		shared := false
		for _, mine := range s.leases {
			if mine.slot == l {
				shared = true
				break
			}
		}
		if !shared {
			best = l
		}
	}
	return best
}

// waitingTasks returns the first waiting task of each class: the tasks a
// lease must not take resources from.
func (h *Head) waitingTasks() []*task {
	h.waiting = h.waiting[:0]
	for _, c := range h.active {
		if t := c.first(); t != nil {
			h.waiting = append(h.waiting, t)
		}
	}
	return h.waiting
}

// countLeased sets each live node's leased: the CPU of the leases that
// hold resources there and are not blocked.
func (h *Head) countLeased() {
	for _, n := range h.alive {
		n.leased = 0
	}
	for _, l := range h.leases {
		if l.slot == nil && !l.blocked && l.node.alive {
			l.node.leased += l.req.CPU
		}
	}
}

// waitsFor reports whether one of the waiting tasks waits for n: it could
// run there on what is free and what the node's leases hold, which come
// back within leaseTimeout (internal/client) and must then go to it, not
// to the next lease (a task needing 2 CPUs behind a stream's two 1-CPU
// leases, given back one at a time, saw each taken again at once). A
// lease may take resources none of them could use (the CPUs of a node
// whose GPU a waiting task needs is busy). Soft affinity to a live node
// waits for that node only, as placement does.
func (h *Head) waitsFor(waiting []*task, n *nodeState) bool {
	if len(waiting) == 0 {
		return false
	}
	free := n.total.Sub(n.committed)
	free.CPU += n.leased
	for _, t := range waiting {
		if !t.affinity.IsNil() && t.affinity != n.id {
			if a := h.nodes[t.affinity]; !t.spec.AffinitySoft || a != nil && a.alive {
				continue
			}
		}
		if slices.Contains(t.excluded, n.id) {
			continue
		}
		if t.req.Fits(free) {
			return true
		}
	}
	return false
}

// endLease ends a lease: its owner gave it back, or the owner or its
// executor went away. A slot's resources go back once no lease shares it.
// Idempotent.
func (h *Head) endLease(l *lease) {
	if l.ended {
		return
	}
	l.ended = true
	delete(l.owner.leases, l.id)
	if slot := l.slot; slot != nil {
		h.dropLease(l)
		slot.sharers--
		if slot.ended && slot.sharers == 0 {
			h.dropLease(slot)
		}
		return
	}
	if l.sharers == 0 {
		h.dropLease(l)
	}
}

// dropLease forgets an ended lease, giving back the resources it held.
func (h *Head) dropLease(l *lease) {
	delete(h.leases, l.id)
	delete(l.exec.hosted, l.id)
	if n := l.node; n.alive && l.slot == nil {
		if !l.blocked {
			n.committed = n.committed.Sub(l.req)
		}
		n.running--
	}
}

// returnLease ends a lease its owner gave back.
func (h *Head) returnLease(s *session, b []byte) {
	id, err := ids.FromBytes("returned lease id", b)
	if err != nil {
		return
	}
	if l := h.leases[id]; l != nil && l.owner == s {
		h.endLease(l)
	}
}

// leaseBlocked records that a lease's task blocked in Get or resumed: like
// a task's, its resources go back while it waits, so that the tasks it
// waits for can run.
func (h *Head) leaseBlocked(s *session, b *pb.TaskBlock) {
	id, err := ids.FromBytes("blocked lease id", b.LeaseId)
	if err != nil {
		return
	}
	l := h.leases[id]
	if l == nil || l.slot != nil || l.exec != s || l.blocked == b.Blocked || !l.node.alive {
		return
	}
	l.blocked = b.Blocked
	if b.Blocked {
		l.node.committed = l.node.committed.Sub(l.req)
	} else {
		l.node.committed = l.node.committed.Add(l.req)
	}
}

// endSessionLeases ends the leases a session held or hosted.
func (h *Head) endSessionLeases(s *session) {
	for _, l := range s.leases {
		h.endLease(l)
	}
	for _, l := range s.hosted {
		h.endLease(l)
	}
}
