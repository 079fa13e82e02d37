package shoal

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/executor"
	"github.com/shoal-dev/shoal/internal/gctune"
	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/hooks"
	"github.com/shoal-dev/shoal/internal/hugepages"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/node"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/registry"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/taskresult"
)

// session is what Init leaves in the context: the client and, for an
// embedded cluster, the cluster itself.
type session struct {
	client *client.Client
	local  *localCluster
	conn   *grpc.ClientConn
}

type sessionKey struct{}

// Init connects this program to a cluster and returns a context that
// carries the connection: pass it (or contexts derived from it) to Remote,
// Put and the other calls. With no WithAddress option, Init starts an
// embedded local cluster.
//
// In an executor process (the program re-executed by a node to run tasks),
// Init does not return: it serves tasks until the job ends, then exits.
func Init(ctx context.Context, opts ...Option) (context.Context, error) {
	ExecutorMain()
	cfg := defaultConfig()
	// A driver started by `shoal job submit` finds its cluster and job in
	// its environment; options given in code still win.
	if addr := os.Getenv(node.EnvAddress); addr != "" {
		cfg.address = addr
		cfg.jobName = os.Getenv(node.EnvJobName)
		cfg.packageHash = os.Getenv(node.EnvPackage)
		cfg.tlsCA = os.Getenv(executor.EnvTLSCA)
		if id, err := ids.Parse(os.Getenv(executor.EnvJobID)); err == nil {
			cfg.jobID = id
		}
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cfg.jobName == "" {
		cfg.jobName = filepath.Base(os.Args[0])
	}
	s := &session{}
	job, err := jobInfo(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.dashboard != "" && cfg.address != "" {
		return nil, fmt.Errorf("shoal: WithDashboard is for an embedded cluster; a joined cluster's head serves its own (shoal head --dashboard)")
	}
	if cfg.runtimeEnv != nil && cfg.address == "" {
		return nil, fmt.Errorf("shoal: WithRuntimeEnv ships code to a cluster: use it with WithAddress (an embedded cluster runs this binary)")
	}
	hello := &pb.Hello{Role: pb.Role_ROLE_DRIVER, JobId: job.JobId, Job: job, Pid: int32(os.Getpid())}
	hello.Hostname, _ = os.Hostname()
	ccfg := client.Config{Hello: hello, Logger: cfg.logger, WelcomeTimeout: cfg.connectTimeout, MaxPendingTasks: cfg.maxPending,
		DirectCalls: os.Getenv(executor.EnvDirectCalls) != "0"}
	if cfg.address == "" {
		if cfg.nodes < 1 {
			return nil, fmt.Errorf("shoal: an embedded cluster needs at least one node (WithLocalNodes(%d))", cfg.nodes)
		}
		if s.local, err = startLocalCluster(ctx, cfg); err != nil {
			return nil, fmt.Errorf("shoal: starting the embedded cluster: %w", err)
		}
		h := s.local.head
		ccfg.Token = s.local.token
		ccfg.Head = localHead{h}
		ccfg.Connect = func(ctx context.Context) (rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], error) {
			return h.ConnectSession(ctx), nil
		}
		// Large Puts go to the first embedded node, by a memory copy.
		ccfg.PutNode, ccfg.PutAddr = s.local.nodes[0].ID(), s.local.nodes[0].DataAddr()
		ccfg.LocalStores = map[ids.ID]client.LocalStore{}
		for _, n := range s.local.nodes {
			ccfg.LocalStores[n.ID()] = n.Store()
		}
	} else {
		var token string
		if s.conn, token, err = dialHead(ctx, cfg); err != nil {
			return nil, err
		}
		if cfg.tlsCA != "" {
			// The data plane and direct calls are TLS too, with a
			// certificate the head signs for this process.
			if ccfg.Peers, err = peerauth.Enroll(ctx, pb.NewHeadClient(s.conn)); err != nil {
				s.close()
				return nil, fmt.Errorf("shoal: %w", err)
			}
		}
		ccfg.Token = token
		ccfg.Head = client.GRPCHead{Conn: s.conn}
		ccfg.Connect = client.GRPCSession(s.conn)
		ccfg.Reconnect = cfg.reconnect
		if cfg.runtimeEnv != nil {
			hash, err := shipRuntimeEnv(ctx, s.conn, *cfg.runtimeEnv, cfg.logger)
			if err != nil {
				s.close()
				return nil, withPrefix(err)
			}
			job.PackageHash, job.BinarySha256 = hash, nil
		}
	}
	if s.client, err = client.Connect(ctx, ccfg); err != nil {
		s.close()
		return nil, withPrefix(err)
	}
	ctx = context.WithValue(ctx, sessionKey{}, s)
	return client.NewContext(ctx, s.client), nil
}

func (s *session) close() {
	if s.client != nil {
		s.client.Close()
	}
	if s.conn != nil {
		s.conn.Close()
	}
	if s.local != nil {
		s.local.close()
	}
}

// Shutdown disconnects from the cluster (stopping it, if it is embedded).
// The job's tasks that are still running are cancelled.
func Shutdown(ctx context.Context) error {
	s, ok := ctx.Value(sessionKey{}).(*session)
	if !ok {
		return ErrNotInitialized
	}
	s.close()
	return nil
}

// ExecutorMain turns this process into an executor if its node started it
// as one: it serves tasks until the job ends and then exits the process.
// Otherwise it returns at once. Init calls it; call it yourself first thing
// in a main that does not call Init (as the shoal CLI does).
func ExecutorMain() {
	if !executor.IsExecutor() {
		return
	}
	code := 0
	exit := func(c int) { code = c }
	defer func() { os.Exit(code) }()
	gctune.Apply()
	var handler slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	if os.Getenv(executor.EnvLogFormat) == "json" {
		handler = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	}
	logger := slog.New(handler)
	if dir := os.Getenv("SHOAL_EXECUTOR_CPUPROFILE"); dir != "" {
		// For profiling executors: one CPU profile per executor process.
		if f, err := os.Create(filepath.Join(dir, fmt.Sprintf("executor-%d.prof", os.Getpid()))); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	if dir := os.Getenv("SHOAL_EXECUTOR_MEMPROFILE"); dir != "" {
		// And of their allocations, written as the executor ends.
		defer func() {
			if f, err := os.Create(filepath.Join(dir, fmt.Sprintf("executor-%d.mprof", os.Getpid()))); err == nil {
				runtime.GC() // the profile is as of the last collection
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	// SIGTERM from the node ends the executor cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	hugepages.Keep(ctx, hugepages.Options{Reserve: executorReserve})
	if err := executor.Run(ctx, logger); err != nil {
		logger.Error("executor stopped", "error", err)
		exit(1)
	}
	exit(0)
}

// executorReserve is the heap an executor maps ahead in huge pages
// (hugepages.Keep): address space, never resident until used.
const executorReserve = 512 << 20

// MainForTest is for TestMain in packages whose tests use shoal: it runs
// the test binary as an executor when a node started it as one, and runs
// the tests otherwise.
//
//	func TestMain(m *testing.M) { shoal.MainForTest(m) }
func MainForTest(m interface{ Run() int }) {
	ExecutorMain()
	os.Exit(m.Run())
}

func jobInfo(cfg config) (*pb.JobInfo, error) {
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("shoal: finding this program's binary: %w", err)
	}
	jobID := cfg.jobID
	if jobID.IsNil() {
		jobID = ids.Random()
	}
	job := &pb.JobInfo{JobId: jobID.Bytes(), Name: cfg.jobName, BinaryPath: bin, Registry: registry.Fingerprint(), PackageHash: cfg.packageHash}
	if cfg.maxPending < 0 {
		return nil, fmt.Errorf("shoal: WithMaxPendingTasks(%d): the bound must be positive", cfg.maxPending)
	}
	if cfg.maxPending > 0 {
		// The job's executors bound what their tasks submit alike.
		job.Env = append(job.Env, fmt.Sprintf("%s=%d", client.EnvMaxPendingTasks, cfg.maxPending))
	}
	if cfg.address != "" && cfg.packageHash == "" && cfg.runtimeEnv == nil {
		// Nodes of a real cluster check that they start the driver's
		// binary; an embedded cluster runs beside it.
		f, err := os.Open(bin)
		if err != nil {
			return nil, fmt.Errorf("shoal: reading this program's binary: %w", err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return nil, fmt.Errorf("shoal: hashing this program's binary: %w", err)
		}
		job.BinarySha256 = h.Sum(nil)
	}
	return job, nil
}

func clientFrom(ctx context.Context) (*client.Client, error) {
	if ctx == nil {
		return nil, ErrNotInitialized
	}
	c, ok := client.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("%w: call shoal.Init and pass the context it returns", ErrNotInitialized)
	}
	return c, nil
}

// localCluster is an embedded head and nodes in this process.
type localCluster struct {
	token     string
	head      *head.Head
	nodes     []*node.Node
	serveDone chan struct{}
	// stopDashboard stops serving the dashboard (nil: none).
	stopDashboard func()
}

func startLocalCluster(ctx context.Context, cfg config) (*localCluster, error) {
	res, err := cfg.nodeResources.internal()
	if err != nil {
		return nil, err
	}
	lc := &localCluster{token: rpc.NewToken(), serveDone: make(chan struct{})}
	var serveDashboard hooks.DashboardServer
	if cfg.dashboard != "" {
		if serveDashboard = hooks.Dashboard(); serveDashboard == nil {
			return nil, fmt.Errorf("shoal: WithDashboard needs the dashboard linked in: add import _ \"github.com/shoal-dev/shoal/dashboard\" to the program (a package of its own, so that programs without one stay small)")
		}
	}
	// No node joins an embedded cluster later: work none of its nodes can
	// run fails at once (FixedNodes).
	lc.head = head.New(head.Config{Token: lc.token, Logger: cfg.logger, HeartbeatInterval: cfg.heartbeat, HeartbeatTimeout: cfg.heartbeatLimit, FixedNodes: true,
		MaxPendingTasks: max(head.DefaultMaxPendingTasks, cfg.maxPending)})
	if serveDashboard != nil {
		url, stop, err := serveDashboard(lc.head, cfg.dashboard, cfg.logger)
		if err != nil {
			lc.head.Close()
			return nil, fmt.Errorf("shoal: WithDashboard(%q): %w", cfg.dashboard, err)
		}
		lc.stopDashboard = stop
		cfg.logger.Info("shoal dashboard at "+url, "metrics", url+"/metrics")
	}
	// Executors are separate processes: they reach the head over loopback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		lc.head.Close()
		return nil, fmt.Errorf("listening on loopback: %w", err)
	}
	go func() {
		defer close(lc.serveDone)
		lc.head.Serve(ln)
	}()
	h := lc.head
	for i := range cfg.nodes {
		n, err := node.Start(ctx, node.Config{
			HeadAddr:          ln.Addr().String(),
			Token:             lc.token,
			Resources:         res,
			Labels:            map[string]string{"embedded": fmt.Sprint(i)},
			ObjectStoreMemory: cfg.storeMemory,
			ObjectStoreDisk:   cfg.storeDisk,
			Connect: func(ctx context.Context) (rpc.ClientStream[pb.NodeMessage, pb.HeadToNode], error) {
				return h.ConnectNode(ctx), nil
			},
			Logger: cfg.logger,
		})
		if err != nil {
			lc.close()
			return nil, err
		}
		lc.nodes = append(lc.nodes, n)
	}
	return lc, nil
}

func (lc *localCluster) close() {
	if lc.stopDashboard != nil {
		lc.stopDashboard()
	}
	for _, n := range lc.nodes {
		n.Close()
	}
	lc.head.Close()
	<-lc.serveDone
}

// localHead adapts an in-process head to the client's HeadAPI.
type localHead struct{ h *head.Head }

func (l localHead) Status(context.Context) (*pb.StatusReply, error) { return l.h.Status(), nil }
func (l localHead) Locate(_ context.Context, req *pb.LocateRequest) (*pb.LocateReply, error) {
	return l.h.Locate(req), nil
}
func (l localHead) GetActor(_ context.Context, req *pb.GetActorRequest) (*pb.GetActorReply, error) {
	return l.h.GetActor(req), nil
}
func (l localHead) RequestResources(_ context.Context, req *pb.RequestResourcesRequest) error {
	l.h.RequestResources(req.Bundles)
	return nil
}
func (l localHead) ObjectInfo(_ context.Context, req *pb.ObjectInfoRequest) (*pb.ObjectStatus, error) {
	id, err := ids.FromBytes("object id", req.Id)
	if err != nil {
		return nil, err
	}
	return l.h.ObjectInfo(id), nil
}
func (l localHead) ExecutorExit(ctx context.Context, req *pb.ExecutorExitRequest) (*pb.ExecutorExitReply, error) {
	node, err := ids.FromBytes("node id", req.NodeId)
	if err != nil {
		return nil, err
	}
	return &pb.ExecutorExitReply{Cause: l.h.ExecutorExit(ctx, node, req.Pid)}, nil
}

func (l localHead) Drain(ctx context.Context, req *pb.DrainRequest) (*pb.DrainReply, error) {
	id, err := ids.FromBytes("node id", req.NodeId)
	if err != nil {
		return nil, err
	}
	return l.h.Drain(ctx, id, time.Duration(req.DeadlineMs)*time.Millisecond)
}

// DrainReport says what draining a node did.
type DrainReport struct {
	TasksFinished int64 // tasks that finished on the node during the drain
	TasksMoved    int64 // tasks still running at the deadline, retried elsewhere
	ObjectsMoved  int64 // objects whose only copy was moved to another node
	ObjectsLeft   int64 // objects not moved in time (rebuilt from lineage if needed)
	ActorsMoved   int64 // actors restarted elsewhere (or ended, without restarts)
	Duration      time.Duration
}

// Drain removes a node gracefully (as `shoal drain` does): no new work
// goes to it, its running tasks get until deadline to finish, objects whose
// only copy it holds move to other nodes, its actors restart elsewhere, and
// then the node exits. It returns when the node is gone.
func Drain(ctx context.Context, nodeID string, deadline time.Duration) (*DrainReport, error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return nil, err
	}
	id, err := ids.Parse(nodeID)
	if err != nil {
		return nil, fmt.Errorf("shoal: Drain: %w", err)
	}
	r, err := c.Head().Drain(ctx, &pb.DrainRequest{NodeId: id.Bytes(), DeadlineMs: deadline.Milliseconds()})
	if err != nil {
		return nil, fmt.Errorf("shoal: draining node %s: %w", id.Abbrev(), err)
	}
	return &DrainReport{TasksFinished: r.TasksFinished, TasksMoved: r.TasksMoved, ObjectsMoved: r.ObjectsMoved, ObjectsLeft: r.ObjectsLost,
		ActorsMoved: r.ActorsMoved, Duration: time.Duration(r.Seconds * float64(time.Second))}, nil
}

// NodeInfo describes one node of the cluster.
type NodeInfo struct {
	ID        string
	DataAddr  string
	Hostname  string
	Alive     bool
	Total     Resources
	Available Resources
	Running   int64
	// Leases counts the worker leases holding resources on the node (each
	// also counts as one running task); SharedLeases those sharing one.
	Leases, SharedLeases int64
	Labels               map[string]string
	// StoreBytes and StoreObjects describe the node's object store (memory
	// and disk); SpilledBytes and SpillFileBytes what it spilled to disk.
	StoreBytes     int64
	StoreObjects   int64
	SpilledObjects int64
	SpilledBytes   int64
	SpillFileBytes int64
	// SharedBytes is the store's shared memory in use (objects, and memory
	// readers still pin); PinnedBytes the part readers pin of objects that
	// left the store, freed when they let go.
	SharedBytes, PinnedBytes int64
	// LastHeartbeat is how long ago the head last heard from the node.
	LastHeartbeat time.Duration
	// MetricsURL serves the node's Prometheus metrics at /metrics ("":
	// nowhere).
	MetricsURL string
}

// Status is a snapshot of the cluster.
type Status struct {
	Nodes        []NodeInfo
	TasksByState map[string]int64
	Objects      int64
	ObjectBytes  int64
	Jobs         int64 // connected drivers: one per running job
	Actors       int64 // live actors
	// Events are recent decisions of the autoscaler and the head, oldest
	// first; Pins the leases keeping nodes in the cluster.
	Events []string
	Pins   []string
	// Waiting is work no live node can run, by resource shape: why it
	// waits and for what (a node type the autoscaler may launch, or a node
	// that fits to join).
	Waiting []WaitingWork
	// DashboardURL is where the head serves its dashboard and metrics
	// ("": nowhere).
	DashboardURL string
}

// WaitingWork is tasks and actors of one resource shape that no live node
// of the cluster can run.
type WaitingWork struct {
	Resources Resources
	Count     int64
	Reason    string
	// Infeasible: no autoscaler node type fits it either.
	Infeasible bool
	// For is how long it has waited.
	For time.Duration
}

// ClusterStatus reports the cluster's nodes, resources, tasks and objects.
func ClusterStatus(ctx context.Context) (*Status, error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.Head().Status(ctx)
	if err != nil {
		return nil, err
	}
	return statusFromPB(r), nil
}

// StatusAt reports the status of the cluster whose head the options name
// (WithAddress, else $SHOAL_ADDRESS; WithToken or WithTokenFile, else the
// token Init would find; WithTLS) without joining it as a driver, as
// `shoal status` does.
func StatusAt(ctx context.Context, opts ...Option) (*Status, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.address == "" {
		cfg.address = os.Getenv(node.EnvAddress)
	}
	if cfg.address == "" {
		return nil, fmt.Errorf("shoal: StatusAt needs the head's address: WithAddress or $%s", node.EnvAddress)
	}
	conn, _, err := dialHead(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r, err := client.GRPCHead{Conn: conn}.Status(ctx)
	if err != nil {
		return nil, withPrefix(err)
	}
	return statusFromPB(r), nil
}

// dialHead connects to the head cfg names with the token it gives or finds,
// and returns the connection and the token.
func dialHead(ctx context.Context, cfg config) (*grpc.ClientConn, string, error) {
	token, err := rpc.ResolveToken(cfg.token, cfg.tokenFile)
	if err != nil {
		return nil, "", withPrefix(err)
	}
	conn, err := rpc.Dial(ctx, cfg.address, token, 0, rpc.TLSConfig{CAFile: cfg.tlsCA}, cfg.connectTimeout)
	if err != nil {
		return nil, "", withPrefix(explainDial(err))
	}
	return conn, token, nil
}

// statusFromPB converts the wire form of a status report.
func statusFromPB(r *pb.StatusReply) *Status {
	st := &Status{TasksByState: r.TasksByState, Objects: r.Objects, ObjectBytes: r.ObjectBytes, Jobs: r.Jobs, Actors: r.Actors, Events: r.Events,
		DashboardURL: r.DashboardUrl}
	for _, p := range r.Pins {
		st.Pins = append(st.Pins, fmt.Sprintf("%d nodes pinned by %s: %s", len(p.NodeIds), p.Owner, p.Reason))
	}
	for _, w := range r.Waiting {
		st.Waiting = append(st.Waiting, WaitingWork{Resources: resourcesFromPB(w.Resources), Count: w.Count, Reason: w.Reason,
			Infeasible: w.Infeasible, For: time.Duration(w.SinceMsAgo) * time.Millisecond})
	}
	for _, n := range r.Nodes {
		id, _ := ids.FromBytes("node id", n.NodeId)
		st.Nodes = append(st.Nodes, NodeInfo{
			ID: id.String(), DataAddr: n.DataAddr, Hostname: n.Hostname, Alive: n.Alive,
			Total: resourcesFromPB(n.Total), Available: resourcesFromPB(n.Available), Running: n.RunningTasks,
			Leases: n.Leases, SharedLeases: n.SharedLeases, Labels: n.Labels, StoreBytes: n.StoreBytes, StoreObjects: n.StoreObjects,
			LastHeartbeat:  time.Duration(n.LastHeartbeatMsAgo) * time.Millisecond,
			SpilledObjects: n.GetStore().GetSpilledObjects(), SpilledBytes: n.GetStore().GetSpilledBytes(), SpillFileBytes: n.GetStore().GetSpillFileBytes(),
			SharedBytes: n.GetStore().GetSharedBytes(), PinnedBytes: n.GetStore().GetSharedPinnedBytes(), MetricsURL: n.MetricsUrl,
		})
	}
	return st
}

// NodeID returns the ID of the node a task runs on, inside a task, and ""
// in a driver.
func NodeID(ctx context.Context) string {
	if _, ok := client.TaskFrom(ctx); !ok {
		return ""
	}
	return os.Getenv(executor.EnvNodeID)
}

// GatherResult offers the parts of a task's large []byte result, whose
// concatenation is the result, to the executor running the task, and
// reports whether it took them: the task then returns a nil []byte, and
// the node copies the parts straight from the task's memory into its
// object store, without the buffer as large as the result and the copy
// that concatenating them would take. The parts must stay unchanged until
// release is called (once they are stored or dropped). It reports false
// outside a task run by an executor (a function called directly): the
// task concatenates them itself and calls release.
func GatherResult(ctx context.Context, parts [][]byte, release func()) bool {
	return taskresult.Gather(ctx, parts, release)
}
