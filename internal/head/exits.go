package head

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// An executor whose connection closed on its own died: a task called
// os.Exit, a goroutine a task started panicked, the kernel killed it. Only
// its node saw why (the exit status and the crash output), and the node's
// report usually comes just after the connection closed. So the tasks and
// actors that were in the executor are failed once that report is here,
// with its text (or after exitReportWait without it): the caller's error
// then says why, not only that the executor went away.

// exitReportWait bounds how long the head waits for a node's report of an
// executor's exit before failing the executor's work without it.
const exitReportWait = 2 * time.Second

// exitingExecutor is an executor whose connection closed, waiting for its
// node's exit report.
type exitingExecutor struct {
	s     *session
	until time.Time
}

// exitReport is a node's report of an executor's exit that came before
// the executor's connection was seen closed.
type exitReport struct {
	cause string
	at    time.Time
}

// awaitExit holds an executor session that ended by itself until its node
// says why; it reports false when the work can be failed now.
func (h *Head) awaitExit(s *session) bool {
	n := s.node
	if n == nil || !n.alive || s.job.ended || len(s.running) == 0 && len(s.actors) == 0 {
		return false
	}
	if r, ok := n.exitReports[s.pid]; ok {
		h.executorGone(s, "it exited: "+r.cause)
		return true
	}
	n.exiting[s.pid] = &exitingExecutor{s: s, until: time.Now().Add(exitReportWait)}
	return true
}

// executorExited takes a node's report of an executor's exit.
func (h *Head) executorExited(n *nodeState, pid int32, cause string) {
	n.exitReports[pid] = exitReport{cause: cause, at: time.Now()}
	for _, w := range n.exitWaiters[pid] {
		close(w)
	}
	delete(n.exitWaiters, pid)
	if x := n.exiting[pid]; x != nil {
		delete(n.exiting, pid)
		h.executorGone(x.s, "it exited: "+cause)
	}
}

// ExecutorExit returns the node's account of why executor pid on node
// exited, waiting up to exitReportWait for it; "" if none came.
func (h *Head) ExecutorExit(ctx context.Context, node ids.ID, pid int32) string {
	h.mu.Lock()
	n := h.nodes[node]
	if n == nil {
		h.mu.Unlock()
		return ""
	}
	if r, ok := n.exitReports[pid]; ok {
		h.mu.Unlock()
		return r.cause
	}
	if !n.alive {
		h.mu.Unlock()
		return fmt.Sprintf("its node %s died", node.Abbrev())
	}
	w := make(chan struct{})
	n.exitWaiters[pid] = append(n.exitWaiters[pid], w)
	h.mu.Unlock()
	t := time.NewTimer(exitReportWait)
	defer t.Stop()
	select {
	case <-w:
	case <-t.C:
	case <-ctx.Done():
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r, ok := n.exitReports[pid]; ok {
		return r.cause
	}
	if !n.alive {
		return fmt.Sprintf("its node %s died", node.Abbrev())
	}
	return ""
}

// expireExits fails the work of executors whose exit was not reported in
// time, and forgets reports nobody asked for. Called with h.mu held.
func (h *Head) expireExits(now time.Time) {
	for _, n := range h.alive {
		for pid, x := range n.exiting {
			if now.After(x.until) {
				delete(n.exiting, pid)
				h.executorGone(x.s, fmt.Sprintf("its connection closed, and its node reported no exit within %v", exitReportWait))
			}
		}
		for pid, r := range n.exitReports {
			if now.Sub(r.at) > time.Minute {
				delete(n.exitReports, pid)
			}
		}
		for pid, ws := range n.exitWaiters {
			// (Waiters give up after exitReportWait: drop what they left.)
			ws = slices.DeleteFunc(ws, func(w chan struct{}) bool {
				select {
				case <-w:
					return true
				default:
					return false
				}
			})
			if len(ws) == 0 {
				delete(n.exitWaiters, pid)
			} else {
				n.exitWaiters[pid] = ws
			}
		}
	}
}

// executorsLost fails the work of n's executors still waiting for their
// exit report (n died). Called with h.mu held.
func (h *Head) executorsLost(n *nodeState, reason string) {
	for pid, x := range n.exiting {
		delete(n.exiting, pid)
		h.executorGone(x.s, reason)
	}
	for _, ws := range n.exitWaiters {
		for _, w := range ws {
			close(w)
		}
	}
	clear(n.exitWaiters)
}

// executorGone fails or retries the tasks that were running in executor
// s and loses its actors, saying why (cause).
func (h *Head) executorGone(s *session, cause string) {
	n := s.node
	where := fmt.Sprintf("on node %s (pid %d)", n.id.Abbrev(), s.pid)
	running := make([]string, 0, len(s.running))
	for _, t := range s.running {
		running = append(running, fmt.Sprintf("%s (%s)", t.spec.Function, t.id.Short()))
	}
	slices.Sort(running)
	also := ""
	if len(running) > 1 {
		if len(running) > 8 {
			running = append(running[:8], fmt.Sprintf("and %d more", len(running)-8))
		}
		also = "; running in it: " + strings.Join(running, ", ")
	}
	for _, a := range s.actors {
		h.actorLost(a, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED, NodeId: n.id.Bytes(),
			Message: fmt.Sprintf("actor %s died: the executor it lived in %s went away: %s", a.label(), where, cause)})
	}
	for _, t := range s.running {
		h.unassign(t)
		h.taskFailed(t, &pb.ErrorInfo{
			Kind:    pb.ErrorKind_ERROR_KIND_EXECUTOR,
			Message: fmt.Sprintf("the executor running it %s went away: %s%s", where, cause, also),
			NodeId:  n.id.Bytes(),
		}, true)
	}
	h.schedule()
}
