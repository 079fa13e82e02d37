package head

import (
	"fmt"
	"slices"
	"time"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

type taskState int

const (
	taskIdle        taskState = iota // between queues, within one handler
	taskWaitingArgs                  // some object arguments are not ready
	taskReady                        // queued for placement
	taskAssigned                     // placed on a node, running or about to
	taskDone
)

var taskStateNames = map[taskState]string{
	taskIdle: "idle", taskWaitingArgs: "waiting_for_args", taskReady: "waiting_for_resources",
	taskAssigned: "running", taskDone: "done",
}

// task is a submitted task until it finishes or fails for good.
type task struct {
	id          ids.ID
	spec        *pb.TaskSpec
	job         *job
	owner       *session
	req         scheduler.Resources
	class       *class
	state       taskState
	queued      bool      // present in its class queue (possibly stale)
	readyAt     time.Time // when it last became ready to run (delay scheduling)
	readySeq    uint64    // the order in which tasks became ready (Head.readySeq)
	depsLeft    int
	args        []*object // object arguments by position; nil for values
	node        *nodeState
	exec        *session
	attempt     int32
	retriesLeft int32 // -1: unlimited
	blocked     bool
	backlogged  bool
	tallied     bool // counted in the head's tally (declared, not done)
	pending     bool // counted in its owner's pending (pending.go)
	cancelled   bool
	affinity    ids.ID
	excluded    []ids.ID
	lastErr     *pb.ErrorInfo
	// tallyFn is its function's counts in the tally, while it counts there.
	tallyFn *stateCounts
	// runTime is the mean run time of the task's function.
	runTime *meanDuration
	// kind and actor mark an actor's constructor or a method call.
	kind    pb.RunKind
	actor   *actor
	actorID ids.ID // the actor a call was made to, even if it does not exist
	seq     int64  // a call's place in its actor's arrival order
	// held are objects the task references without waiting for them:
	// futures inside its arguments' values, and a call's actor.
	held []*object
}

func (t *task) exclude(node ids.ID) {
	if !slices.Contains(t.excluded, node) {
		t.excluded = append(t.excluded, node)
	}
}

// taskOutput is a successful result.
type taskOutput struct {
	value  []byte
	stored bool
	size   int64
	node   *nodeState
	nested [][]byte
}

func badArgument(format string, a ...any) *pb.ErrorInfo {
	return &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_BAD_ARGUMENT, Message: fmt.Sprintf(format, a...)}
}

func (h *Head) submit(s *session, spec *pb.TaskSpec) error { return h.submitTask(s, spec, nil) }

// submitTask registers a task and its result object and queues it; init
// marks it before it is queued.
func (h *Head) submitTask(s *session, spec *pb.TaskSpec, init func(*task)) error {
	t, err := h.declareTask(s, spec, init)
	if t != nil {
		h.resolveTask(t)
	}
	return err
}

// declareTask creates a task and its pending result object without looking
// at its arguments, so that every object a batch creates exists before any
// of the batch's references is resolved. It returns nil for a task already
// known (a resubmission is a no-op). A task whose id is a pending object
// s declared (the result of a direct call or task that s sends through the
// head after all) becomes that object's producer.
func (h *Head) declareTask(s *session, spec *pb.TaskSpec, init func(*task)) (*task, error) {
	id, err := ids.FromBytes("task id", spec.Id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.ErrMalformed, err)
	}
	o := h.objects[id]
	if o != nil && (o.state != objectPending || o.producer != nil || o.owner != s) {
		return nil, nil
	}
	if s.pending >= h.cfg.MaxPendingTasks {
		h.refuseWork(s, id, o)
		return nil, nil
	}
	j := s.job.work()
	if len(spec.Env) > 0 {
		if err := checkEnv(spec.Env); err != nil {
			return nil, err
		}
		j = h.envJob(j, spec.Env)
	}
	t := &task{id: id, spec: spec, job: j, owner: s, retriesLeft: spec.MaxRetries, args: make([]*object, len(spec.Args))}
	if o == nil {
		o = &object{id: id, state: objectPending, owner: s, ownerRef: true, refs: 1}
		h.objects[id] = o
	}
	o.producer = t
	h.counts.submitted++
	t.pending = true
	s.pending++
	if init != nil {
		init(t)
	}
	h.setTaskState(t, taskIdle) // (counted from now on)
	return t, nil
}

// resolveTask checks a declared task, takes its references on the objects
// it uses and queues it (or fails it, saying why).
func (h *Head) resolveTask(t *task) {
	spec, id := t.spec, t.id
	var err error

	if spec.Function == "" {
		h.completeTask(t, nil, badArgument("the task names no function"))
		return
	}
	t.req = resourcesFromPB(spec.Resources)
	if t.req.Negative() {
		h.completeTask(t, nil, badArgument("resource request %s has a negative amount", t.req))
		return
	}
	if len(spec.AffinityNode) > 0 {
		if t.affinity, err = ids.FromBytes("affinity node id", spec.AffinityNode); err != nil {
			h.completeTask(t, nil, badArgument("%v", err))
			return
		}
	}
	var failedArg *pb.ErrorInfo
	for _, a := range spec.Args {
		for _, b := range a.Nested {
			if nid, err := ids.FromBytes("nested object id", b); err == nil {
				if n := h.objects[nid]; n != nil && nid != id {
					n.refs++
					t.held = append(t.held, n)
				}
			}
		}
	}
	for i, a := range spec.Args {
		if (a.Value == nil) == (a.Object == nil) {
			failedArg = badArgument("argument %d must hold exactly one of a value or an object reference", i+1)
			break
		}
		if a.Object == nil {
			continue
		}
		aid, err := ids.FromBytes("argument object id", a.Object)
		if err != nil {
			failedArg = badArgument("argument %d: %v", i+1, err)
			break
		}
		ao := h.objects[aid]
		if aid == id {
			failedArg = badArgument("argument %d is the task's own result", i+1)
			break
		}
		if ao == nil {
			failedArg = badArgument("argument %d refers to object %s, which was released or never existed", i+1, aid.Short())
			break
		}
		ao.refs++
		t.args[i] = ao
		switch ao.state {
		case objectPending:
			t.depsLeft++
			ao.addWaiting(t)
		case objectFailed:
			failedArg = ao.err
		}
	}
	if failedArg != nil {
		h.completeTask(t, nil, failedArg)
		return
	}
	if t.kind != pb.RunKind_RUN_KIND_ACTOR_CALL {
		t.class = h.classOf(t)
	}
	t.runTime = h.duration(spec.Function)
	if t.depsLeft > 0 {
		h.setTaskState(t, taskWaitingArgs)
		return
	}
	h.enqueue(t)
	return
}

// completeTask ends a task for good, with an output or an error. It is
// idempotent.
func (h *Head) completeTask(t *task, out *taskOutput, failure *pb.ErrorInfo) {
	if t.state == taskDone {
		return
	}
	h.setTaskState(t, taskDone)
	if t.pending {
		t.pending = false
		h.workEnded(t)
	}
	if a := t.actor; a != nil && t.kind == pb.RunKind_RUN_KIND_ACTOR_CALL {
		// A call that ends while it waits in its actor's queue (its
		// argument failed, it was cancelled) must not hold up the calls
		// behind it.
		defer h.pumpActor(a)
	}
	args := t.args
	t.args = nil
	defer func() {
		for _, a := range args {
			if a != nil {
				h.decref(a)
			}
		}
	}()
	held := t.held
	t.held = nil
	defer func() {
		for _, o := range held {
			h.decref(o)
		}
	}()
	o := h.objects[t.id]
	if o == nil || o.producer != t {
		return
	}
	o.producer = nil
	if failure != nil {
		if len(failure.TaskId) == 0 {
			failure.TaskId = t.id.Bytes()
			failure.Function = t.spec.Function
		}
		h.counts.failed++
		h.recordFailure(t, failure)
		h.objectFailed(o, failure)
		return
	}
	h.counts.finished++
	h.holdNested(o, out.nested)
	if out.stored {
		h.resizeObject(o, out.size)
		h.addLocation(o, out.node)
		h.keepLineage(o, t, args)
	} else {
		o.value = out.value
		h.resizeObject(o, int64(len(out.value)))
	}
	h.objectReady(o)
}

// taskFailed retries t if the failure is transient (or an application error
// the caller asked to retry) and retries remain; otherwise it fails t.
func (h *Head) taskFailed(t *task, info *pb.ErrorInfo, transient bool) {
	if a := t.actor; a != nil {
		// A constructor whose executor went away restarts the actor (while
		// MaxRestarts allows); a call that was running then is retried on
		// the restarted actor (while MaxTaskRetries allows). Application
		// errors are the caller's to see.
		switch {
		case t.kind == pb.RunKind_RUN_KIND_ACTOR_CREATE && transient && !t.cancelled && a.canRestart():
			h.restartActor(a, info)
			return
		case t.kind == pb.RunKind_RUN_KIND_ACTOR_CALL && transient && !t.cancelled && a.state != actorDead && t.retriesLeft != 0:
			if t.retriesLeft > 0 {
				t.retriesLeft--
			}
			t.attempt++
			h.counts.retried++
			h.setTaskState(t, taskReady)
			a.insertCall(t)
			h.pumpActor(a)
			return
		}
		if t.kind == pb.RunKind_RUN_KIND_ACTOR_CALL {
			info = h.callFailed(t, info)
		} else if t.cancelled && a.death != nil {
			info = a.death
		}
		h.completeTask(t, nil, info)
		if t.kind == pb.RunKind_RUN_KIND_ACTOR_CREATE {
			h.actorDied(a, info)
		}
		return
	}
	if t.cancelled {
		info = &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_CANCELLED, Message: "cancelled by its caller", NodeId: info.NodeId}
		transient = false
	}
	retry := transient
	if k := info.Kind; (k == pb.ErrorKind_ERROR_KIND_APPLICATION || k == pb.ErrorKind_ERROR_KIND_PANIC) && t.spec.RetryAppErrors {
		retry = true
	}
	if info.Kind == pb.ErrorKind_ERROR_KIND_OBJECT_LOST {
		// An argument vanished between dispatch and fetch (its node died):
		// the retry waits for it to be rebuilt.
		retry = true
	}
	if retry && t.retriesLeft != 0 && !t.job.ended {
		if t.retriesLeft > 0 {
			t.retriesLeft--
		}
		t.attempt++
		t.lastErr = info
		h.counts.retried++
		h.log.Debug("retrying task", "task", t.id.Short(), "function", t.spec.Function, "attempt", t.attempt, "error", info.Message)
		h.requeue(t)
		return
	}
	if retry && t.retriesLeft == 0 {
		info.Message += fmt.Sprintf(" (after %d attempts)", t.attempt+1)
	}
	h.completeTask(t, nil, info)
}

func (h *Head) result(s *session, r *pb.TaskResult) {
	id, err := ids.FromBytes("result task id", r.TaskId)
	if err != nil {
		return
	}
	t := h.task(id)
	if t == nil || t.exec != s || t.state != taskAssigned || t.attempt != r.Attempt {
		// A result from a superseded attempt or a dead executor is never
		// applied twice.
		h.counts.stale++
		return
	}
	node := t.node
	if t.cancelled && r.Error == nil && t.kind != pb.RunKind_RUN_KIND_ACTOR_CREATE {
		// Cancelled before it finished (the executor heard too late): the
		// caller was promised ErrCancelled, so its value is dropped.
		if r.Stored {
			h.dropStored(t.id, node)
		}
		r = &pb.TaskResult{TaskId: r.TaskId, Attempt: r.Attempt, DurationNs: r.DurationNs,
			Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_CANCELLED, Message: "cancelled by its caller while running; the value it returned was discarded"}}
	}
	if t.kind == pb.RunKind_RUN_KIND_ACTOR_CREATE && r.Error == nil && t.actor.state == actorDead {
		// Killed while its constructor ran (the cancel came too late): the
		// instance goes, and the actor stays dead rather than come back.
		killInstance(s, t.actor)
		h.unassign(t)
		h.completeTask(t, nil, t.actor.death)
		return
	}
	if t.kind == pb.RunKind_RUN_KIND_ACTOR_CREATE && r.Error == nil {
		h.actorStarted(t)
		h.completeTask(t, &taskOutput{value: r.Value, stored: r.Stored, size: r.Size, node: node, nested: r.Nested}, nil)
		h.pumpActor(t.actor)
		return
	}
	h.unassign(t)
	if r.DurationNs > 0 {
		t.runTime.add(time.Duration(r.DurationNs))
	}
	if r.Error != nil {
		info := r.Error
		info.TaskId, info.Function, info.NodeId = t.id.Bytes(), t.spec.Function, node.id.Bytes()
		// (An executor that lost its node's store says so: transient, the
		// task runs again elsewhere.)
		h.taskFailed(t, info, info.Kind == pb.ErrorKind_ERROR_KIND_NODE_DIED)
		return
	}
	h.completeTask(t, &taskOutput{value: r.Value, stored: r.Stored, size: r.Size, node: node, nested: r.Nested}, nil)
}

func (h *Head) block(s *session, b *pb.TaskBlock) {
	id, err := ids.FromBytes("blocked task id", b.TaskId)
	if err != nil {
		return
	}
	t := h.task(id)
	if t == nil || t.exec != s || t.state != taskAssigned || t.blocked == b.Blocked || t.kind == pb.RunKind_RUN_KIND_ACTOR_CALL {
		return
	}
	t.blocked = b.Blocked
	if t.backlogged {
		return
	}
	// A task blocked in Get gives its CPUs back so that the tasks it waits
	// for can run (nested tasks never deadlock); it takes them again,
	// possibly over capacity for a while, when it resumes. It keeps its
	// GPUs, memory and custom resources, as in Ray: those are held for
	// what the task does with them (a custom resource of 1 is a mutex).
	blockedCPU := scheduler.Resources{CPU: t.req.CPU}
	if b.Blocked {
		t.node.committed = t.node.committed.Sub(blockedCPU)
	} else {
		t.node.committed = t.node.committed.Add(blockedCPU)
	}
}

func (h *Head) cancelTask(s *session, id ids.ID) {
	t := h.task(id)
	if t == nil || t.owner != s {
		return
	}
	t.cancelled = true
	if t.state == taskAssigned && t.exec != nil {
		h.sendCancel(t)
		return
	}
	h.unassign(t)
	h.completeTask(t, nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_CANCELLED, Message: "cancelled by its caller before it ran"})
}

// assign places t on n; backlogged tasks queue behind running work there.
func (h *Head) assign(t *task, n *nodeState, backlogged bool) {
	h.setTaskState(t, taskAssigned)
	t.node = n
	t.backlogged = backlogged
	n.running++
	n.idleSince = time.Time{}
	if backlogged {
		n.backlog++
	} else {
		n.committed = n.committed.Add(t.req)
	}
	v := &h.view[n.idx]
	v.Committed, v.Running, v.Backlog = n.committed, n.running, n.backlog
	if s := n.execs[t.job.id]; s != nil {
		h.sendTask(s, t)
		return
	}
	st := n.starting[t.job.id]
	if st == nil {
		st = &execStart{}
		n.starting[t.job.id] = st
		info := t.job.info
		src := h.packageSource(info.PackageHash, n)
		n.out.Add(256, func(m *pb.HeadToNode) {
			if src != nil {
				m.PackageSources = append(m.PackageSources, src)
			}
			m.StartExecutors = append(m.StartExecutors, info)
		})
	}
	st.tasks = append(st.tasks, t)
}

// unassign takes t off its node and executor, giving back what it held.
func (h *Head) unassign(t *task) {
	if t.state != taskAssigned {
		return
	}
	if t.kind == pb.RunKind_RUN_KIND_ACTOR_CALL {
		// Calls run on their actor's resources.
		if t.exec != nil {
			delete(t.exec.running, t.id)
		}
		t.node, t.exec = nil, nil
		h.setTaskState(t, taskIdle)
		return
	}
	n := t.node
	n.running--
	switch {
	case t.backlogged:
		n.backlog--
	case t.blocked:
		// Its CPUs went back when it blocked.
		n.committed = n.committed.Sub(scheduler.Resources{GPU: t.req.GPU, Memory: t.req.Memory, Custom: t.req.Custom})
	default:
		n.committed = n.committed.Sub(t.req)
	}
	if t.exec != nil {
		delete(t.exec.running, t.id)
	}
	t.node, t.exec = nil, nil
	t.blocked, t.backlogged = false, false
	h.setTaskState(t, taskIdle)
}

func (h *Head) sendTask(s *session, t *task) {
	t.exec = s
	s.running[t.id] = t
	run := &pb.RunTask{TaskId: t.spec.Id, Function: t.spec.Function, Attempt: t.attempt, Cpu: t.req.CPU, Args: make([]*pb.ResolvedArg, len(t.spec.Args))}
	if a := t.actor; a != nil {
		run.Kind, run.ActorId, run.MaxConcurrency, run.ActorName = t.kind, a.spec.Id, a.spec.MaxConcurrency, a.name
	}
	size := 64 + len(t.spec.Function)
	for i, a := range t.spec.Args {
		ra := &pb.ResolvedArg{}
		switch o := t.args[i]; {
		case o == nil:
			ra.Value = a.Value
		case o.value != nil:
			ra.Value = o.value
		default:
			ra.Object, ra.Size = a.Object, o.size
			for _, n := range o.locs {
				ra.Locations = append(ra.Locations, &pb.Location{NodeId: n.id.Bytes(), DataAddr: n.dataAddr})
			}
		}
		size += len(ra.Value) + 48
		run.Args[i] = ra
	}
	s.out.Add(size, func(m *pb.HeadMessage) { m.Run = append(m.Run, run) })
}

func (h *Head) sendCancel(t *task) {
	id := t.spec.Id
	t.exec.out.Add(24, func(m *pb.HeadMessage) { m.Cancel = append(m.Cancel, id) })
}

// task finds a live task by ID: the producer of its result object.
func (h *Head) task(id ids.ID) *task {
	if o := h.objects[id]; o != nil && o.producer != nil && o.producer.state != taskDone {
		return o.producer
	}
	return nil
}

func (h *Head) duration(fn string) *meanDuration {
	d := h.durations[fn]
	if d == nil {
		d = &meanDuration{}
		h.durations[fn] = d
	}
	return d
}
