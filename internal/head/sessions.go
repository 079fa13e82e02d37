package head

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// session is one driver's or executor's stream.
type session struct {
	id   ids.ID
	role pb.Role
	job  *job
	node *nodeState // the executor's node
	out  *rpc.Outbox[pb.HeadMessage]
	// running holds the tasks assigned to this executor and not finished.
	running map[ids.ID]*task
	dead    bool
	kill    context.CancelFunc
	pid     int32
	// ended: the session's stream ended by itself (rather than the head
	// closing it).
	ended bool
	// actors holds the actors living in this executor.
	actors map[ids.ID]*actor
	// borrowed holds the objects this session borrowed.
	borrowed map[ids.ID]*borrowing
	// directAddr is an executor's Executor service for direct actor
	// calls; empty when it serves none. directLocal is the same for
	// callers on its machine.
	directAddr, directLocal string
	// leases holds the worker leases this session was granted; hosted
	// those granted on this executor.
	leases map[ids.ID]*lease
	hosted map[ids.ID]*lease
	// pending counts the tasks and calls this session sent that have not
	// finished (pending.go).
	pending int
}

type job struct {
	id      ids.ID
	info    *pb.JobInfo
	drivers int
	ended   bool
	tally   stateCounts // its tasks in flight (taskTally), its derived jobs' with them
	// root is the job whose tasks asked for other environment variables
	// (nil for a job drivers started); derived holds such jobs of a root,
	// by their full environment. They share the root's code and end with
	// it; their executors are separate processes with that environment.
	root    *job
	derived map[string]*job
	// An actor runs in an executor of its own, whose job is derived from
	// the one the actor was made in (actorJob): actor is that actor, and
	// tasksIn the job whose executors run the tasks such an executor
	// submits. key is the job's key in its root's derived.
	actor   *actor
	tasksIn *job
	key     string
}

// work is the job whose executors run the tasks that sessions of j
// submit: j itself, except for an actor's own executor.
func (j *job) work() *job {
	if j.tasksIn != nil {
		return j.tasksIn
	}
	return j
}

// credentialJob is the job whose credential j's processes hold
// (internal/credential): its root, which a derived job is part of.
func (j *job) credentialJob() *job {
	if j.root != nil {
		return j.root
	}
	return j
}

func (h *Head) newOutbox() *rpc.Outbox[pb.HeadMessage] {
	return rpc.NewOutbox(h.cfg.MaxMessageBytes/2, func() *pb.HeadMessage { return &pb.HeadMessage{} })
}

func (h *Head) serveSession(stream rpc.ServerStream[pb.ClientMessage, pb.HeadMessage]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.Hello == nil {
		return errs.ToStatus(fmt.Errorf("%w: the first message of a session must carry a hello", errs.ErrMalformed))
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	s := &session{out: h.newOutbox(), running: make(map[ids.ID]*task), actors: make(map[ids.ID]*actor), borrowed: make(map[ids.ID]*borrowing), kill: cancel,
		leases: make(map[ids.ID]*lease), hosted: make(map[ids.ID]*lease)}

	h.mu.Lock()
	welcome, err := h.openSession(s, first.Hello, credential.FromContext(stream.Context()))
	h.mu.Unlock()
	if err != nil {
		return errs.ToStatus(err)
	}
	s.out.Add(64, func(m *pb.HeadMessage) { m.Welcome = welcome })
	_, result := pump(h, ctx, cancel, stream, s.out, first, func(m *pb.ClientMessage) error {
		defer h.timings.message.Since(time.Now()) // (under the head's lock, taken by pump)
		return h.handleClient(s, m)
	})
	h.mu.Lock()
	s.ended = true // by itself: an executor's node may say why (exits.go)
	h.closeSession(s, "its connection closed")
	h.mu.Unlock()
	return errs.ToStatus(result)
}

// status reports whether err is one the head made (and so should report to
// the client) rather than the stream's own end.
func status(err error) bool {
	return errors.Is(err, errs.ErrMalformed) || errors.Is(err, errs.ErrUnauthenticated)
}

// openSession opens session s as hello asks, for a caller speaking for p.
func (h *Head) openSession(s *session, hello *pb.Hello, p credential.Principal) (*pb.Welcome, error) {
	if h.closed {
		return nil, fmt.Errorf("%w: the head is shutting down", errs.ErrClosed)
	}
	jobID, err := ids.FromBytes("hello job id", hello.JobId)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.ErrMalformed, err)
	}
	if err := h.checkSession(p, jobID, hello); err != nil {
		return nil, err
	}
	s.id = ids.Random()
	s.role = hello.Role
	s.pid = hello.Pid
	welcome := &pb.Welcome{SessionId: s.id.Bytes(), InlineLimit: h.cfg.InlineLimit, MaxMessageBytes: int64(h.cfg.MaxMessageBytes),
		MaxPendingTasks: int64(h.cfg.MaxPendingTasks)}
	switch hello.Role {
	case pb.Role_ROLE_DRIVER:
		j := h.jobs[jobID]
		if j == nil {
			if hello.Job == nil {
				return nil, fmt.Errorf("%w: a driver's hello must describe its job", errs.ErrMalformed)
			}
			j = &job{id: jobID, info: hello.Job}
			// (only the head makes derived jobs: a job a driver starts
			// is a root, whose executors get its own credential)
			j.info.JobId, j.info.RootJobId = jobID.Bytes(), nil
			h.jobs[jobID] = j
			if h.state != nil {
				if err := h.state.putJob(j.info); err != nil {
					h.log.Error("storing a job", "job", jobID.Abbrev(), "error", err)
				}
			}
			h.log.Info("job started", "job", jobID.Abbrev(), "name", hello.Job.Name, "binary", hello.Job.BinaryPath)
		}
		if j.ended {
			return nil, fmt.Errorf("job %s has ended", jobID.Abbrev())
		}
		j.drivers++
		s.job = j
	case pb.Role_ROLE_EXECUTOR:
		nodeID, err := ids.FromBytes("hello node id", hello.NodeId)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errs.ErrMalformed, err)
		}
		j, n := h.jobs[jobID], h.nodes[nodeID]
		switch {
		case j == nil || j.ended:
			return nil, fmt.Errorf("executor for job %s: no such job is running", jobID.Abbrev())
		case n == nil || !n.alive:
			return nil, fmt.Errorf("%w: executor's node %s is not a live member of the cluster", errs.ErrDeclaredDead, nodeID.Abbrev())
		case n.execs[jobID] != nil:
			return nil, fmt.Errorf("node %s already has an executor for job %s", nodeID.Abbrev(), jobID.Abbrev())
		}
		s.job, s.node, s.directAddr, s.directLocal = j, n, hello.DirectAddr, hello.DirectLocal
		welcome.NodeCpu = n.total.CPU
		if hello.ExecutorError != "" {
			h.executorFailed(n, j, hello.ExecutorError, false)
			return nil, fmt.Errorf("executor refused: %s", hello.ExecutorError)
		}
		if string(hello.Registry) != string(j.info.Registry) {
			msg := fmt.Sprintf("the executor's function registry (fingerprint %x) differs from the driver's (%x): the node started a binary that is not the driver's code", short(hello.Registry), short(j.info.Registry))
			h.executorFailed(n, j, msg, false)
			return nil, errors.New(msg)
		}
		n.execs[jobID] = s
		n.joined[hello.Pid] = true
		h.log.Debug("executor joined", "node", n.id.Abbrev(), "job", jobID.Abbrev(), "pid", hello.Pid)
		if st := n.starting[jobID]; st != nil {
			delete(n.starting, jobID)
			for _, t := range st.tasks {
				if t.state == taskAssigned && t.node == n {
					h.sendTask(s, t)
				}
			}
		}
	default:
		return nil, fmt.Errorf("%w: hello has no role", errs.ErrMalformed)
	}
	h.sessions[s] = struct{}{}
	return welcome, nil
}

func short(b []byte) []byte {
	if len(b) > 6 {
		return b[:6]
	}
	return b
}

// closeSession releases everything a session held. It is idempotent.
func (h *Head) closeSession(s *session, reason string) {
	if s.dead {
		return
	}
	s.dead = true
	s.kill()
	delete(h.sessions, s)
	h.endSessionLeases(s)
	if s.role == pb.Role_ROLE_EXECUTOR && s.node != nil {
		if s.node.execs[s.job.id] == s {
			delete(s.node.execs, s.job.id)
		}
		if s.job.ended {
			// The node stops executors of ended jobs and reports no exit.
			delete(s.node.joined, s.pid)
		}
		if !s.ended || !h.awaitExit(s) {
			h.executorGone(s, reason)
		}
	}
	// Release what the session owned. Walking the directory costs one pass
	// per session end, which saves a per-object index on the hot path.
	var owned []*object
	for _, o := range h.objects {
		if o.owner == s {
			owned = append(owned, o)
		}
	}
	for _, o := range owned {
		o.owner = nil
		if o.state == objectPending && o.producer == nil {
			// A declared result of a direct actor call: only its owner
			// could have said what it is.
			h.objectFailed(o, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_OBJECT_LOST, Message: fmt.Sprintf(
				"object %s was the result of a direct actor call whose caller ended (%s) before the result reached it", o.id.Short(), reason)})
		}
		if o.ownerRef {
			o.ownerRef = false
			h.decref(o)
		}
	}
	for _, b := range s.borrowed {
		h.unborrow(s, b.o)
	}
	for id, pn := range h.pins {
		if pn.owner == s {
			h.removePin(id, "its owner's session ended")
		}
	}
	for id, a := range h.actors {
		if a.owner == s {
			h.actorDied(a, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED,
				Message: fmt.Sprintf("actor %s died: the driver or task that created it ended", a.label())})
			delete(h.actors, id)
		}
	}
	if s.role == pb.Role_ROLE_DRIVER && s.job != nil {
		s.job.drivers--
		if s.job.drivers == 0 {
			h.endJob(s.job)
		}
	}
	h.schedule()
}

// handleClient applies one batch from a session. Order matters within a
// batch: objects put first, then tasks that may use them, and releases last.
func (h *Head) handleClient(s *session, m *pb.ClientMessage) error {
	if s.dead {
		return nil
	}
	// Declare every object the batch creates before resolving any
	// reference, so that items may refer to each other whatever their kind
	// (a task's argument can be an actor call's future, a Put can hold a
	// task's future): the batch groups items by kind, not in call order.
	puts := make([]*object, len(m.Put))
	for i, p := range m.Put {
		o, err := h.declarePut(s, p)
		if err != nil {
			return err
		}
		puts[i] = o
	}
	tasks := make([]*task, 0, len(m.Submit))
	for _, spec := range m.Submit {
		t, err := h.declareTask(s, spec, nil)
		if err != nil {
			return err
		}
		tasks = append(tasks, t)
	}
	actors := make([]*actor, 0, len(m.CreateActors))
	for _, spec := range m.CreateActors {
		a, err := h.declareActor(s, spec)
		if err != nil {
			return err
		}
		actors = append(actors, a)
	}
	calls := make([]*task, 0, len(m.ActorCalls))
	for _, c := range m.ActorCalls {
		t, err := h.declareCall(s, c)
		if err != nil {
			return err
		}
		calls = append(calls, t)
	}
	for i, o := range puts {
		if o != nil {
			h.holdNested(o, m.Put[i].Nested)
		}
	}
	for _, t := range tasks {
		if t != nil {
			h.resolveTask(t)
		}
	}
	for _, a := range actors {
		if a != nil {
			h.resolveActor(a)
		}
	}
	// Kills before calls: a call sent after a kill (so in its batch or a
	// later one) fails, and a call sent before it in the batch was pending
	// when the kill came; an actor created in the batch can be killed.
	for _, k := range m.KillActors {
		id, err := ids.FromBytes("killed actor id", k)
		if err != nil {
			return fmt.Errorf("%w: %v", errs.ErrMalformed, err)
		}
		h.killActor(s, id)
	}
	for _, t := range calls {
		if t != nil {
			h.resolveCall(t)
		}
	}
	for _, r := range m.Results {
		h.result(s, r)
	}
	for _, b := range m.Blocks {
		if b.LeaseId != nil {
			h.leaseBlocked(s, b)
			continue
		}
		h.block(s, b)
	}
	for _, b := range m.LeaseReturns {
		h.returnLease(s, b)
	}
	if len(m.LeaseRequests) > 0 {
		grants := make([]*pb.LeaseGrant, 0, len(m.LeaseRequests))
		for _, r := range m.LeaseRequests {
			grants = append(grants, h.grantLease(s, r))
		}
		s.out.Add(64*len(grants), func(m *pb.HeadMessage) { m.Leases = append(m.Leases, grants...) })
	}
	for _, c := range m.Cancel {
		if id, err := ids.FromBytes("cancelled task id", c); err == nil {
			h.cancelTask(s, id)
		}
	}
	for _, b := range m.Borrow {
		id, err := ids.FromBytes("borrowed object id", b)
		if err != nil {
			return fmt.Errorf("%w: %v", errs.ErrMalformed, err)
		}
		h.borrow(s, id)
	}
	for _, p := range m.Pins {
		h.addPin(s, p)
	}
	for _, b := range m.Unpins {
		if id, err := ids.FromBytes("pin lease id", b); err == nil {
			h.removePin(id, "unpinned")
		}
	}
	h.recordSpans(s, m)
	h.recordQueryStages(s, m)
	for _, r := range m.Release {
		id, err := ids.FromBytes("released object id", r)
		if err != nil {
			return fmt.Errorf("%w: %v", errs.ErrMalformed, err)
		}
		h.release(s, id)
	}
	h.schedule()
	return nil
}

func (h *Head) endJob(j *job) {
	if j.ended {
		return
	}
	j.ended = true
	if j.root != nil && j.root.derived[j.key] == j {
		delete(j.root.derived, j.key)
	}
	if j.actor != nil {
		// An actor's executor: its constructor is the actor's business
		// (actorDied), and no other task runs in it.
		h.stopJob(j)
		return
	}
	h.log.Info("job ended", "job", j.id.Abbrev())
	for _, d := range j.derived {
		h.endJob(d)
	}
	var tasks []*task
	for _, o := range h.objects {
		if t := o.producer; t != nil && t.job == j && t.state != taskDone {
			tasks = append(tasks, t)
		}
	}
	for _, t := range tasks {
		if t.state == taskAssigned && t.exec != nil {
			t.cancelled = true
			h.sendCancel(t)
			continue
		}
		h.unassign(t)
		h.dequeue(t)
		h.completeTask(t, nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_CANCELLED, Message: "its job ended"})
	}
	h.stopJob(j)
	if h.state != nil {
		if err := h.state.deleteJob(j.id); err != nil {
			h.log.Error("forgetting a job", "job", j.id.Abbrev(), "error", err)
		}
	}
}

// stopJob tells the nodes to stop an ended job's executors and forgets it.
func (h *Head) stopJob(j *job) {
	for _, n := range h.nodes {
		delete(n.starting, j.id)
		if n.alive {
			n.out.Add(32, func(m *pb.HeadToNode) { m.StopJobs = append(m.StopJobs, j.id.Bytes()) })
		}
	}
	delete(h.jobs, j.id)
}
