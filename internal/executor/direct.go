package executor

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/wire"
)

// EnvDirectCalls set to 0 turns direct actor calls off: the executor serves
// no Executor service and every call goes through the head.
const EnvDirectCalls = "SHOAL_DIRECT_CALLS"

// Direct actor calls (docs/proposals/direct-calls.md): a caller sends calls
// with inline arguments straight to the executor its actor lives in, on one
// stream per caller, and gets their results on it. The calls join the
// actor's queue like the head's, so a caller's calls keep their order.
// Calls whose actor is not here (it was killed, or never lived here) are
// answered not_here, and the caller sends them through the head instead.

// directConn is one caller's connection.
type directConn struct {
	out    *wire.Batcher[*pb.DirectReply, *pb.TaskResult]
	closed atomic.Bool // the caller went away: its queued calls are dropped
}

// handshakeTimeout bounds a caller's handshake.
const handshakeTimeout = 10 * time.Second

// maxCallers bounds the direct-call connections an executor serves at
// once, per listener.
const maxCallers = 4096

// serveDirect starts serving direct calls on host (the node's address) and
// returns the address, a local address for callers on the same machine
// (see wire.ListenLocal; empty if there is none) and how to stop. It serves
// nothing (empty addresses) when direct calls are turned off. With a peer
// identity (the cluster uses TLS) callers over TCP must speak TLS.
func (ex *Executor) serveDirect(host, token string, peers *peerauth.Identity) (string, string, func(), error) {
	if os.Getenv(EnvDirectCalls) == "0" {
		return "", "", func() {}, nil
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", "", nil, fmt.Errorf("listening for direct actor calls on %s: %w", host, err)
	}
	peerauth.WarnPlaintext(ex.log, peers, lis.Addr(), "the executor's direct-call listener")
	tlsCfg := peers.ServerConfig()
	listeners := []net.Listener{lis}
	local := ""
	if ll, err := wire.ListenLocal(); err == nil {
		listeners, local = append(listeners, ll), ll.Addr().String()
	} else {
		ex.log.Debug("no local socket for direct calls; callers on this machine use TCP", "error", err)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	for _, lis := range listeners {
		wg.Add(1)
		// (at most maxCallers connections served at once: more wait)
		go ex.acceptCallers(netutil.LimitListener(lis, maxCallers), token, tlsCfg, &wg, &mu, conns)
	}
	stop := func() {
		for _, lis := range listeners {
			lis.Close()
		}
		mu.Lock()
		for nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
	return lis.Addr().String(), local, stop, nil
}

// acceptCallers serves the callers lis accepts until it is closed,
// tracking their goroutines in wg and their connections in conns (under
// mu).
func (ex *Executor) acceptCallers(lis net.Listener, token string, tlsCfg *tls.Config, wg *sync.WaitGroup, mu *sync.Mutex, conns map[net.Conn]bool) {
	defer wg.Done()
	spawn := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	for {
		nc, err := lis.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		conns[nc] = true
		mu.Unlock()
		spawn(func() {
			ex.serveCaller(nc, token, tlsCfg, spawn, func() {
				mu.Lock()
				delete(conns, nc)
				mu.Unlock()
			})
		})
	}
}

// serveCaller serves one caller's connection until it ends, then calls
// closed. Goroutines that go on reading it are started with spawn.
func (ex *Executor) serveCaller(raw net.Conn, token string, tlsCfg *tls.Config, spawn func(func()), closed func()) {
	nc, err := wire.Accept(raw, token, tlsCfg, handshakeTimeout)
	if err != nil {
		ex.refusals.Log(ex.log, "refused a direct-call connection", "from", raw.RemoteAddr(), "error", err)
		raw.Close()
		closed()
		return
	}
	conn := &directConn{out: wire.NewBatcher(nc, rpc.DefaultMaxMessageBytes/2, func() *pb.DirectReply { return &pb.DirectReply{} },
		func(m *pb.DirectReply, res *pb.TaskResult) { m.Results = append(m.Results, res) })}
	flusherDone := make(chan struct{})
	spawn(func() { conn.out.RunFlusher(flusherDone) })
	ex.mu.Lock()
	ex.callers[conn] = true
	ex.mu.Unlock()
	ex.readCalls(conn, wire.NewReader(nc), spawn, func() {
		ex.mu.Lock()
		delete(ex.callers, conn)
		ex.mu.Unlock()
		conn.closed.Store(true)
		conn.out.Stop(errs.ErrClosed)
		close(flusherDone)
		nc.Close()
		closed()
	})
}

// readCalls reads a caller's requests until the connection ends, then
// calls end. A call or leased task for an idle actor or lease runs on
// this goroutine, at once: a synchronous caller's call then starts without
// waiting for another goroutine to be scheduled. Measured on 1:1
// synchronous calls, 1.25–1.45× the calls per second of starting a worker
// goroutine; starting a goroutine to go on reading before running the call
// gave nothing back (it costs the same wake-up). So the connection is left
// unread while the call runs, for about inlinePause (an inlineWatch): then
// another goroutine goes on reading, and a long call holds up none of the
// caller's other calls or cancels for longer.
func (ex *Executor) readCalls(conn *directConn, r *wire.Reader, spawn func(func()), end func()) {
	w := &inlineWatch{handoff: func() { spawn(func() { ex.readCalls(conn, r, spawn, end) }) }}
	defer w.stop()
	for {
		m := &pb.DirectRequest{}
		if err := r.Read(m); err != nil {
			end()
			return
		}
		inst := ex.directCalls(conn, m)
		if inst == nil {
			continue
		}
		w.start()
		ex.callWorker(inst)
		if !w.finish() {
			return // another goroutine reads on
		}
	}
}

// inlinePause is about how long a call run by a connection's reader keeps
// the connection unread: between one and two times inlinePause.
const inlinePause = time.Millisecond

// inlineWatch hands a connection's reading to another goroutine (handoff)
// when a call its reader runs goes on for a tick of inlinePause: a call
// seen running at two ticks in a row. It ticks while calls come and
// stops after a tick without any. One timer a reader rather than one a
// call: a timer armed as the earliest of its processor's wakes another
// thread to watch it (the runtime's wakeNetPoller), which cost each
// synchronous round trip a thread's wake-up (11% of the executor's CPU
// time in BenchmarkSyncRoundTrip).
type inlineWatch struct {
	handoff func()
	mu      sync.Mutex
	calls   uint64 // calls started
	seen    uint64 // calls as of the last tick
	running bool
	handed  bool // reading went on elsewhere, or ended
	armed   bool
	t       *time.Timer
}

// start is told that the reader runs a call.
func (w *inlineWatch) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	w.running = true
	if w.armed {
		return
	}
	// The first tick counts as the second for this call, which started
	// now.
	w.armed, w.seen = true, w.calls
	if w.t == nil {
		w.t = time.AfterFunc(inlinePause, w.tick)
	} else {
		w.t.Reset(inlinePause)
	}
}

// finish is told that the call ended; it reports whether the reader reads
// on (false: another goroutine does).
func (w *inlineWatch) finish() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running = false
	return !w.handed
}

func (w *inlineWatch) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.handed:
		w.armed = false
	case w.running && w.calls == w.seen:
		// The call that ran at the last tick runs yet.
		w.handed, w.armed = true, false
		w.handoff()
	case w.calls != w.seen:
		w.seen = w.calls
		w.t.Reset(inlinePause)
	default:
		w.armed = false // no call for a tick
	}
}

// stop ends the ticks: the reader is done.
func (w *inlineWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.handed = true
	if w.armed {
		w.t.Stop()
		w.armed = false
	}
}

// directCalls queues a batch of a caller's calls on their actors.
//
// A request of one call or task, for an idle actor or lease, is a
// synchronous caller's (a flood comes many to a request): directCalls then
// reserves the worker and returns the actor or lease, for the caller to run
// it at once; nil otherwise.
func (ex *Executor) directCalls(conn *directConn, m *pb.DirectRequest) (inline *actorInstance) {
	reserve := &inline
	if len(m.Calls)+len(m.Tasks) != 1 {
		reserve = nil
	}
	ex.mu.Lock()
	for _, c := range m.Calls {
		id, err := ids.FromBytes("call id", c.Id)
		if err != nil {
			continue // no id to answer to; the caller's call fails when its stream ends
		}
		ex.direct[id] = conn
		if !rpc.InlineArgs(c.Args) {
			ex.replyLocked(&pb.TaskResult{TaskId: c.Id, Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_BAD_ARGUMENT,
				Message: "a direct actor call carries inline arguments only; calls with futures among their arguments go through the head"}})
			continue
		}
		ex.actorCall(&pb.RunTask{TaskId: c.Id, Function: c.Method, Kind: pb.RunKind_RUN_KIND_ACTOR_CALL, ActorId: c.ActorId, Args: rpc.ResolvedInline(c.Args)}, reserve)
	}
	for _, spec := range m.Tasks {
		ex.leaseTask(conn, spec, reserve)
	}
	ex.mu.Unlock()
	conn.out.Flush()
	for _, b := range m.Cancel {
		if id, err := ids.FromBytes("cancelled call id", b); err == nil {
			ex.onCancel(id)
		}
	}
	return inline
}

// leaseTask queues a task sent under a worker lease: a lease's tasks run
// one at a time, in the order sent, on the resources the lease holds at
// the head (the executor's own count of used CPUs leaves them out); while
// one is blocked in Get the next may run. Called with ex.mu held.
func (ex *Executor) leaseTask(conn *directConn, spec *pb.TaskSpec, inline **actorInstance) {
	id, err := ids.FromBytes("task id", spec.Id)
	if err != nil {
		return
	}
	ex.direct[id] = conn
	leaseID, err := ids.FromBytes("lease id", spec.LeaseId)
	if err != nil || !rpc.InlineArgs(spec.Args) {
		ex.replyLocked(&pb.TaskResult{TaskId: spec.Id, NotHere: true, Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_BAD_ARGUMENT,
			Message: "a task sent straight to an executor needs a lease and inline arguments"}})
		return
	}
	rt := &pb.RunTask{TaskId: spec.Id, Function: spec.Function, Kind: pb.RunKind_RUN_KIND_TASK, Args: rpc.ResolvedInline(spec.Args)}
	if spec.Resources != nil {
		rt.Cpu = spec.Resources.Cpu
	}
	inst := ex.leases[leaseID]
	if inst == nil {
		ctx, cancel := context.WithCancel(ex.ctx)
		inst = &actorInstance{id: leaseID, ctx: client.NewContext(ctx, ex.client), cancel: cancel, maxConc: 1, lease: true}
		ex.leases[leaseID] = inst
	}
	inst.queue = append(inst.queue, rt)
	ex.dispatchCalls(inst, inline)
}

// replyLocked sends a finished task's result to whoever asked for it: the
// head, or the caller of a direct call. Called with ex.mu held, which must
// not wait on a connection: a direct reply is queued, and the connection
// it returns must be flushed once ex.mu is released.
func (ex *Executor) replyLocked(res *pb.TaskResult) *directConn {
	id, _ := ids.FromBytes("task id", res.TaskId)
	if conn := ex.direct[id]; conn != nil {
		delete(ex.direct, id)
		conn.out.Queue(64+len(res.Value)+errSize(res.Error), res)
		return conn
	}
	ex.client.SendResults(64+len(res.Value)+errSize(res.Error), res)
	return nil
}

// replySoonLocked is replyLocked for the places that cannot flush: the
// connection's flusher writes the reply.
func (ex *Executor) replySoonLocked(res *pb.TaskResult) {
	if conn := ex.replyLocked(res); conn != nil {
		conn.out.FlushSoon()
	}
}

func errSize(e *pb.ErrorInfo) int {
	if e == nil {
		return 0
	}
	return len(e.Message)
}
