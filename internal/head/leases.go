package head

import (
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// Worker leases (phase 2 of docs/proposals/direct-calls.md). A client with
// tasks to run asks for a lease: resources committed on a node whose
// executor for the client's job serves direct calls. The client then sends
// tasks straight to that executor, which runs a lease's tasks one at a
// time, and gives the lease back when it has nothing left to send. The head
// stays the only scheduler of resources: a lease is granted only when the
// resources are free now and no task waits for resources at the head, and
// refused otherwise (the client then submits to the head as usual).

// lease is one granted worker lease.
type lease struct {
	id      ids.ID
	owner   *session
	exec    *session
	node    *nodeState
	req     scheduler.Resources
	blocked bool // its running task waits in Get: its resources are free
}

// grantLease answers a lease request of s.
func (h *Head) grantLease(s *session, r *pb.LeaseRequest) *pb.LeaseGrant {
	g := &pb.LeaseGrant{Id: r.Id}
	id, err := ids.FromBytes("lease id", r.Id)
	if err != nil || s.job == nil || h.leases[id] != nil {
		return g
	}
	req := resourcesFromPB(r.Resources)
	if req.Negative() || !req.OnlyCPU() || req.CPU <= 0 || h.tasksWaiting() {
		return g
	}
	var best *nodeState
	for _, n := range h.alive {
		exec := n.execs[s.job.id]
		if n.draining || exec == nil || exec.dead || exec.directAddr == "" || !req.Fits(n.total.Sub(n.committed)) {
			continue
		}
		// The node with the most CPU free, so leases spread.
		if best == nil || n.total.CPU-n.committed.CPU > best.total.CPU-best.committed.CPU {
			best = n
		}
	}
	if best == nil {
		return g
	}
	exec := best.execs[s.job.id]
	l := &lease{id: id, owner: s, exec: exec, node: best, req: req}
	h.leases[id] = l
	s.leases[id] = l
	exec.hosted[id] = l
	best.committed = best.committed.Add(req)
	best.running++
	best.idleSince = time.Time{}
	g.Granted, g.Addr, g.NodeId, g.DataAddr = true, exec.directAddr, best.id.Bytes(), best.dataAddr
	return g
}

// tasksWaiting reports whether tasks wait at the head for resources: a
// lease must not take resources they wait for.
func (h *Head) tasksWaiting() bool {
	for _, c := range h.active {
		if c.head < len(c.queue) {
			return true
		}
	}
	return false
}

// endLease gives a lease's resources back. Idempotent.
func (h *Head) endLease(l *lease) {
	if h.leases[l.id] != l {
		return
	}
	delete(h.leases, l.id)
	delete(l.owner.leases, l.id)
	delete(l.exec.hosted, l.id)
	n := l.node
	if n.alive {
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
	if l == nil || l.exec != s || l.blocked == b.Blocked || !l.node.alive {
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
