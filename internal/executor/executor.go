// Package executor is the runtime inside an executor process: the job's own
// binary, started by a node agent and switched into executor mode by
// shoal.Init. It runs the tasks the head hands it in goroutines, as many at
// once as its node's CPUs allow, and gives a task's CPUs back while the task
// waits in Get so that nested tasks never deadlock.
package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/codec"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/localstore"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/registry"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/taskresult"
	"github.com/shoal-dev/shoal/internal/wire"
)

// Environment of an executor process, set by its node.
const (
	EnvExecutor = "SHOAL_EXECUTOR"
	EnvHeadAddr = "SHOAL_HEAD_ADDR"
	EnvJobID    = "SHOAL_JOB_ID"
	EnvNodeID   = "SHOAL_NODE_ID"
	EnvNodeData = "SHOAL_NODE_DATA_ADDR"
	// EnvNodeStore is the node's local store (internal/localstore), where
	// the executor reads the node's objects in place; empty: none.
	EnvNodeStore = "SHOAL_NODE_STORE"
	EnvTLSCA     = "SHOAL_TLS_CA"
	// EnvLogFormat is the node's log format (text or json), which its
	// executors use too.
	EnvLogFormat = "SHOAL_LOG_FORMAT"
	// EnvLocalSession set to 0 has an executor on its head's machine open
	// its session through gRPC rather than on the head's local socket
	// (client.LocalSession): to compare the two, or to rule the socket out.
	EnvLocalSession = "SHOAL_LOCAL_SESSION"
)

// IsExecutor reports whether this process was started as an executor.
func IsExecutor() bool { return os.Getenv(EnvExecutor) == "1" }

// Executor runs one job's tasks on one node.
type Executor struct {
	log      *slog.Logger
	client   *client.Client
	nodeAddr string
	nodeCPU  int64
	binary   string
	ctx      context.Context

	mu      sync.Mutex
	ready   bool
	queue   []*pb.RunTask
	running map[ids.ID]*runningTask
	actors  map[ids.ID]*actorInstance
	usedCPU int64
	// direct maps a direct call or task (queued or running) to its
	// caller's connection; leases holds the task queues of worker leases.
	direct map[ids.ID]*directConn
	leases map[ids.ID]*actorInstance
	// callers are the open direct-call connections.
	callers map[*directConn]bool
	// gcWanted: a task that made or borrowed references ended since the
	// last collection began; gcPending: a collection is on its way.
	gcWanted, gcPending atomic.Bool
	spans               spanBuffer
	refusals            wire.Refusals // of direct-call connections
}

// collectDelay is how soon after a task that made or borrowed references
// the executor collects garbage, and so at most how often.
const collectDelay = 100 * time.Millisecond

// collectSoon runs the garbage collector soon if tasks made or borrowed
// references since the last collection. Futures are let go by cleanups
// when collected, and an executor's collector runs rarely (a ballast,
// gctune): without this, the futures a task made and dropped (its
// children's, those it decoded from its arguments) would keep their
// objects in the cluster long after the task ended. An actor that keeps
// futures in its state keeps them: only unreachable ones go.
func (ex *Executor) collectSoon() {
	ex.gcWanted.Store(true)
	if ex.gcPending.CompareAndSwap(false, true) {
		time.AfterFunc(collectDelay, ex.collect)
	}
}

func (ex *Executor) collect() {
	ex.gcWanted.Store(false)
	runtime.GC()
	ex.gcPending.Store(false)
	if ex.gcWanted.Load() {
		ex.collectSoon() // a task ended while it ran: its futures may have been reachable
	}
}

type runningTask struct {
	scope   client.TaskScope // (in the same allocation: one per task)
	cancel  context.CancelCauseFunc
	cpu     int64
	blocked int            // nesting depth of waits in Get
	keepCPU bool           // an actor constructor that succeeded: its actor holds the CPUs
	actor   *actorInstance // for a method call, its actor (or its lease's queue)
	// lease: the worker lease the task runs under; its CPUs are counted at
	// the head, not in usedCPU.
	lease ids.ID
}

// Run connects to the head named by the environment and runs tasks until
// the session ends (the job stopped, or the node or head went away).
func Run(ctx context.Context, logger *slog.Logger) error {
	jobID, err := ids.Parse(os.Getenv(EnvJobID))
	if err != nil {
		return fmt.Errorf("executor: %s: %w", EnvJobID, err)
	}
	nodeID, err := ids.Parse(os.Getenv(EnvNodeID))
	if err != nil {
		return fmt.Errorf("executor: %s: %w", EnvNodeID, err)
	}
	token := os.Getenv(rpc.TokenEnv)
	headAddr, nodeAddr := os.Getenv(EnvHeadAddr), os.Getenv(EnvNodeData)
	conn, err := rpc.Dial(ctx, headAddr, token, 0, rpc.TLSConfig{CAFile: os.Getenv(EnvTLSCA)}, 30*time.Second)
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	defer conn.Close()
	bin, _ := os.Executable()
	// Work runs under runCtx, not ctx: when ctx ends (SIGTERM from the
	// node) the executor first lets its actors' callers know (shutdown).
	runCtx, stopRunning := context.WithCancel(context.Background())
	defer stopRunning()
	ex := &Executor{log: logger, nodeAddr: nodeAddr, binary: bin, ctx: runCtx, running: make(map[ids.ID]*runningTask),
		actors: make(map[ids.ID]*actorInstance), direct: make(map[ids.ID]*directConn), leases: make(map[ids.ID]*actorInstance),
		callers: make(map[*directConn]bool)}
	host, _, err := net.SplitHostPort(nodeAddr)
	if err != nil {
		return fmt.Errorf("executor: %s %q: %w", EnvNodeData, nodeAddr, err)
	}
	// In a cluster that uses TLS, the data plane and direct calls do too,
	// with a certificate the head signs for this process.
	var peers *peerauth.Identity
	if os.Getenv(EnvTLSCA) != "" {
		if peers, err = peerauth.Enroll(ctx, pb.NewHeadClient(conn)); err != nil {
			return fmt.Errorf("executor: %w", err)
		}
	}
	directAddr, directLocal, stopDirect, err := ex.serveDirect(host, token, peers)
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	defer stopDirect()
	// The node's objects are read in place when it shares its memory.
	var shared client.SharedStore
	if addr := os.Getenv(EnvNodeStore); addr != "" {
		if ls, err := localstore.Dial(ctx, addr, token); err != nil {
			logger.Warn("reading the node's objects over the data plane", "why", err)
		} else {
			defer ls.Close()
			shared = ls
		}
	}
	session := client.GRPCSession(conn)
	if os.Getenv(EnvLocalSession) != "0" {
		session = client.LocalSession(headAddr, token, logger, session)
	}
	cl, err := client.Connect(ctx, client.Config{
		Hello: &pb.Hello{Role: pb.Role_ROLE_EXECUTOR, JobId: jobID.Bytes(), NodeId: nodeID.Bytes(),
			Pid: int32(os.Getpid()), Registry: registry.Fingerprint(), DirectAddr: directAddr, DirectLocal: directLocal},
		Connect:     session,
		Head:        client.GRPCHead{Conn: conn},
		Token:       token,
		Peers:       peers,
		PutNode:     nodeID,
		PutAddr:     nodeAddr,
		Shared:      shared,
		SharedNode:  nodeID,
		OnRun:       ex.onRun,
		OnCancel:    ex.onCancel,
		OnBlock:     ex.onBlock,
		OnKillActor: ex.killActor,
		DirectCalls: os.Getenv(EnvDirectCalls) != "0",
		Logger:      logger,
	})
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	ex.mu.Lock()
	ex.client, ex.nodeCPU, ex.ready = cl, cl.Welcome().NodeCpu, true
	ex.admit()
	ex.mu.Unlock()
	spansCtx, stopSpans := context.WithCancel(context.Background())
	spansDone := make(chan struct{})
	go func() {
		defer close(spansDone)
		ex.spans.sendSpans(spansCtx, cl)
	}()
	select {
	case <-cl.Done():
	case <-ctx.Done():
		ex.shutdown()
		stopSpans() // (the last spans leave before the session closes)
		<-spansDone
		cl.Close()
	}
	stopSpans()
	<-spansDone
	stopRunning()
	ex.mu.Lock()
	for _, r := range ex.running {
		r.cancel(context.Canceled)
		r.scope.End(true)
	}
	ex.mu.Unlock()
	if err := cl.Err(); err != nil && !errors.Is(err, errs.ErrClosed) {
		return err
	}
	return nil
}

// shutdownGrace bounds how long a stopping executor waits for its actors'
// running calls to end.
const shutdownGrace = time.Second

// shutdown is a stop asked for (the actor's death, the job's end): the
// actors go first, as killActor does, so that their direct callers hear
// not_here (and learn from the head how the actor ended) rather than see
// the connection break; then the replies are flushed.
func (ex *Executor) shutdown() {
	ex.mu.Lock()
	for id := range ex.actors {
		ex.killActorLocked(id)
	}
	ex.mu.Unlock()
	deadline := time.Now().Add(shutdownGrace)
	for time.Now().Before(deadline) {
		ex.mu.Lock()
		calls := 0
		for _, r := range ex.running {
			if r.actor != nil && !r.actor.lease {
				calls++
			}
		}
		ex.mu.Unlock()
		if calls == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond) // (a stop is rare: polling is enough)
	}
	ex.mu.Lock()
	conns := make([]*directConn, 0, len(ex.callers))
	for c := range ex.callers {
		conns = append(conns, c)
	}
	ex.mu.Unlock()
	for _, c := range conns {
		c.out.Flush()
	}
}

func (ex *Executor) onRun(rt *pb.RunTask) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if rt.Kind == pb.RunKind_RUN_KIND_ACTOR_CALL {
		ex.actorCall(rt, nil)
		return
	}
	ex.queue = append(ex.queue, rt)
	ex.admit()
}

// admit starts queued tasks while the node's CPUs allow. Called with mu.
func (ex *Executor) admit() {
	if !ex.ready {
		return
	}
	for len(ex.queue) > 0 {
		rt := ex.queue[0]
		if ex.usedCPU > 0 && ex.usedCPU+rt.Cpu > ex.nodeCPU {
			return
		}
		ex.queue[0] = nil
		ex.queue = ex.queue[1:]
		id, err := ids.FromBytes("task id", rt.TaskId)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithCancelCause(ex.ctx)
		r := &runningTask{cancel: cancel, cpu: rt.Cpu}
		ex.running[id] = r
		ex.usedCPU += rt.Cpu
		r.scope.ID, r.scope.Ctx = id, ctx
		ctx = client.NewContext(client.WithTask(ctx, &r.scope), ex.client)
		go ex.run(ctx, id, rt)
	}
}

func (ex *Executor) onCancel(id ids.ID) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if r := ex.running[id]; r != nil {
		r.cancel(context.Canceled)
		r.scope.End(true)
		return
	}
	cancelQueued := func(queue []*pb.RunTask) ([]*pb.RunTask, bool) {
		for i, rt := range queue {
			if string(rt.TaskId) == string(id[:]) {
				ex.replySoonLocked(&pb.TaskResult{TaskId: rt.TaskId, Attempt: rt.Attempt,
					Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_CANCELLED, Message: "cancelled by its caller before it started"}})
				return append(queue[:i], queue[i+1:]...), true
			}
		}
		return queue, false
	}
	var found bool
	if ex.queue, found = cancelQueued(ex.queue); found {
		return
	}
	for _, inst := range ex.actors {
		if inst.queue, found = cancelQueued(inst.queue); found {
			return
		}
	}
	for _, inst := range ex.leases {
		if inst.queue, found = cancelQueued(inst.queue); found {
			ex.dropIdleLeaseLocked(inst)
			return
		}
	}
}

func (ex *Executor) onBlock(id ids.ID, blocked bool) {
	ex.mu.Lock()
	r := ex.running[id]
	if r == nil {
		ex.mu.Unlock()
		return
	}
	changed := false
	leased := !r.lease.IsNil() // its CPUs are the lease's, counted at the head
	if blocked {
		r.blocked++
		if r.blocked == 1 {
			if leased {
				// The lease's next task runs meanwhile (it may be what
				// this one waits for), as a task through the head would
				// take the CPUs a blocked task gives back.
				r.actor.maxConc++
				ex.dispatchCalls(r.actor, nil)
			} else {
				ex.usedCPU -= r.cpu
				ex.admit()
			}
			changed = true
		}
	} else if r.blocked > 0 {
		r.blocked--
		if r.blocked == 0 {
			if leased {
				r.actor.maxConc--
			} else {
				ex.usedCPU += r.cpu
			}
			changed = true
		}
	}
	ex.mu.Unlock()
	if changed && r.cpu > 0 {
		ex.client.SendBlock(id, r.lease, blocked)
	}
}

func (ex *Executor) run(ctx context.Context, id ids.ID, rt *pb.RunTask) {
	start := time.Now()
	made := ex.client.Made()
	res := &pb.TaskResult{TaskId: rt.TaskId, Attempt: rt.Attempt}
	ctx, gathered := taskresult.With(ctx)
	defer gathered.Close() // (after the result is stored, or dropped)
	value, info := ex.invoke(ctx, rt)
	if ctx.Err() != nil && (info == nil || info.Kind != pb.ErrorKind_ERROR_KIND_PANIC) {
		// Cancelled while it ran (its caller cancelled it, its actor was
		// killed, or the executor is stopping): a task that ignored its
		// context still ends cancelled, and what it returned is dropped.
		msg := "cancelled while running; the value it returned was discarded"
		if info != nil {
			msg = "cancelled while running: " + info.Message
		}
		value, info = nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_CANCELLED, Message: msg}
	}
	if info == nil && rt.Kind == pb.RunKind_RUN_KIND_ACTOR_CREATE {
		value, info = ex.actorCreated(id, rt, value)
	} else if info == nil {
		if e, ok := registry.Lookup(rt.Function); ok && e.Nested != nil {
			res.Nested = e.Nested(value)
		}
	}
	if info == nil {
		limit := ex.client.InlineLimit()
		if e, ok := registry.Lookup(rt.Function); ok && e.StoreResult {
			limit = 0
		}
		if parts, ok := gathered.Parts(); ok {
			value = gatheredValue(parts)
		}
		info = ex.encodeResult(id, value, res, limit)
	}
	res.Error = info
	res.DurationNs = int64(time.Since(start))
	ex.mu.Lock()
	offHead := ex.direct[id] != nil // (came without the head: counted by it apart)
	// more: calls of the same actor wait, so a direct reply can leave with
	// theirs (the flusher writes it soon whatever the next call does).
	more := false
	if r := ex.running[id]; r != nil {
		more = r.actor != nil && len(r.actor.queue) > 0
		if r.actor != nil && r.actor.killed && ex.direct[id] != nil && (info == nil || info.Kind != pb.ErrorKind_ERROR_KIND_APPLICATION) {
			// Cut short by the actor's death: the head says how it died.
			res.NotHere = true
		}
		r.cancel(client.ErrTaskReturned)
		r.scope.End(false)
		if r.blocked == 0 && !r.keepCPU && r.lease.IsNil() {
			ex.usedCPU -= r.cpu
		}
		delete(ex.running, id)
	}
	ex.admit()
	conn := ex.replyLocked(res)
	ex.mu.Unlock()
	if conn != nil {
		if more {
			conn.out.FlushSoon()
		} else {
			conn.out.Flush()
		}
	}
	// (after the reply has left: the caller does not wait for the span)
	ex.spans.add(rt, start, time.Duration(res.DurationNs), info, offHead)
	if ex.client.Made() != made {
		ex.collectSoon()
	}
}

// nodeGone reports whether err says the node's store cannot be reached
// at all (its connection refused, reset or closed), not that it refused
// the object.
func nodeGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// gatheredValue is a []byte result a task gave in parts
// (internal/taskresult), stored without concatenating them.
type gatheredValue [][]byte

func (ex *Executor) encodeResult(id ids.ID, value any, res *pb.TaskResult, limit int64) *pb.ErrorInfo {
	var parts [][]byte
	if g, ok := value.(gatheredValue); ok {
		n := 1
		for _, p := range g {
			n += len(p)
		}
		if int64(n) > limit {
			parts = append([][]byte{{byte(codec.TagRaw)}}, g...)
		} else {
			value = bytes.Join(g, nil) // (small enough to go inline)
		}
	}
	if parts == nil {
		enc, tag, payload, err := codec.Split(value, limit)
		if err != nil {
			return &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_APPLICATION, Message: fmt.Sprintf("encoding the result: %v", err)}
		}
		if enc != nil {
			res.Value = enc
			return nil
		}
		parts = [][]byte{{byte(tag)}, payload}
	}
	var size int64
	for _, p := range parts {
		size += int64(len(p))
	}
	if err := ex.client.StoreResult(context.WithoutCancel(ex.ctx), id, parts...); err != nil {
		kind := pb.ErrorKind_ERROR_KIND_EXECUTOR
		if nodeGone(err) {
			// The node's agent is gone (killed, crashed): the task is lost
			// with its node and runs again elsewhere, as if this executor
			// had died with it (which it is about to).
			kind = pb.ErrorKind_ERROR_KIND_NODE_DIED
		}
		return &pb.ErrorInfo{Kind: kind, Message: fmt.Sprintf("storing the %d-byte result on the node: %v", size, err)}
	}
	res.Stored, res.Size = true, size
	return nil
}

// invoke runs the task's function, turning every way it can fail into an
// ErrorInfo: unknown function, bad arguments, an error, or a panic.
func (ex *Executor) invoke(ctx context.Context, rt *pb.RunTask) (value any, info *pb.ErrorInfo) {
	e, ok := registry.Lookup(rt.Function)
	if !ok {
		return nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_UNKNOWN_FUNCTION, Message: fmt.Sprintf(
			"function %q is not registered in the executor's binary %s (pid %d), which registers %s; register it with shoal.Func in a package the binary links",
			rt.Function, ex.binary, os.Getpid(), registry.Describe(10))}
	}
	if len(rt.Args) != len(e.Params) {
		return nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_BAD_ARGUMENT, Message: fmt.Sprintf(
			"%s takes %d arguments, got %d", e.Signature(), len(e.Params), len(rt.Args))}
	}
	args := make([][]byte, len(rt.Args))
	var err error
	for i, a := range rt.Args {
		if a.Object == nil {
			args[i] = a.Value
			continue
		}
		objID, err := ids.FromBytes("argument object id", a.Object)
		if err != nil {
			return nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_BAD_ARGUMENT, Message: err.Error()}
		}
		var b []byte
		b, err = ex.client.FetchVia(ctx, ex.nodeAddr, objID, client.LocationsFromPB(a.Locations))
		if err != nil {
			return nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_OBJECT_LOST, Message: fmt.Sprintf("argument %d: %v", i+1, err)}
		}
		args[i] = b
	}
	defer func() {
		if p := recover(); p != nil {
			value, info = nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_PANIC, Message: fmt.Sprintf("%v\n\n%s", p, debug.Stack())}
		}
	}()
	var v any
	if rt.Kind == pb.RunKind_RUN_KIND_ACTOR_CALL {
		self, ok := ex.actorSelf(rt.ActorId)
		if !ok {
			return nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED, Message: "the actor is no longer in this executor (it died or was killed)"}
		}
		if e.Method == nil {
			return nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_UNKNOWN_FUNCTION, Message: fmt.Sprintf("%q is not an actor method", rt.Function)}
		}
		v, err = e.Method(ctx, self, args)
	} else {
		if (rt.Kind == pb.RunKind_RUN_KIND_ACTOR_CREATE) != e.Actor || e.Method != nil {
			return nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_UNKNOWN_FUNCTION, Message: fmt.Sprintf("%q is registered as another kind of function", rt.Function)}
		}
		v, err = e.Invoke(ctx, args)
	}
	if err != nil {
		var argErr *registry.ArgError
		if errors.As(err, &argErr) {
			return nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_BAD_ARGUMENT, Message: fmt.Sprintf("%s: %v", e.Signature(), err)}
		}
		// Errors from nested tasks keep their full text (which names the
		// nested task) but count as this task's application error.
		return nil, errs.Application(err)
	}
	return v, nil
}
