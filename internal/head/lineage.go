package head

import (
	"fmt"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Lineage: a task's result stored on a node can be lost with that node.
// The head keeps what made it (the task's spec and its argument objects)
// for as long as the result, or the lineage of a result built from it, is
// referenced, and runs the task again when the result is needed and gone.
//
// An argument that a lineage names is kept in the directory after its last
// reference goes (its bytes are freed; it is "evicted"), so that it can be
// rebuilt in turn: reconstruction is recursive. Objects made by Put and by
// actors have no lineage; losing their only copy is an error that says so.

// lineage is how to make an object again.
type lineage struct {
	spec     *pb.TaskSpec
	job      *job
	args     []*object // argument objects, each holding a lineage reference
	rebuilds int32
}

// keepLineage records how t made o. Only results stored on nodes need it:
// inline values live in the head and are never lost with a node.
func (h *Head) keepLineage(o *object, t *task, args []*object) {
	if t.kind != pb.RunKind_RUN_KIND_TASK {
		return
	}
	l := &lineage{spec: t.spec, job: t.job}
	for _, a := range args {
		if a != nil {
			a.lineageRefs++
			l.args = append(l.args, a)
		}
	}
	o.lineage = l
}

// keepLeasedLineage records spec, the leased task that made o (its
// arguments all inline, so the lineage holds no argument objects), as o's
// lineage: a task sent straight to a leased executor is rebuilt like one
// the head ran.
func (h *Head) keepLeasedLineage(s *session, o *object, spec *pb.TaskSpec) {
	if spec == nil || o.lineage != nil || s.job == nil {
		return
	}
	for _, a := range spec.Args {
		if a.Object != nil {
			return // not a leased task's: those hold only inline arguments
		}
	}
	spec.LeaseId = nil // a rebuild runs through the head, not on the lease
	o.lineage = &lineage{spec: spec, job: s.job}
}

// dropLineage releases the lineage references o holds.
func (h *Head) dropLineage(o *object) {
	l := o.lineage
	if l == nil {
		return
	}
	o.lineage = nil
	for _, a := range l.args {
		a.lineageRefs--
		h.maybeFree(a)
	}
}

// rebuild runs the task that made o again, if o has lineage and retries
// remain, and reports whether it did (or o is already being rebuilt).
// Arguments that are gone too are rebuilt first.
func (h *Head) rebuild(o *object) bool {
	if o.state == objectPending {
		return true
	}
	l := o.lineage
	if l == nil || l.job.ended {
		return false
	}
	// A rebuild is a retry: MaxRetries bounds both (0: never run again).
	if max := l.spec.MaxRetries; max >= 0 && l.rebuilds >= max {
		return false
	}
	l.rebuilds++
	h.counts.rebuilt++
	t := &task{id: o.id, spec: l.spec, job: l.job, owner: o.owner, retriesLeft: l.spec.MaxRetries,
		args: make([]*object, len(l.spec.Args)), attempt: l.rebuilds << 16, kind: pb.RunKind_RUN_KIND_TASK}
	t.req = resourcesFromPB(l.spec.Resources)
	if len(l.spec.AffinityNode) > 0 { // (checked when the task was first submitted)
		t.affinity, _ = ids.FromBytes("affinity node id", l.spec.AffinityNode)
	}
	t.class = h.classOf(t)
	t.runTime = h.duration(l.spec.Function)
	o.state, o.err, o.producer = objectPending, nil, t
	h.setTaskState(t, taskIdle) // (counted from now on)
	h.log.Info("rebuilding a lost object from lineage", "object", o.id.Short(), "function", l.spec.Function, "rebuild", l.rebuilds)
	// Readers of the lost copies stop fetching them (a silent node holds a
	// fetch until its timeouts) and wait for the new ones.
	h.notifyOwner(o)
	// Take the task's references on its arguments, as submission does.
	next := 0
	for i, a := range l.spec.Args {
		if a.Object == nil {
			continue
		}
		if next < len(l.args) {
			arg := l.args[next]
			next++
			arg.refs++
			t.args[i] = arg
		}
	}
	h.requeue(t)
	return true
}

// requeue queues a task (again) once its object arguments are usable:
// arguments that are pending are waited for; arguments that were lost or
// evicted are rebuilt first; an argument that cannot be had fails the task.
func (h *Head) requeue(t *task) {
	t.depsLeft = 0
	for _, a := range t.args {
		if a == nil {
			continue
		}
		if a.state == objectEvicted || a.state == objectReady && a.value == nil && len(a.locs) == 0 {
			if !h.rebuild(a) {
				h.completeTask(t, nil, h.lostError(a, "it is needed again but cannot be rebuilt"))
				return
			}
		}
		switch a.state {
		case objectPending:
			t.depsLeft++
			a.addWaiting(t)
		case objectFailed:
			h.completeTask(t, nil, a.err)
			return
		}
	}
	if t.depsLeft > 0 {
		h.setTaskState(t, taskWaitingArgs)
		return
	}
	h.enqueue(t)
}

// lostError explains why an object cannot be had.
func (h *Head) lostError(o *object, why string) *pb.ErrorInfo {
	var how string
	switch {
	case o.lineage == nil && o.producer == nil:
		how = "it was made by Put or by an actor, so there is no task to run again"
	case o.lineage != nil && o.lineage.job.ended:
		how = "the job that made it has ended"
	case o.lineage != nil:
		how = fmt.Sprintf("it was rebuilt %d times already (MaxRetries %d)", o.lineage.rebuilds, o.lineage.spec.MaxRetries)
	}
	return &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_OBJECT_LOST, Message: fmt.Sprintf("object %s was lost (%s): %s", o.id.Short(), why, how)}
}

// objectGone handles an object whose last copy disappeared with a node:
// rebuilt at once if anything references it, kept as evicted if only a
// lineage does, failed if it cannot be rebuilt.
func (h *Head) objectGone(o *object, n *nodeState, reason string) {
	switch {
	case o.refs > 0 && h.rebuild(o):
	case o.refs == 0 && o.lineage != nil && o.lineageRefs > 0:
		o.state = objectEvicted
	default:
		info := h.lostError(o, fmt.Sprintf("its only copy was on node %s, which died: %s", n.id.Abbrev(), reason))
		info.NodeId = n.id.Bytes()
		h.objectFailed(o, info)
	}
}
