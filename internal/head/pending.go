package head

import (
	"fmt"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// DefaultMaxPendingTasks is the default of Config.MaxPendingTasks: twice a
// client's default bound (client.DefaultMaxPendingTasks), so that a client
// that keeps to its bound never meets it. A waiting task costs the head
// about 1.5 KB (its spec, its result object, its place in the queues), so
// a session at the cap holds about 300 MB of the head.
const DefaultMaxPendingTasks = 200_000

// Submission backpressure, the head's side. Every task, actor creation and
// actor call a session sends counts in session.pending from when the head
// declares it until it ends (completeTask); work sent while the session is
// at Config.MaxPendingTasks is refused: its result fails with
// ERROR_KIND_TOO_MANY_PENDING and the head keeps nothing of it. Clients
// wait below the cap (internal/client/pending.go), so only a client that
// ignores its bound sees a refusal. A session that released a result
// before its work ended hears of the end in released_done, which it needs
// to count its own bound right.

// refuseWork fails work a session sent beyond the cap: o is the result
// object it declared for it already (the result of a direct call or task
// it exported before sending it through the head), or nil.
func (h *Head) refuseWork(s *session, id ids.ID, o *object) {
	h.counts.refused++
	info := &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_TOO_MANY_PENDING, TaskId: id.Bytes(),
		Message: fmt.Sprintf("the session already has %d tasks and calls that have not finished, the head's cap (head MaxPendingTasks, shoal head --max-pending-tasks); "+
			"a client that keeps to its own bound (shoal.WithMaxPendingTasks) waits instead", s.pending)}
	if o != nil {
		h.objectFailed(o, info)
		return
	}
	if s.dead {
		return
	}
	st := &pb.ObjectStatus{Id: id.Bytes(), State: pb.ObjectState_OBJECT_STATE_FAILED, Error: info}
	s.out.Add(64+len(info.Message), func(m *pb.HeadMessage) { m.Objects = append(m.Objects, st) })
}

// workEnded is told that t, counted in its owner's pending, ended. An owner
// that released t's result before (it hears no status of it) is told in
// released_done.
func (h *Head) workEnded(t *task) {
	s := t.owner
	s.pending--
	if s.dead {
		return
	}
	if o := h.objects[t.id]; o != nil && o.owner == s && o.ownerRef {
		return // its status tells the owner
	}
	id := t.id.Bytes()
	s.out.Add(24, func(m *pb.HeadMessage) { m.ReleasedDone = append(m.ReleasedDone, id) })
}
