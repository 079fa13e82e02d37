package head

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/autoscaler"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// Work no live node could ever run (more CPUs than any node has, a GPU or
// a custom resource no node offers) is never silent. When a class's first
// task turns out so, the class is marked waiting: the head records an
// event, logs it, warns every owner of work in the class (the client logs
// the warning), and lists the shape in status. Then:
//
//   - an autoscaler node type fits it: it waits for the autoscaler, and
//     the reason says which type;
//   - nothing fits and the cluster cannot grow (an embedded cluster,
//     Config.FixedNodes): it fails at once with ErrInfeasible;
//   - nothing fits: it waits for a node that fits to join (as Ray does), or
//     fails with ErrInfeasible after Config.InfeasibleTimeout when one is
//     set.
//
// The mark is cleared, with an event, when the class places a task again.

// waiting is what the head knows of a class whose first task no live node
// could run.
type waiting struct {
	since  time.Time
	reason string
	// infeasible: no autoscaler node type fits it either.
	infeasible bool
	warned     map[*session]bool
}

// SetNodeTypes tells the head which node types an autoscaler may launch,
// so that work only such a node fits waits for it instead of being
// infeasible.
func (h *Head) SetNodeTypes(types []autoscaler.NodeType) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nodeTypes = make(map[string]scheduler.Resources, len(types))
	for _, t := range types {
		h.nodeTypes[t.Name] = fromAutoscaler(t.Resources)
	}
}

// classWaits notes that c's first task t fits no live node. It returns
// whether t failed (the cluster cannot grow to fit it).
func (h *Head) classWaits(c *class, t *task) bool {
	now := time.Now()
	if c.waiting == nil {
		w := &waiting{since: now, warned: map[*session]bool{}}
		w.reason, w.infeasible = h.waitReason(t.req)
		c.waiting = w
		h.infeasible++
		h.eventLocked("waiting", fmt.Sprintf("work waits: %s", w.reason))
		owners := map[*session]int{}
		for _, q := range c.queue[c.head:] {
			if q != nil && q.state == taskReady {
				owners[q.owner]++
			}
		}
		for s, n := range owners {
			h.warnOwner(c, s, n)
		}
	}
	w := c.waiting
	if !w.infeasible {
		return false
	}
	if !h.cfg.FixedNodes && (h.cfg.InfeasibleTimeout <= 0 || now.Sub(w.since) < h.cfg.InfeasibleTimeout) {
		return false
	}
	msg := w.reason
	if !h.cfg.FixedNodes {
		msg += fmt.Sprintf("; gave up after %v (InfeasibleTimeout)", h.cfg.InfeasibleTimeout)
	} else {
		msg += "; no other node can join this cluster"
	}
	h.taskFailed(t, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_INFEASIBLE, Message: msg}, false)
	return true
}

// classRuns clears c's waiting mark when it places a task again (placed)
// or nothing waits in it any more.
func (h *Head) classRuns(c *class, placed bool) {
	if c.waiting == nil {
		return
	}
	what := "work that waited %v can run now (%s)"
	if !placed {
		what = "no work waits any more after %v (%s)"
	}
	h.eventLocked("waiting", fmt.Sprintf(what, time.Since(c.waiting.since).Round(time.Millisecond), c.waiting.reason))
	c.waiting = nil
	h.infeasible--
}

// warnOwner tells session s, once per waiting class, that n of its tasks
// or actors wait in c and why.
func (h *Head) warnOwner(c *class, s *session, n int) {
	w := c.waiting
	if w == nil || s == nil || s.dead || w.warned[s] {
		return
	}
	w.warned[s] = true
	what := "a task or actor"
	if n > 1 {
		what = fmt.Sprintf("%d tasks or actors", n)
	}
	msg := fmt.Sprintf("%s of yours cannot run: %s", what, w.reason)
	switch {
	case !w.infeasible:
	case h.cfg.FixedNodes:
		msg += "; failing it with ErrInfeasible"
	case h.cfg.InfeasibleTimeout > 0:
		msg += fmt.Sprintf("; it waits up to %v for a node that fits to join", h.cfg.InfeasibleTimeout)
	default:
		msg += "; it waits until a node that fits joins"
	}
	s.out.Add(64+len(msg), func(m *pb.HeadMessage) { m.Warnings = append(m.Warnings, msg) })
}

// waitReason says why work needing req fits no live node, and whether
// any autoscaler node type would fit it.
func (h *Head) waitReason(req scheduler.Resources) (string, bool) {
	shapes := map[string]int{}
	for _, n := range h.alive {
		shapes[n.total.String()]++
	}
	var nodes []string
	for _, s := range slices.Sorted(maps.Keys(shapes)) {
		nodes = append(nodes, fmt.Sprintf("%d × {%s}", shapes[s], s))
	}
	have := "the cluster has no live node"
	if len(nodes) > 0 {
		have = "no live node has that much (nodes: " + strings.Join(nodes, ", ") + ")"
	}
	for _, name := range slices.Sorted(maps.Keys(h.nodeTypes)) {
		if req.Fits(h.nodeTypes[name]) {
			return fmt.Sprintf("it needs {%s}; %s: waiting for the autoscaler to launch a node of type %q", req, have, name), false
		}
	}
	msg := fmt.Sprintf("it needs {%s}; %s", req, have)
	if len(h.nodeTypes) > 0 {
		msg += "; and no autoscaler node type fits it"
	}
	return msg, true
}

// waitingStatus lists the waiting classes for status.
func (h *Head) waitingStatus(now time.Time) []*pb.WaitingDemand {
	var out []*pb.WaitingDemand
	for _, c := range h.classes {
		w := c.waiting
		if w == nil {
			continue
		}
		d := &pb.WaitingDemand{Reason: w.reason, Infeasible: w.infeasible, SinceMsAgo: now.Sub(w.since).Milliseconds()}
		for _, t := range c.queue[c.head:] {
			if t != nil && t.state == taskReady {
				if d.Resources == nil {
					d.Resources = resourcesToPB(t.req)
				}
				d.Count++
			}
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *pb.WaitingDemand) int { return strings.Compare(a.Reason, b.Reason) })
	return out
}
