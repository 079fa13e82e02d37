package client

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/wire"
)

// directConns are this client's streams to executors, shared by the direct
// routes (actor calls and leased tasks): one per executor, opened on first
// use, read by one goroutine each, whose answers go back to the route that
// sent the work. Its lock guards the map and each connection's calls.
type directConns struct {
	c     *Client
	mu    sync.Mutex
	conns map[string]*directConn
	// sent counts the calls and tasks sent straight to an executor.
	sent atomic.Int64
}

// directConn is a stream to one executor.
type directConn struct {
	addr  string
	local string // the executor's address for callers on its machine
	// node and pid name the executor, to ask the head why it exited.
	node []byte
	pid  int32
	// scope is the job whose processes the executor serves (the head's
	// ActorRoute.scope, LeaseGrant.scope).
	scope []byte
	out   *wire.Batcher[*pb.DirectRequest, directItem]
	// Guarded by directConns.mu: the work sent and not answered; whether
	// the stream opened, and whether it failed (then nothing is sent on
	// it any more).
	calls  map[ids.ID]*Ref
	opened bool
	failed bool
	// answers is the buffer answered sorts a reply's results into.
	answers []answer
}

// directItem is one item of a DirectRequest: a call, a task or the ID of a
// call to cancel.
type directItem struct {
	call   *pb.ActorCall
	task   *pb.TaskSpec
	cancel []byte
}

func addDirectItem(m *pb.DirectRequest, it directItem) {
	switch {
	case it.call != nil:
		m.Calls = append(m.Calls, it.call)
	case it.task != nil:
		m.Tasks = append(m.Tasks, it.task)
	default:
		m.Cancel = append(m.Cancel, it.cancel)
	}
}

// directDialTimeout bounds how long a stream to an executor takes to open.
const directDialTimeout = 10 * time.Second

// dialExecutor opens a stream to conn's executor at its address (or its
// local one, from this machine): the one place where this client dials an
// executor.
func (cs *directConns) dialExecutor(conn *directConn) (net.Conn, error) {
	token, err := cs.c.directToken(conn.scope)
	if err != nil {
		return nil, err
	}
	return wire.Dial(cs.c.ctx, conn.addr, conn.local, token, cs.c.cfg.Peers.ClientConfig(), directDialTimeout)
}

// directToken returns the token that opens a direct connection to an
// executor serving scope: this client's own, or for a client with the
// cluster token the scope's job credential. An executor of another job
// than this client's is not reached directly (an error wrapping
// errs.ErrPermissionDenied): its calls go through the head.
func (c *Client) directToken(scope []byte) (string, error) {
	job, _ := ids.FromBytes("scope", scope) // (none: the cluster's)
	return credential.ForScope(c.cfg.Token, job)
}

// open returns the stream to the executor at addr, serving scope, opening
// it if there is none or the last one failed.
func (cs *directConns) open(addr, local string, node []byte, pid int32, scope []byte) *directConn {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if conn := cs.conns[addr]; conn != nil && !conn.failed {
		return conn
	}
	conn := &directConn{addr: addr, local: local, node: node, pid: pid, scope: scope, calls: make(map[ids.ID]*Ref),
		out: wire.NewBatcher(nil, cs.c.session.maxMsg/2, func() *pb.DirectRequest { return &pb.DirectRequest{} }, addDirectItem)}
	cs.conns[addr] = conn
	go cs.run(conn)
	return conn
}

// queue sends r's work (item) on conn: at once when the connection was
// idle (a synchronous caller waits: flush, to call once the caller's lock
// is released), soon otherwise (the replies' reader or the flusher writes
// it with what else comes). ok is false when conn failed: nothing was
// sent.
func (cs *directConns) queue(conn *directConn, r *Ref, size int, item directItem) (flush func(), ok bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if conn.failed {
		return nil, false
	}
	r.d.conn = conn
	conn.calls[r.ID] = r
	cs.sent.Add(1)
	conn.out.Queue(size, item)
	if len(conn.calls) == 1 {
		return func() { conn.out.Flush() }, true
	}
	conn.out.FlushSoon()
	return nil, true
}

// cancel asks the executor running r (sent on a direct connection) to
// cancel it.
func (cs *directConns) cancel(r *Ref) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	conn := r.d.conn
	if conn == nil || conn.calls[r.ID] == nil {
		return
	}
	conn.out.Queue(24, directItem{cancel: r.ID.Bytes()})
	conn.out.FlushSoon() // not under the lock: the flusher writes it
}

// run connects to conn's executor and reads its replies until the
// connection breaks or the client closes. Work queued before the
// connection is up goes out once it is.
func (cs *directConns) run(conn *directConn) {
	ctx := cs.c.ctx
	nc, err := cs.dialExecutor(conn)
	if err != nil {
		cs.failed(conn, fmt.Errorf("connecting to the actor's executor at %s: %w", conn.addr, err))
		return
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	defer nc.Close()
	cs.mu.Lock()
	conn.opened = true
	cs.mu.Unlock()
	conn.out.SetWriter(nc)
	conn.out.Flush()
	flusherDone := make(chan struct{})
	defer close(flusherDone)
	go conn.out.RunFlusher(flusherDone)
	r := wire.NewReader(nc)
	for {
		m := &pb.DirectReply{}
		if err := r.Read(m); err != nil {
			if ctx.Err() != nil {
				err = errs.ErrClosed
			}
			cs.failed(conn, fmt.Errorf("the connection to its executor at %s broke: %w", conn.addr, err))
			return
		}
		cs.answered(conn, m)
		conn.out.Flush() // work sent while the replies were on their way
	}
}

// answered hands the results of a batch to the routes that sent their
// work.
func (cs *directConns) answered(conn *directConn, m *pb.DirectReply) {
	// (one buffer per connection, whose replies come one at a time: the
	// routes use the answers before this returns)
	all := slices.Grow(conn.answers[:0], 2*len(m.Results))
	leases, actors := all[:0:len(m.Results)], all[len(m.Results):len(m.Results)]
	defer func() { conn.answers = all[:0] }()
	cs.mu.Lock()
	for _, res := range m.Results {
		id, err := ids.FromBytes("call id", res.TaskId)
		if err != nil {
			continue
		}
		r := conn.calls[id]
		if r == nil {
			continue
		}
		delete(conn.calls, id)
		if r.d.link != nil {
			actors = append(actors, answer{r, res})
		} else {
			leases = append(leases, answer{r, res})
		}
	}
	cs.mu.Unlock()
	if len(leases) > 0 {
		cs.c.leases.answered(conn, leases)
	}
	if len(actors) > 0 {
		cs.c.actors.answered(conn, actors)
	}
}

// failed ends a stream: each direct route is told, with the work it sent
// on it and not answered (work never delivered goes through the head;
// work that may have run fails, or a task is retried).
func (cs *directConns) failed(conn *directConn, cause error) {
	cs.mu.Lock()
	conn.failed = true
	conn.out.Stop(cause)
	if cs.conns[conn.addr] == conn {
		delete(cs.conns, conn.addr)
	}
	var actors, leases []*Ref
	for _, r := range conn.calls {
		if r.d.link != nil {
			actors = append(actors, r)
		} else {
			leases = append(leases, r)
		}
	}
	conn.calls = nil
	cs.mu.Unlock()
	byID := func(a, b *Ref) int { return bytes.Compare(a.ID[:], b.ID[:]) }
	slices.SortFunc(actors, byID)
	slices.SortFunc(leases, byID)
	// The leases first, as one lock did: a lease's tasks that may run
	// again go back to the head before the actors' calls.
	failed := cs.c.leases.lost(conn, leases)
	failed = append(failed, cs.c.actors.lost(conn, actors)...)
	if len(failed) > 0 {
		go cs.failLost(conn, failed, cause)
	}
}

// failLost fails the calls and tasks that were running in an executor
// whose connection broke, saying why it went away when the head knows
// (the node reports an executor's exit status and crash report).
func (cs *directConns) failLost(conn *directConn, failed []*Ref, cause error) {
	c := cs.c
	why := cause.Error()
	if c.ctx.Err() == nil && len(conn.node) > 0 && conn.pid != 0 {
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		rep, err := c.cfg.Head.ExecutorExit(ctx, &pb.ExecutorExitRequest{NodeId: conn.node, Pid: conn.pid})
		cancel()
		if err == nil && rep.Cause != "" {
			why = fmt.Sprintf("its executor (pid %d) exited: %s", conn.pid, rep.Cause)
		}
	}
	for _, r := range failed {
		link := r.d.link
		if link == nil {
			r.finishDirect(&pb.TaskResult{TaskId: r.ID.Bytes(), Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_EXECUTOR,
				Message: fmt.Sprintf("%s while it ran (MaxRetries 0: not retried)", why)}})
			continue
		}
		label := link.actor.Short()
		if info := link.info; info != nil {
			label = info.Label
		}
		r.finishDirect(&pb.TaskResult{TaskId: r.ID.Bytes(), Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_ACTOR_DIED,
			Message: fmt.Sprintf("actor %s died: %s; the call may have run", label, why)}})
	}
}
