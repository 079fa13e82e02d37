// Package node is the agent that runs on every machine of a cluster. It
// registers the machine's resources with the head and heartbeats, holds the
// node's object store and serves it to peers and local executors over the
// data plane (pulling missing objects peer-to-peer), and starts and stops the
// executor processes that run each job's tasks.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/localstore"
	"github.com/shoal-dev/shoal/internal/objstore"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/retry"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
	"github.com/shoal-dev/shoal/internal/transfer"
	"github.com/shoal-dev/shoal/runtimeenv"
)

// Config configures a node agent.
type Config struct {
	// HeadAddr is the head's gRPC address; executors use it too.
	HeadAddr string
	Token    string
	TLS      rpc.TLSConfig
	// Connect opens the node stream; nil dials HeadAddr. The embedded
	// cluster connects in process.
	Connect   func(ctx context.Context) (rpc.ClientStream[pb.NodeMessage, pb.HeadToNode], error)
	Resources scheduler.Resources
	Labels    map[string]string
	// DataListen is the data plane's listen address (default 127.0.0.1:0).
	DataListen string
	// ObjectStoreMemory and ObjectStoreDisk bound the object store's memory
	// and spill tiers (0: defaults, 30% of available memory and the spill
	// file system's free space; see objstore.Config), spilling under
	// SpillDir.
	ObjectStoreMemory int64
	ObjectStoreDisk   int64
	// ObjectStoreWarm bytes of the store's memory are written once at
	// start (objstore.Config.WarmBytes).
	ObjectStoreWarm int64
	SpillDir        string
	// WorkDir is the executors' working directory (default: the node's).
	WorkDir string
	// LogDir keeps each job's executor output, rotated by size (default: a
	// directory under the system's temporary directory that the node
	// removes when it stops).
	LogDir string
	// ExecutorEnv is added to every executor's environment.
	ExecutorEnv []string
	// PackageCacheDir holds the runtime-environment packages this node has
	// fetched (default: a directory under the system's temporary directory
	// that the node removes when it stops), PackageCacheBytes its disk
	// budget (default 10 GiB).
	PackageCacheDir   string
	PackageCacheBytes int64
	// PackageListen is where the node serves its package cache to peers
	// (default: the data plane's host, a free port; "off": it does not).
	// Peers fetch over token-authenticated plaintext gRPC, as on the data
	// plane, so a cluster with TLS keeps package transfers on the head's
	// TLS connection and serves none.
	PackageListen string
	// MetricsURL is where the node's metrics are served (told to the head
	// for status and discovery; empty: nowhere).
	MetricsURL string
	Logger     *slog.Logger
}

// Node is a running node agent.
type Node struct {
	cfg   Config
	log   *slog.Logger
	store *objstore.Store
	data  *transfer.Server
	// local serves the store's memory to this machine's executors
	// (localAddr; "" where it cannot).
	local     *localstore.Server
	localAddr string
	peers     *transfer.Client
	// peerID is the node's certificate for the data plane when the
	// cluster uses TLS (nil: plaintext).
	peerID *peerauth.Identity
	ln     net.Listener
	host   string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	id         ids.ID
	out        *rpc.Outbox[pb.HeadToNode]
	toHead     *rpc.Outbox[pb.NodeMessage]
	execs      map[ids.ID]*executorProc
	pulls      map[ids.ID]*pull
	registered chan struct{}
	leaving    bool
	lastErr    error // how the last session ended (Start reports it)
	leave      func()
	// Runtime environments: the package cache, the head connection that
	// serves packages, executors being started and submitted jobs' drivers.
	pkgs         *runtimeenv.Cache
	pkgsTemp     string
	logs         execLogs
	logsTemp     string
	conn         *grpc.ClientConn
	startingExec map[ids.ID]bool
	drivers      map[ids.ID]*driverProc
	hashes       map[string]cachedHash
	// pkgServer serves the package cache to peers at pkgAddr (nil, "":
	// it does not); pkgSources are the peers the head named per package.
	pkgServer  *grpc.Server
	pkgAddr    string
	pkgSources map[string][]string
}

type pull struct {
	done chan struct{}
	from []transfer.Location // the nodes it tries, in order
	err  error               // set before done closes
}

// Start starts the data plane and registers with the head. It returns once
// the head has accepted the node.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DataListen == "" {
		cfg.DataListen = "127.0.0.1:0"
	}
	if cfg.Resources.CPU <= 0 {
		return nil, fmt.Errorf("a node needs at least some CPU (got %s)", cfg.Resources)
	}
	store, err := objstore.Open(objstore.Config{MemoryBytes: cfg.ObjectStoreMemory, DiskBytes: cfg.ObjectStoreDisk, SpillDir: cfg.SpillDir,
		SharedMemory: true, WarmBytes: cfg.ObjectStoreWarm, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("node object store: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.DataListen)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("node data plane: listening on %s: %w", cfg.DataListen, err)
	}
	// In a cluster that uses TLS, so does the data plane, with a
	// certificate the head signs at each registration (connect).
	var peerID *peerauth.Identity
	if cfg.TLS.Enabled() {
		if peerID, err = peerauth.NewIdentity(); err != nil {
			ln.Close()
			store.Close()
			return nil, err
		}
	}
	peerauth.WarnPlaintext(cfg.Logger, peerID, ln.Addr(), "the node's data plane")
	host, _ := os.Hostname()
	nctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg: cfg, store: store, peers: transfer.NewClient(cfg.Token, peerID), peerID: peerID, ln: ln, host: host,
		ctx: nctx, cancel: cancel, execs: make(map[ids.ID]*executorProc), pulls: make(map[ids.ID]*pull),
		registered: make(chan struct{}), hashes: make(map[string]cachedHash),
	}
	n.log = cfg.Logger.With("component", "node")
	n.startingExec, n.drivers = map[ids.ID]bool{}, map[ids.ID]*driverProc{}
	pkgDir := cfg.PackageCacheDir
	if pkgDir == "" {
		if pkgDir, err = os.MkdirTemp("", "shoal-node-packages-"); err != nil {
			ln.Close()
			store.Close()
			return nil, fmt.Errorf("node package cache: %w", err)
		}
		n.pkgsTemp = pkgDir
	}
	n.logs.dir = cfg.LogDir
	if n.logs.dir == "" {
		if n.logs.dir, err = os.MkdirTemp("", "shoal-node-logs-"); err != nil {
			ln.Close()
			store.Close()
			return nil, fmt.Errorf("node log directory: %w", err)
		}
		n.logsTemp = n.logs.dir
	} else if err := os.MkdirAll(n.logs.dir, 0o700); err != nil {
		ln.Close()
		store.Close()
		return nil, fmt.Errorf("node log directory: %w", err)
	}
	budget := cfg.PackageCacheBytes
	if budget == 0 {
		budget = 10 << 30
	}
	n.pkgs = &runtimeenv.Cache{Dir: pkgDir, BudgetBytes: budget, Logger: n.log}
	n.pkgSources = map[string][]string{}
	if err := n.servePackages(); err != nil {
		ln.Close()
		store.Close()
		return nil, err
	}
	n.data = &transfer.Server{Token: cfg.Token, TLS: peerID, Store: n.store, Pull: n.pull, Logger: n.log}
	n.local = &localstore.Server{Store: n.store, Token: cfg.Token, Logger: n.log}
	if n.localAddr, err = n.local.Listen(); err != nil {
		n.log.Debug("executors read objects over the data plane", "why", err)
	}
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		if err := n.data.Serve(ln); err != nil {
			n.log.Error("data plane stopped", "error", err)
		}
	}()
	go func() {
		defer n.wg.Done()
		n.runSessions()
	}()
	select {
	case <-n.registered:
		return n, nil
	case <-ctx.Done():
		err := n.joinError()
		n.Close()
		if err != nil {
			return nil, fmt.Errorf("%w (last attempt: %w)", context.Cause(ctx), err)
		}
		return nil, context.Cause(ctx)
	case <-nctx.Done():
		err := n.joinError()
		n.Close()
		if err != nil {
			return nil, err
		}
		return nil, errors.New("node stopped before it registered")
	}
}

// joinError is why the last attempt to join the head failed (nil: none
// failed yet).
func (n *Node) joinError() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lastErr
}

// ID returns the node's current ID (it changes if the node re-registers).
func (n *Node) ID() ids.ID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.id
}

// DataAddr is the data plane's address.
func (n *Node) DataAddr() string { return n.ln.Addr().String() }

// Store returns the node's object store.
func (n *Node) Store() *objstore.Store { return n.store }

// Close stops the executors, the data plane and the session with the head.
func (n *Node) Close() error {
	n.mu.Lock()
	n.leaving = true
	leave := n.leave
	n.mu.Unlock()
	if leave != nil {
		leave() // tell the head this node leaves, rather than dies
	}
	n.cancel()
	n.data.Close()
	if n.pkgServer != nil {
		n.pkgServer.Stop()
	}
	n.stopAllDrivers()
	n.stopAllExecutors()
	n.local.Close()
	n.wg.Wait()
	n.peers.Close()
	if err := n.store.Close(); err != nil {
		n.log.Warn("closing the object store", "error", err)
	}
	n.mu.Lock()
	conn := n.conn
	n.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	if n.pkgsTemp != "" {
		os.RemoveAll(n.pkgsTemp)
	}
	n.logs.close()
	if n.logsTemp != "" {
		os.RemoveAll(n.logsTemp)
	}
	return nil
}

// Done is closed when the node has stopped.
func (n *Node) Done() <-chan struct{} { return n.ctx.Done() }

// runSessions keeps a session with the head, registering again with a new
// ID after losing it, until the node is closed. Before the node has first
// registered, an address with no Shoal head behind it (nothing listens, or
// something else answers) ends it at once: Start reports why.
func (n *Node) runSessions() {
	backoff := retry.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second}
	for failures := 1; n.ctx.Err() == nil; failures++ {
		err := n.session()
		n.stopAllExecutors()
		n.mu.Lock()
		leaving := n.leaving
		n.lastErr = err
		n.mu.Unlock()
		if n.ctx.Err() != nil || leaving {
			return
		}
		joined := isClosed(n.registered)
		if errors.Is(err, errs.ErrUnauthenticated) || !joined && noHeadAt(err) {
			if joined { // (before, Start reports it)
				n.log.Error("the head refused this node", "head", n.cfg.HeadAddr, "error", err)
			}
			n.cancel()
			return
		}
		wait := backoff.Delay(failures)
		if joined {
			n.log.Warn("lost the session with the head; registering again", "error", err, "retry_in", wait)
		} else {
			n.log.Warn("could not join the head; trying again", "error", err, "retry_in", wait)
		}
		if retry.Sleep(n.ctx, wait) != nil {
			return
		}
	}
}

// noHeadAt reports whether err says no Shoal head can be at the address:
// nothing listens there, something other than a gRPC server answers, or a
// gRPC server without Shoal's head service.
func noHeadAt(err error) bool {
	var ns *rpc.NoServerError
	return errors.As(err, &ns) || status.Code(err) == codes.Unimplemented
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (n *Node) connect(ctx context.Context) (rpc.ClientStream[pb.NodeMessage, pb.HeadToNode], func(), error) {
	if n.cfg.Connect != nil {
		s, err := n.cfg.Connect(ctx)
		return s, func() {}, err
	}
	conn, err := rpc.Dial(ctx, n.cfg.HeadAddr, n.cfg.Token, 0, n.cfg.TLS, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	if n.peerID != nil {
		// (again at every session: a head restarted with another key is
		// another CA)
		if err := n.peerID.Enroll(ctx, pb.NewHeadClient(conn)); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	s, err := pb.NewHeadClient(conn).NodeSession(ctx)
	if err != nil {
		conn.Close()
		return nil, nil, errs.FromStatus(err)
	}
	return s, func() { conn.Close() }, nil
}

// session registers once and serves until the stream ends.
func (n *Node) session() error {
	ctx, cancel := context.WithCancel(n.ctx)
	defer cancel()
	stream, closeConn, err := n.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	// A node keeps its identity and its objects across a lost session (a
	// head that restarted takes it back, with the objects it reports); a
	// head that declared it dead refuses it, and it starts afresh.
	n.mu.Lock()
	id := n.id
	n.mu.Unlock()
	if id.IsNil() {
		id = ids.Random()
	}
	hello := &pb.NodeHello{NodeId: id.Bytes(), Resources: resourcesToPB(n.cfg.Resources), DataAddr: n.DataAddr(),
		Hostname: n.host, Pid: int32(os.Getpid()), Labels: n.cfg.Labels, PackageAddr: n.pkgAddr, MetricsUrl: n.cfg.MetricsURL}
	if n.pkgAddr != "" {
		held, _ := n.pkgs.Contents()
		for _, p := range held {
			hello.Packages = append(hello.Packages, p.Hash)
		}
	}
	first := &pb.NodeMessage{Hello: hello}
	for _, o := range n.store.List() {
		first.Objects = append(first.Objects, &pb.ObjectCopy{Id: o.ID.Bytes(), Added: true, Size: o.Size})
	}
	if err := stream.Send(first); err != nil {
		return errs.FromStatus(err)
	}
	welcome, err := stream.Recv()
	if err != nil {
		err = errs.FromStatus(err)
		if errors.Is(err, errs.ErrDeclaredDead) {
			n.log.Warn("the head declared this node dead; joining as a new node", "old_id", id.Abbrev())
			n.clearStore()
			n.mu.Lock()
			n.id = ids.Nil
			n.mu.Unlock()
		}
		return err
	}
	first2 := welcome
	if first2.Welcome == nil {
		return fmt.Errorf("%w: the head's first message was not a welcome", errs.ErrMalformed)
	}
	interval := time.Duration(first2.Welcome.HeartbeatIntervalMs) * time.Millisecond
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	out := rpc.NewOutbox(rpc.DefaultMaxMessageBytes/2, func() *pb.NodeMessage { return &pb.NodeMessage{} })
	n.mu.Lock()
	n.id, n.toHead = id, out
	select {
	case <-n.registered:
	default:
		close(n.registered)
	}
	n.mu.Unlock()
	n.log.Info("registered with the head", "node", id.Abbrev(), "data", n.DataAddr(), "resources", n.cfg.Resources.String())

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sendCtx, stopSending := context.WithCancel(ctx)
	sendDone := make(chan struct{})
	sessionDone := make(chan struct{})
	defer close(sessionDone)
	n.mu.Lock()
	n.leave = func() {
		// Stop the sender before CloseSend (gRPC forbids them
		// concurrently), then wait for the head to end the stream.
		stopSending()
		<-sendDone
		stream.CloseSend()
		select {
		case <-sessionDone:
		case <-time.After(2 * time.Second):
		}
	}
	n.mu.Unlock()
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(sendDone)
		if err := out.Run(sendCtx, stream.Send); err != nil && sendCtx.Err() == nil {
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		var seq int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				seq++
				objects, bytes := n.store.Stats()
				n.mu.Lock()
				execs := len(n.execs)
				n.mu.Unlock()
				u := n.store.Usage()
				hb := &pb.Heartbeat{Seq: seq, StoreBytes: bytes, StoreObjects: int64(objects), Executors: int32(execs), Store: &pb.StoreUsage{
					MemoryBytes: u.MemoryBytes, MemoryLimit: u.MemoryLimit, SpilledObjects: int64(u.SpilledObjects), SpilledBytes: u.SpilledBytes,
					SpillFiles: int64(u.SpillFiles), SpillFileBytes: u.SpillFileBytes, DiskLimit: u.DiskLimit, Spills: u.Spills, Restores: u.Restores,
					SharedBytes: u.SharedBytes, SharedPinnedBytes: u.PinnedBytes, SharedSize: u.SharedSize}}
				if seq%trimEvery == 0 {
					n.store.TrimIdle(trimIdle)
				}
				n.store.TrimToBudget()
				out.Add(32, func(m *pb.NodeMessage) { m.Heartbeat = hb })
			}
		}
	}()
	n.handle(first2)
	for {
		m, err := stream.Recv()
		if err != nil {
			stream.CloseSend()
			return errs.FromStatus(err)
		}
		n.handle(m)
	}
}

func (n *Node) handle(m *pb.HeadToNode) {
	if len(m.PackageSources) > 0 {
		n.mu.Lock()
		for _, src := range m.PackageSources {
			n.pkgSources[src.Hash] = src.Addrs
		}
		n.mu.Unlock()
	}
	for _, job := range m.StartExecutors {
		n.startExecutor(job)
	}
	for _, ds := range m.StartDrivers {
		n.startDriver(ds)
	}
	for _, b := range m.StopDrivers {
		if id, err := ids.FromBytes("job id", b); err == nil {
			n.stopDriver(id)
		}
	}
	for _, b := range m.StopJobs {
		if id, err := ids.FromBytes("job id", b); err == nil {
			n.stopExecutor(id)
		}
	}
	for _, b := range m.FreeObjects {
		if id, err := ids.FromBytes("object id", b); err == nil {
			n.store.Delete(id)
		}
	}
	for _, p := range m.PullObjects {
		id, err1 := ids.FromBytes("object id", p.Id)
		from, err2 := ids.FromBytes("node id", p.FromNode)
		if err1 != nil || err2 != nil {
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			// The head moves objects off a draining node this way; the copy
			// is reported to it once stored.
			_, release, err := n.pull(n.ctx, id, []transfer.Location{{Node: from, Addr: p.FromAddr}})
			if err != nil {
				n.log.Warn("could not pull an object from a draining node", "object", id.Short(), "from", p.FromAddr, "error", err)
				return
			}
			release()
		}()
	}
	if len(m.LogRequests) > 0 {
		n.answerLogs(m.LogRequests)
	}
	if m.Shutdown {
		n.log.Info("the head drained this node; exiting")
		go n.Close()
	}
}

func (n *Node) report(fill func(m *pb.NodeMessage)) {
	n.mu.Lock()
	out := n.toHead
	n.mu.Unlock()
	if out != nil {
		out.Add(32, fill)
	}
}

// stored reports a new object copy to the head.
func (n *Node) stored(id ids.ID, size int64) {
	c := &pb.ObjectCopy{Id: id.Bytes(), Added: true, Size: size}
	n.report(func(m *pb.NodeMessage) { m.Objects = append(m.Objects, c) })
}

// The store's shared memory that stayed free for trimIdle goes back to
// the kernel, checked every trimEvery heartbeats: not sooner, since fresh
// memory costs more to write than the copy itself on virtual machines
// (internal/arena).
const (
	trimIdle  = 10 * time.Minute
	trimEvery = 240
)

// pull fetches an object from peers for a local reader, once however many
// readers ask at the same time, straight into the store's memory, and
// keeps the copy; it returns the bytes pinned until release.
//
// A reader joins a pull under way only when that pull tries every node
// the reader names: a reader told of a new copy (its old one's node went
// silent) must not wait out the timeouts of a pull stuck on the old one.
func (n *Node) pull(ctx context.Context, id ids.ID, hints []transfer.Location) ([]byte, func(), error) {
	if data, release, err := n.store.Acquire(id); err == nil {
		return data, release, nil
	}
	self := n.ID()
	var from []transfer.Location
	for _, h := range hints {
		if h.Node != self && h.Addr != n.DataAddr() {
			from = append(from, h)
		}
	}
	if len(from) == 0 {
		return nil, nil, fmt.Errorf("no other node holds object %s", id.Short())
	}
	n.mu.Lock()
	p := n.pulls[id]
	switch {
	case p == nil:
		p = &pull{done: make(chan struct{}), from: from}
		n.pulls[id] = p
	case !p.covers(from):
		n.mu.Unlock()
		return n.pullFrom(ctx, id, from)
	default:
		n.mu.Unlock()
		select {
		case <-p.done:
			if p.err != nil {
				return nil, nil, p.err
			}
			return n.store.Acquire(id)
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	n.mu.Unlock()
	data, release, err := n.pullFrom(ctx, id, from)
	p.err = err
	n.mu.Lock()
	if n.pulls[id] == p {
		delete(n.pulls, id)
	}
	n.mu.Unlock()
	close(p.done)
	return data, release, err
}

// covers reports whether p tries every one of locs.
func (p *pull) covers(locs []transfer.Location) bool {
	for _, l := range locs {
		if !slices.ContainsFunc(p.from, func(f transfer.Location) bool { return f.Addr == l.Addr }) {
			return false
		}
	}
	return true
}

// pullFrom fetches an object from the first of the nodes from that serves
// it into the store, and returns it pinned until release.
func (n *Node) pullFrom(ctx context.Context, id ids.ID, from []transfer.Location) ([]byte, func(), error) {
	var firstErr error
	for _, h := range from {
		var res *objstore.Reservation
		_, err := n.peers.GetInto(ctx, h.Addr, id, nil, func(size uint64) ([]byte, error) {
			r, err := n.store.Reserve(id, int64(size))
			if err != nil {
				return nil, err
			}
			if r.Exists() {
				return nil, errPulledMeanwhile
			}
			res = r
			return r.Data, nil
		})
		if errors.Is(err, errPulledMeanwhile) {
			return n.store.Acquire(id)
		}
		if err != nil {
			if res != nil {
				res.Abort()
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("from node %s (%s): %w", h.Node.Abbrev(), h.Addr, err)
			}
			continue
		}
		added, err := res.Seal()
		if err != nil {
			return nil, nil, err
		}
		if added {
			n.stored(id, int64(len(res.Data)))
		}
		return n.store.Acquire(id)
	}
	return nil, nil, firstErr
}

// errPulledMeanwhile: the object reached the store (another way) while a
// pull was about to receive it.
var errPulledMeanwhile = errors.New("the object is here already")

func (n *Node) clearStore() { n.store.Clear() }

func resourcesToPB(r scheduler.Resources) *pb.Resources {
	return &pb.Resources{Cpu: r.CPU, Gpu: r.GPU, Memory: r.Memory, Custom: r.Custom}
}
