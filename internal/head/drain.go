package head

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Drain removes node id gracefully, as a cloud's spot preemption or a
// scale-down needs: the node takes no new work at once; its running tasks
// get until deadline to finish (after it they are retried elsewhere);
// objects whose only copy is on it are pulled by other nodes; its actors
// are restarted elsewhere (or end, if they may not restart); then the node
// is told to exit. It returns what it did.
func (h *Head) Drain(ctx context.Context, id ids.ID, deadline time.Duration) (*pb.DrainReply, error) {
	start := time.Now()
	h.mu.Lock()
	n := h.nodes[id]
	if n == nil || !n.alive {
		h.mu.Unlock()
		return nil, fmt.Errorf("node %s is not a live member of the cluster", id.Abbrev())
	}
	if n.draining {
		h.mu.Unlock()
		return nil, fmt.Errorf("node %s is already being drained", id.Abbrev())
	}
	if why := h.pinnedBy(id); why != "" {
		h.mu.Unlock()
		return nil, fmt.Errorf("node %s is pinned (%s): an operation depends on it; it can be drained once unpinned", id.Abbrev(), why)
	}
	others := 0
	for _, m := range h.alive {
		if m != n && !m.draining {
			others++
		}
	}
	if others == 0 {
		h.mu.Unlock()
		return nil, fmt.Errorf("node %s is the only node left: draining it would leave the cluster nothing to run on", id.Abbrev())
	}
	n.draining = true
	startRunning := n.running
	h.log.Info("draining node", "node", id.Abbrev(), "running_tasks", n.running, "deadline", deadline)
	h.mu.Unlock()

	rep := &pb.DrainReply{}
	until := time.Now().Add(deadline)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	pulled := map[ids.ID]bool{}
	for {
		h.mu.Lock()
		if !n.alive {
			h.mu.Unlock()
			return nil, fmt.Errorf("node %s died while it was being drained", id.Abbrev())
		}
		tasksDone := n.running == 0
		movable := 0
		if tasksDone {
			for _, o := range n.objects {
				if !h.onlyCopyHere(o, n) {
					continue
				}
				movable++
				if !pulled[o.id] {
					if target := h.pullTarget(n); target != nil {
						pulled[o.id] = true
						p := &pb.ObjectPull{Id: o.wireID(), FromNode: n.id.Bytes(), FromAddr: n.dataAddr}
						target.out.Add(64, func(m *pb.HeadToNode) { m.PullObjects = append(m.PullObjects, p) })
					}
				}
			}
		}
		done := tasksDone && movable == 0
		if done || time.Now().After(until) || ctx.Err() != nil {
			rep.TasksFinished = int64(startRunning - n.running)
			rep.TasksMoved = int64(n.running)
			rep.ObjectsLost = int64(movable)
			for oid := range pulled {
				if o := h.objects[oid]; o != nil && !h.onlyCopyHere(o, n) {
					rep.ObjectsMoved++
				}
			}
			for _, s := range n.execs {
				rep.ActorsMoved += int64(len(s.actors))
			}
			n.out.Add(8, func(m *pb.HeadToNode) { m.Shutdown = true })
			h.nodeGone(n, fmt.Sprintf("it was drained (deadline %v)", deadline), true)
			h.mu.Unlock()
			rep.Seconds = time.Since(start).Seconds()
			h.log.Info("drained node", "node", id.Abbrev(), "tasks_finished", rep.TasksFinished, "tasks_moved", rep.TasksMoved,
				"objects_moved", rep.ObjectsMoved, "objects_lost", rep.ObjectsLost, "actors_moved", rep.ActorsMoved)
			if ctx.Err() != nil {
				return rep, fmt.Errorf("%w: drain of node %s interrupted: %v", errs.ErrClosed, id.Abbrev(), ctx.Err())
			}
			return rep, nil
		}
		h.mu.Unlock()
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// onlyCopyHere reports whether n holds the only copy of a live object that
// cannot simply be dropped.
func (h *Head) onlyCopyHere(o *object, n *nodeState) bool {
	if o.value != nil || o.freed || o.state != objectReady {
		return false
	}
	for _, l := range o.locs {
		if l != n && l.alive {
			return false
		}
	}
	return o.refs > 0 || o.lineageRefs > 0
}

// pullTarget picks the live, not draining node with the fewest objects.
func (h *Head) pullTarget(except *nodeState) *nodeState {
	var best *nodeState
	for _, m := range h.alive {
		if m == except || m.draining {
			continue
		}
		if best == nil || len(m.objects) < len(best.objects) {
			best = m
		}
	}
	return best
}
