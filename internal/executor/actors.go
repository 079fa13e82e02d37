package executor

import (
	"context"
	"fmt"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// actorInstance is an actor living in this executor: the value its
// constructor returned, and the calls waiting for it. With MaxConcurrency 1
// (the default) calls run one at a time in the order the head sent them,
// which is the order they were made; with more, up to that many run at once.
type actorInstance struct {
	id      ids.ID
	self    any
	ctx     context.Context
	cancel  context.CancelFunc
	maxConc int
	running int
	queue   []*pb.RunTask
	cpu     int64
	killed  bool
	// lease: this is a worker lease's queue of tasks, not an actor; it is
	// dropped when its queue is empty.
	lease bool
}

// actorCreated keeps the instance a constructor returned. Called from the
// constructor task's goroutine.
func (ex *Executor) actorCreated(id ids.ID, rt *pb.RunTask, self any) (any, *pb.ErrorInfo) {
	if self == nil {
		return nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_APPLICATION, Message: "the actor's constructor returned nil"}
	}
	ctx, cancel := context.WithCancel(ex.ctx)
	inst := &actorInstance{id: id, self: self, ctx: client.NewContext(ctx, ex.client), cancel: cancel, maxConc: max(1, int(rt.MaxConcurrency)), cpu: rt.Cpu}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	ex.actors[id] = inst
	if r := ex.running[id]; r != nil {
		r.keepCPU = true // the actor holds the constructor's CPUs from now on
	}
	return true, nil
}

func (ex *Executor) actorSelf(actorID []byte) (any, bool) {
	id, err := ids.FromBytes("actor id", actorID)
	if err != nil {
		return nil, false
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	inst := ex.actors[id]
	if inst == nil {
		return nil, false
	}
	return inst.self, true
}

// actorCall queues a method call on its actor (see dispatchCalls for
// inline). Called with ex.mu held.
func (ex *Executor) actorCall(rt *pb.RunTask, inline **actorInstance) {
	id, _ := ids.FromBytes("actor id", rt.ActorId)
	inst := ex.actors[id]
	if inst == nil {
		// (A direct call's reply is flushed by directCalls.)
		ex.replyLocked(&pb.TaskResult{TaskId: rt.TaskId, Attempt: rt.Attempt, NotHere: true, Error: &pb.ErrorInfo{
			Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED, Message: fmt.Sprintf("actor %s is not in this executor (it died or was killed)", id.Short())}})
		return
	}
	inst.queue = append(inst.queue, rt)
	ex.dispatchCalls(inst, inline)
}

// dispatchCalls starts workers for queued calls while the actor's
// concurrency allows; a worker runs calls one after another until the queue
// is empty, so a busy actor costs no goroutine per call. With a non-nil
// inline holding nil, the first worker is not started but left in
// *inline, for the caller to run as callWorker(inst) once it released
// ex.mu. Called with ex.mu held.
func (ex *Executor) dispatchCalls(inst *actorInstance, inline **actorInstance) {
	for inst.running < inst.maxConc && len(inst.queue) > 0 {
		inst.running++
		if inline != nil && *inline == nil {
			*inline = inst
			continue
		}
		go ex.callWorker(inst)
	}
}

func (ex *Executor) callWorker(inst *actorInstance) {
	ex.mu.Lock()
	// (running exceeds maxConc when a lease's blocked task resumed while
	// another ran: one of the workers stops.)
	for len(inst.queue) > 0 && inst.running <= inst.maxConc {
		rt := inst.queue[0]
		inst.queue[0] = nil
		inst.queue = inst.queue[1:]
		callID, err := ids.FromBytes("call id", rt.TaskId)
		if err != nil {
			continue
		}
		if conn := ex.direct[callID]; conn != nil && conn.closed.Load() {
			delete(ex.direct, callID) // its caller went away: nobody waits for it
			continue
		}
		ctx, cancel := context.WithCancelCause(inst.ctx)
		r := &runningTask{cancel: cancel, actor: inst}
		r.scope.ID, r.scope.Ctx = callID, ctx
		if inst.lease {
			r.cpu, r.lease = rt.Cpu, inst.id
		}
		ex.running[callID] = r
		ex.mu.Unlock()
		ex.run(client.WithTask(ctx, &r.scope), callID, rt)
		ex.mu.Lock()
	}
	inst.running--
	ex.dropIdleLeaseLocked(inst)
	ex.mu.Unlock()
}

// dropIdleLeaseLocked forgets a worker lease's queue once it has nothing
// queued or running (the lease's next task makes a new one). Called with
// ex.mu held.
func (ex *Executor) dropIdleLeaseLocked(inst *actorInstance) {
	if inst.lease && inst.running == 0 && len(inst.queue) == 0 && ex.leases[inst.id] == inst {
		delete(ex.leases, inst.id)
		inst.cancel()
	}
}

// killActor drops an actor: its running calls are cancelled, its queued
// calls fail, and its CPUs are free again.
func (ex *Executor) killActor(id ids.ID) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	ex.killActorLocked(id)
}

// killActorLocked is killActor with ex.mu held.
func (ex *Executor) killActorLocked(id ids.ID) {
	inst := ex.actors[id]
	if inst == nil {
		return
	}
	delete(ex.actors, id)
	inst.killed = true
	inst.cancel()
	for _, r := range ex.running {
		// Calls of the actor end with it, and so do the tasks they started.
		if r.actor == inst {
			r.scope.End(true)
		}
	}
	for _, rt := range inst.queue {
		ex.replySoonLocked(&pb.TaskResult{TaskId: rt.TaskId, Attempt: rt.Attempt, NotHere: true, Error: &pb.ErrorInfo{
			Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED, Message: "the actor was killed before the call ran"}})
	}
	inst.queue = nil
	ex.usedCPU -= inst.cpu
	ex.admit()
}
