package head

import (
	"fmt"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

type actorState int

const (
	actorCreating actorState = iota // its constructor task is queued or running
	actorAlive
	actorDead
)

// actor is the head's record of one actor. Its constructor runs as a task
// that holds the actor's resources; once it succeeds the actor keeps them
// on its node until it dies. Method calls wait in calls, in arrival order,
// and are handed to the actor's executor one after the other as their
// arguments become ready, so calls from one caller run in the order made.
type actor struct {
	id      ids.ID
	spec    *pb.ActorSpec
	name    string
	owner   *session
	state   actorState
	create  *task
	node    *nodeState
	exec    *session
	holding bool // its resources are committed on node
	calls   []*task
	death   *pb.ErrorInfo
	// restarts counts restarts after failures; nextSeq numbers calls in
	// arrival order, so retried calls go back in their place; args holds
	// the constructor's object arguments for restarts.
	restarts int32
	nextSeq  int64
	args     []*object
	nested   []*object // objects named inside the constructor's values
}

func (a *actor) label() string {
	if a.name != "" {
		return fmt.Sprintf("%s %q (%s)", a.spec.Class, a.name, a.id.Short())
	}
	return fmt.Sprintf("%s (%s)", a.spec.Class, a.id.Short())
}

// declareActor records an actor and declares its constructor task (see
// declareTask); resolveActor then queues it.
func (h *Head) declareActor(s *session, spec *pb.ActorSpec) (*actor, error) {
	id, err := ids.FromBytes("actor id", spec.Id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.ErrMalformed, err)
	}
	if h.actors[id] != nil || h.objects[id] != nil {
		return nil, nil
	}
	a := &actor{id: id, spec: spec, name: spec.Name, owner: s}
	// The constructor is a task whose result object is the actor's id.
	ts := &pb.TaskSpec{Id: spec.Id, Function: spec.Class, Args: spec.Args, Resources: spec.Resources,
		Strategy: spec.Strategy, AffinityNode: spec.AffinityNode, AffinitySoft: spec.AffinitySoft, Env: spec.Env}
	t, err := h.declareTask(s, ts, func(t *task) {
		t.kind, t.actor = pb.RunKind_RUN_KIND_ACTOR_CREATE, a
		t.job = h.actorJob(t.job, a)
	})
	if t == nil {
		return nil, err
	}
	h.actors[id] = a
	a.create = t
	return a, nil
}

func (h *Head) resolveActor(a *actor) {
	h.resolveTask(a.create)
	if a.spec.MaxRestarts != 0 {
		// A restart runs the constructor again: keep its arguments.
		for _, o := range a.create.args {
			if o != nil {
				o.refs++
				a.args = append(a.args, o)
			}
		}
		for _, o := range a.create.held {
			o.refs++
			a.nested = append(a.nested, o)
		}
	}
	if a.create.state == taskDone && a.state != actorDead {
		// The constructor failed at once (bad arguments).
		h.actorDied(a, h.objects[a.id].err)
		return
	}
	if a.name != "" {
		if other := h.actorNames[a.name]; other != nil && other.state != actorDead {
			h.actorDied(a, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_BAD_ARGUMENT,
				Message: fmt.Sprintf("an actor named %q already exists (%s); names are unique in a cluster", a.name, other.label())})
			return
		}
		h.actorNames[a.name] = a
	}
}

// declareCall declares a method call's task; resolveCall queues it on its
// actor. Calls keep their arrival order even when an earlier call still
// waits for its arguments.
func (h *Head) declareCall(s *session, c *pb.ActorCall) (*task, error) {
	actorID, err := ids.FromBytes("actor id of a call", c.ActorId)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.ErrMalformed, err)
	}
	spec := &pb.TaskSpec{Id: c.Id, Function: c.Method, Args: c.Args}
	t, err := h.declareTask(s, spec, func(t *task) { t.kind = pb.RunKind_RUN_KIND_ACTOR_CALL })
	if t != nil {
		t.actor, t.actorID = h.actors[actorID], actorID
	}
	return t, err
}

func (h *Head) resolveCall(t *task) {
	a := t.actor
	switch {
	case a == nil:
		h.completeTask(t, nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED,
			Message: fmt.Sprintf("no actor %s exists in this cluster (it was never created here, or its owner ended)", t.actorID.Short())})
		return
	case a.state == actorDead:
		h.completeTask(t, nil, a.death)
		return
	}
	// A pending call keeps its actor's handle object alive, so an actor
	// whose handles are all released still serves the calls made.
	if ao := h.objects[a.id]; ao != nil {
		ao.refs++
		t.held = append(t.held, ao)
	}
	t.seq = a.nextSeq
	a.nextSeq++
	t.retriesLeft = a.spec.MaxTaskRetries
	a.calls = append(a.calls, t)
	h.resolveTask(t)
	h.pumpActor(a)
}

// insertCall puts a call back among the actor's waiting calls, in its
// arrival place (a call retried after the actor restarted runs before the
// calls made after it).
func (a *actor) insertCall(t *task) {
	i := len(a.calls)
	for i > 0 && a.calls[i-1].seq > t.seq {
		i--
	}
	a.calls = append(a.calls, nil)
	copy(a.calls[i+1:], a.calls[i:])
	a.calls[i] = t
}

// canRestart reports whether a failed actor may be started again.
func (a *actor) canRestart() bool {
	if a.state == actorDead || a.create == nil || a.create.job.ended {
		return false
	}
	max := a.spec.MaxRestarts
	return max < 0 || a.restarts < max
}

// actorLost handles an actor whose executor or node went away: it is
// restarted while restarts remain, and dies otherwise.
func (h *Head) actorLost(a *actor, info *pb.ErrorInfo) {
	if a.canRestart() {
		h.restartActor(a, info)
		return
	}
	if a.spec.MaxRestarts != 0 {
		info.Message += fmt.Sprintf(" (after %d restarts)", a.restarts)
	}
	h.actorDied(a, info)
}

// releaseResources gives back the resources the actor holds on its node,
// if it holds them.
func (a *actor) releaseResources() {
	if !a.holding {
		return
	}
	a.holding = false
	if a.node.alive {
		a.node.committed = a.node.committed.Sub(a.create.req)
	}
}

// restartActor runs the actor's constructor again, on whatever node fits;
// its waiting calls (and retried ones) go to the new instance.
func (h *Head) restartActor(a *actor, info *pb.ErrorInfo) {
	a.restarts++
	h.counts.actorRestarts++
	h.log.Warn("restarting actor", "actor", a.label(), "restart", a.restarts, "reason", info.Message)
	a.releaseResources()
	if a.exec != nil {
		delete(a.exec.actors, a.id)
	}
	a.exec, a.node, a.state = nil, nil, actorCreating
	old := a.create
	if old.state != taskDone {
		// Retired: the new attempt takes its place, with references of its
		// own; the old one's go.
		h.unassign(old)
		h.dequeue(old)
		h.setTaskState(old, taskDone)
		for _, o := range old.args {
			if o != nil {
				h.decref(o)
			}
		}
		for _, o := range old.held {
			h.decref(o)
		}
		old.args, old.held = nil, nil
	}
	t := &task{id: a.id, spec: old.spec, job: old.job, owner: a.owner, args: make([]*object, len(old.spec.Args)),
		kind: pb.RunKind_RUN_KIND_ACTOR_CREATE, actor: a, attempt: a.restarts << 16, req: old.req, class: old.class, runTime: old.runTime}
	next := 0
	for i, arg := range old.spec.Args {
		if arg.Object != nil && next < len(a.args) {
			o := a.args[next]
			next++
			o.refs++
			t.args[i] = o
		}
	}
	for _, o := range a.nested {
		o.refs++
		t.held = append(t.held, o)
	}
	a.create = t
	if o := h.objects[a.id]; o != nil {
		o.producer = t
	}
	h.setTaskState(t, taskIdle) // (counted from now on)
	h.requeue(t)
}

func mustID(b []byte) ids.ID {
	id, _ := ids.FromBytes("id", b)
	return id
}

// pumpActor hands the actor's ready calls to its executor, in order,
// stopping at the first call still waiting for its arguments.
func (h *Head) pumpActor(a *actor) {
	if a.state != actorAlive {
		return
	}
	for len(a.calls) > 0 {
		t := a.calls[0]
		if t.state == taskDone {
			a.calls[0] = nil
			a.calls = a.calls[1:]
			continue
		}
		if t.state != taskReady {
			return
		}
		a.calls[0] = nil
		a.calls = a.calls[1:]
		h.setTaskState(t, taskAssigned)
		t.node = a.node
		h.sendTask(a.exec, t)
	}
}

// actorStarted moves a constructor's resources from the task to the actor.
func (h *Head) actorStarted(t *task) {
	a, n, s := t.actor, t.node, t.exec
	n.running--
	switch {
	case t.backlogged:
		// (Constructors are not backlogged; if one was, the actor now
		// holds what it never took.)
		n.backlog--
		n.committed = n.committed.Add(t.req)
	case t.blocked:
		n.committed = n.committed.Add(scheduler.Resources{CPU: t.req.CPU}) // (given back while it waited)
	}
	delete(s.running, t.id)
	t.node, t.exec = nil, nil
	h.setTaskState(t, taskIdle)
	a.node, a.exec, a.holding = n, s, true
	a.state = actorAlive
	s.actors[a.id] = a
}

// killInstance tells executor s to stop a's instance there.
func killInstance(s *session, a *actor) {
	if !s.dead {
		id := a.spec.Id
		s.out.Add(24, func(m *pb.HeadMessage) { m.KillActors = append(m.KillActors, id) })
	}
}

// actorDied ends an actor: queued calls fail with info, calls running in
// its executor are cancelled there (their results report the death), its
// resources go back to its node and its name is free again. Idempotent.
func (h *Head) actorDied(a *actor, info *pb.ErrorInfo) {
	if a.state == actorDead {
		return
	}
	a.state = actorDead
	a.death = info
	if a.name != "" && h.actorNames[a.name] == a {
		delete(h.actorNames, a.name)
	}
	a.releaseResources()
	if a.exec != nil {
		delete(a.exec.actors, a.id)
		killInstance(a.exec, a)
	}
	if t := a.create; t != nil && t.state != taskDone {
		if t.state == taskAssigned && t.exec != nil && !t.exec.dead {
			t.cancelled = true
			h.sendCancel(t)
		} else {
			h.unassign(t)
			h.dequeue(t)
			h.completeTask(t, nil, info)
		}
	}
	calls := a.calls
	a.calls = nil
	for _, t := range calls {
		if t.state != taskDone && t.state != taskAssigned {
			h.completeTask(t, nil, info)
		}
	}
	for _, o := range a.args {
		h.decref(o)
	}
	for _, o := range a.nested {
		h.decref(o)
	}
	a.args, a.nested = nil, nil
	if t := a.create; t != nil && t.job.actor == a {
		h.endJob(t.job) // its executor goes
	}
	h.log.Info("actor died", "actor", a.label(), "reason", info.Message)
}

func (h *Head) killActor(s *session, id ids.ID) {
	a := h.actors[id]
	if a == nil {
		return
	}
	h.actorDied(a, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED, Message: fmt.Sprintf("actor %s was killed", a.label())})
}

// actorDeath is the error of a call whose actor died while it ran.
func (h *Head) callFailed(t *task, info *pb.ErrorInfo) *pb.ErrorInfo {
	a := t.actor
	if info.Kind == pb.ErrorKind_ERROR_KIND_APPLICATION || info.Kind == pb.ErrorKind_ERROR_KIND_PANIC {
		return info
	}
	if a.state == actorDead {
		return &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED, Message: a.death.Message, NodeId: info.NodeId}
	}
	if info.Kind == pb.ErrorKind_ERROR_KIND_EXECUTOR || info.Kind == pb.ErrorKind_ERROR_KIND_NODE_DIED {
		return &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED, NodeId: info.NodeId, Message: fmt.Sprintf(
			"actor %s lost its executor while the call ran (%s); the actor restarts, but the call is not retried (MaxTaskRetries %d)",
			a.label(), info.Message, a.spec.MaxTaskRetries)}
	}
	return info
}

// actorRoute tells callers how to reach the actor whose object is o
// directly, when it may be: it is alive in an executor that serves direct
// calls, and it is never restarted (a restart moves it, and only the head
// can keep a restarted actor's calls in order and retry them). nil when
// o is no actor's or the actor is reached through the head.
func (h *Head) actorRoute(o *object) *pb.ActorRoute {
	a := h.actors[o.id]
	if a == nil || a.state != actorAlive || a.spec.MaxRestarts != 0 || a.exec == nil || a.exec.dead || a.exec.directAddr == "" || a.node == nil {
		return nil
	}
	return &pb.ActorRoute{Addr: a.exec.directAddr, LocalAddr: a.exec.directLocal, Label: a.label(), NodeId: a.node.id.Bytes(), DataAddr: a.node.dataAddr, Pid: a.exec.pid,
		Scope: a.exec.job.credentialJob().id.Bytes()}
}

// GetActor finds a live named actor.
func (h *Head) GetActor(req *pb.GetActorRequest) *pb.GetActorReply {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.actorNames[req.Name]
	if a == nil {
		return &pb.GetActorReply{}
	}
	return &pb.GetActorReply{Found: true, ActorId: a.spec.Id, Class: a.spec.Class, Alive: a.state == actorAlive}
}
