package head

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/mapcompact"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
	"github.com/shoal-dev/shoal/runtimeenv"
	envpb "github.com/shoal-dev/shoal/runtimeenv/pb"
)

// Config configures a head.
type Config struct {
	// Token is the cluster token every caller must present.
	Token string
	// InlineLimit is the largest value that travels inside messages and is
	// kept by the head; larger values stay in node stores. Default 64 KiB.
	InlineLimit int64
	// HeartbeatInterval is how often nodes report; HeartbeatTimeout is how
	// long the head waits before declaring a silent node dead.
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
	// MaxMessageBytes bounds every control-plane message.
	MaxMessageBytes int
	// ShortTask is the mean run time under which a function's tasks may be
	// queued on executors beyond free resources (backlogged), and
	// BacklogWindow is how much queued work per node that may amount to.
	ShortTask     time.Duration
	BacklogWindow time.Duration
	// LocalityBandwidth (bytes/s) and LocalityWait make delay scheduling:
	// a task whose arguments lie mostly on one busy node waits for it for
	// as long as moving them would take at LocalityBandwidth (Dask's
	// distributed.scheduler.bandwidth, 100 MB/s), at most LocalityWait
	// (Spark's spark.locality.wait, 3s), before it runs elsewhere. A
	// negative LocalityWait turns it off.
	LocalityBandwidth float64
	LocalityWait      time.Duration
	// TLS enables TLS on the gRPC listener.
	TLS rpc.TLSConfig
	// StateDir, when set, keeps the head's metadata on disk (Open) so that
	// a restarted head takes its cluster back; RecoveryWindow is how long it
	// then waits for owners to claim the objects nodes report (default 30s).
	StateDir       string
	RecoveryWindow time.Duration
	// PackageDir holds uploaded runtime-environment packages (default:
	// <StateDir>/packages, or none without StateDir); PackageLimit bounds a
	// package's content size (0: runtimeenv.DefaultLimit).
	PackageDir   string
	PackageLimit int64
	// InfeasibleTimeout is how long work that no live node could ever run,
	// and no autoscaler node type either, waits for a node that fits to
	// join before it fails with ErrInfeasible; 0 waits for ever (as Ray
	// does), with a warning to its owner, an event and a line in status.
	// FixedNodes says no node will ever join (an embedded cluster): such
	// work fails at once.
	InfeasibleTimeout time.Duration
	FixedNodes        bool
	// MaxConnections bounds the connections the head's listener holds at
	// once (default 16384); past it new ones wait to be accepted.
	MaxConnections int
	// MaxPendingTasks caps the tasks and actor calls of one session that
	// have not finished (default DefaultMaxPendingTasks): what a session
	// sends beyond fails at once with ErrTooManyPending and costs the head
	// nothing more. Clients learn it from the welcome and wait below it
	// (see pending.go).
	MaxPendingTasks int
	// DashboardURL is where the head's dashboard and metrics are served
	// (status says it; empty: nowhere).
	DashboardURL string
	Logger       *slog.Logger
}

func (c *Config) setDefaults() {
	if c.InlineLimit <= 0 {
		c.InlineLimit = 64 << 10
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 250 * time.Millisecond
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = 2 * time.Second
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = rpc.DefaultMaxMessageBytes
	}
	if c.ShortTask <= 0 {
		c.ShortTask = time.Millisecond
	}
	if c.BacklogWindow <= 0 {
		c.BacklogWindow = 4 * time.Millisecond
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 16384
	}
	if c.MaxPendingTasks <= 0 {
		c.MaxPendingTasks = DefaultMaxPendingTasks
	}
	if c.LocalityBandwidth <= 0 {
		c.LocalityBandwidth = 100e6
	}
	if c.LocalityWait == 0 {
		c.LocalityWait = 3 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Head is a running control plane.
type Head struct {
	cfg Config
	log *slog.Logger
	gen *ids.Generator

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	grpcServer *grpc.Server
	listener   net.Listener
	// local serves executors' sessions on the head's machine
	// (local_sessions.go).
	local localSessions

	mu       sync.Mutex
	nodes    map[ids.ID]*nodeState
	alive    []*nodeState // live nodes; alive[i].idx == i
	view     []scheduler.Node
	sessions map[*session]struct{}
	jobs     map[ids.ID]*job
	objects  map[ids.ID]*object
	// objectDeletes counts the deletions from objects (mapcompact).
	objectDeletes mapcompact.Tracker
	classes       map[classKey]*class
	active        []*class // classes with queued tasks
	infeasible    int      // classes whose first task fits no live node
	// eventCounts counts the events recorded, by kind (for metrics).
	eventCounts map[string]int64
	jobEnds     int64 // submitted jobs ended, for their order
	timings     *headTimings
	rpcTimings  rpcTimings
	timeline    spanRing
	queries     queryLog
	history     history       // samples of the nodes' use (dashboard)
	failures    ring[Failure] // the last tasks that failed for good (dashboard)
	// localityWaits counts the tasks the last scheduling pass left waiting
	// for their nodes (the heartbeat tick schedules again while > 0).
	localityWaits int
	readySeq      uint64  // counts tasks as they become ready (task.readySeq)
	waiting       []*task // (scratch of waitingTasks)
	nodeTypes     map[string]scheduler.Resources
	durations     map[string]*meanDuration
	actors        map[ids.ID]*actor
	leases        map[ids.ID]*lease // worker leases granted
	actorNames    map[string]*actor
	// state is the metadata on disk (nil without StateDir); unclaimed and
	// recoverUntil belong to the recovery after a restart; deadIDs are nodes
	// that may not come back under their old identity.
	state        *stateStore
	recoverUntil time.Time
	unclaimed    map[ids.ID][]*nodeState
	deadIDs      map[ids.ID]bool
	packages     *runtimeenv.Store
	submitted    map[ids.ID]*submittedJob
	logs         logWaits // NodeLogs calls waiting for their nodes
	pins         map[ids.ID]*pin
	requested    []scheduler.Resources
	events       []string
	counts       counters
	tally        taskTally // tasks in flight by function, job and state
	objectBytes  int64     // the sizes of the directory's objects, summed
	closed       bool
}

type counters struct {
	submitted, finished, failed, retried, stale, rebuilt, actorRestarts int64
	waitingArgs, ready, assigned                                        int64
	// refused counts work refused at a session's cap (pending.go).
	refused int64
}

// New returns a head that is not yet serving; call Serve or Connect*.
func New(cfg Config) *Head {
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Head{
		cfg:         cfg,
		log:         cfg.Logger.With("component", "head"),
		gen:         ids.NewGenerator(),
		ctx:         ctx,
		cancel:      cancel,
		nodes:       make(map[ids.ID]*nodeState),
		sessions:    make(map[*session]struct{}),
		jobs:        make(map[ids.ID]*job),
		objects:     make(map[ids.ID]*object),
		classes:     make(map[classKey]*class),
		durations:   make(map[string]*meanDuration),
		actors:      make(map[ids.ID]*actor),
		leases:      make(map[ids.ID]*lease),
		actorNames:  make(map[string]*actor),
		submitted:   make(map[ids.ID]*submittedJob),
		pins:        make(map[ids.ID]*pin),
		eventCounts: map[string]int64{},
		timings:     &headTimings{},
	}
	h.wg.Add(1)
	go h.monitorHeartbeats()
	return h
}

// Open returns a head whose metadata lives in cfg.StateDir: a head started
// again on the same directory keeps the cluster token, knows the jobs and
// the dead nodes, and gives the members a recovery window to come back.
// With no StateDir it is New.
func Open(cfg Config) (*Head, error) {
	if cfg.StateDir == "" {
		if cfg.Token == "" {
			cfg.Token = rpc.NewToken()
		}
		h := New(cfg)
		if err := h.openPackages(cfg.PackageDir); err != nil {
			h.Close()
			return nil, err
		}
		return h, nil
	}
	st, err := openState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	stored, err := st.token()
	if err != nil {
		st.close()
		return nil, fmt.Errorf("reading the stored token: %w", err)
	}
	restart := stored != ""
	switch {
	case cfg.Token == "" && restart:
		cfg.Token = stored
	case cfg.Token == "":
		cfg.Token = rpc.NewToken()
	}
	if err := st.setToken(cfg.Token); err != nil {
		st.close()
		return nil, fmt.Errorf("storing the token: %w", err)
	}
	jobs, err := st.jobs()
	if err != nil {
		st.close()
		return nil, err
	}
	dead, err := st.deadNodes()
	if err != nil {
		st.close()
		return nil, err
	}
	h := New(cfg)
	pkgDir := cfg.PackageDir
	if pkgDir == "" {
		pkgDir = filepath.Join(cfg.StateDir, "packages")
	}
	if err := h.openPackages(pkgDir); err != nil {
		st.close()
		h.Close()
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state, h.deadIDs = st, dead
	if restart {
		window := cfg.RecoveryWindow
		if window <= 0 {
			window = 30 * time.Second
		}
		h.recoverUntil = time.Now().Add(window)
		h.unclaimed = map[ids.ID][]*nodeState{}
		for _, info := range jobs {
			id, err := ids.FromBytes("stored job id", info.JobId)
			if err != nil {
				continue
			}
			h.jobs[id] = &job{id: id, info: info}
		}
		h.log.Info("head restarted on its state", "dir", cfg.StateDir, "jobs", len(jobs), "recovery_window", window)
	}
	return h, nil
}

// Config returns the head's configuration with defaults filled in.
func (h *Head) Config() Config {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg
}

// Serve serves gRPC on ln until Close.
func (h *Head) Serve(ln net.Listener) error {
	opts, err := rpc.ServerOptions(h.cfg.Token, rpc.HeadAccess, h.cfg.MaxMessageBytes, h.cfg.TLS)
	if err != nil {
		return err
	}
	adapter := grpcAdapter{h: h}
	if h.cfg.TLS.CertFile != "" {
		if adapter.peerCA, err = peerauth.LoadClusterCA(h.cfg.TLS.CertFile, h.cfg.TLS.KeyFile); err != nil {
			return err
		}
	}
	srv := grpc.NewServer(append(opts, grpc.ChainUnaryInterceptor(h.rpcTimings.observe))...)
	pb.RegisterHeadServer(srv, adapter)
	if h.packages != nil {
		envpb.RegisterPackagesServer(srv, packageGate{runtimeenv.NewServer(h.packages, h.log), h})
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return fmt.Errorf("head is closed")
	}
	h.grpcServer, h.listener = srv, ln
	h.mu.Unlock()
	h.serveLocalSessions(ln.Addr().String())
	// (5,000 idle connections were all accepted and kept: now they wait
	// in the kernel's queue past the cap, and idle ones close after 5 min.)
	return srv.Serve(netutil.LimitListener(ln, h.cfg.MaxConnections))
}

// Close stops serving, ends every session and waits for the head's
// goroutines.
func (h *Head) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	srv := h.grpcServer
	for s := range h.sessions {
		s.kill()
	}
	for _, n := range h.nodes {
		if n.kill != nil {
			n.kill()
		}
	}
	h.mu.Unlock()
	h.cancel()
	h.local.close()
	if srv != nil {
		srv.Stop()
	}
	h.wg.Wait()
	if h.state != nil {
		h.state.close()
	}
	if h.packages != nil {
		h.packages.Close()
	}
}

func (h *Head) openPackages(dir string) error {
	if dir == "" {
		return nil
	}
	st, err := runtimeenv.OpenStore(dir, runtimeenv.StoreOptions{Limit: h.cfg.PackageLimit, Logger: h.log})
	if err != nil {
		return err
	}
	h.packages = st
	return nil
}

// ConnectSession opens an in-process session stream, as a driver in the
// same process uses it: no serialization, same protocol.
func (h *Head) ConnectSession(ctx context.Context) rpc.ClientStream[pb.ClientMessage, pb.HeadMessage] {
	return connectPipe(h, ctx, h.serveSession)
}

// ConnectNode opens an in-process node stream for an embedded node.
func (h *Head) ConnectNode(ctx context.Context) rpc.ClientStream[pb.NodeMessage, pb.HeadToNode] {
	return connectPipe(h, ctx, h.serveNode)
}

func connectPipe[Req, Resp any](h *Head, ctx context.Context, serve func(rpc.ServerStream[Req, Resp]) error) rpc.ClientStream[Req, Resp] {
	p := rpc.NewPipe[Req, Resp](ctx)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		p.Finish(serve(p.Server()))
	}()
	return p.Client()
}

type grpcAdapter struct {
	pb.UnimplementedHeadServer
	h *Head
	// peerCA signs peer certificates when the cluster uses TLS (nil: it
	// does not).
	peerCA *peerauth.ClusterCA
}

func (a grpcAdapter) IssueCertificate(ctx context.Context, req *pb.IssueCertificateRequest) (*pb.IssueCertificateReply, error) {
	if a.peerCA == nil {
		return nil, grpcstatus.Error(codes.FailedPrecondition, "this cluster does not use TLS: its data plane and direct calls need no certificates (start the head with --tls-cert and --tls-key for TLS)")
	}
	reply, err := a.peerCA.IssueCertificate(ctx, req)
	if err != nil {
		return nil, grpcstatus.Error(codes.InvalidArgument, err.Error())
	}
	return reply, nil
}

func (a grpcAdapter) Session(s grpc.BidiStreamingServer[pb.ClientMessage, pb.HeadMessage]) error {
	return a.h.serveSession(s)
}

func (a grpcAdapter) NodeSession(s grpc.BidiStreamingServer[pb.NodeMessage, pb.HeadToNode]) error {
	return a.h.serveNode(s)
}

func (a grpcAdapter) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusReply, error) {
	return a.h.Status(), nil
}

func (a grpcAdapter) GetActor(ctx context.Context, req *pb.GetActorRequest) (*pb.GetActorReply, error) {
	return a.h.GetActor(req), nil
}

func (a grpcAdapter) Drain(ctx context.Context, req *pb.DrainRequest) (*pb.DrainReply, error) {
	id, err := ids.FromBytes("node id", req.NodeId)
	if err != nil {
		return nil, errs.ToStatus(fmt.Errorf("%w: %v", errs.ErrMalformed, err))
	}
	rep, err := a.h.Drain(ctx, id, time.Duration(req.DeadlineMs)*time.Millisecond)
	if err != nil {
		return nil, errs.ToStatus(err)
	}
	return rep, nil
}

func (a grpcAdapter) RequestResources(_ context.Context, req *pb.RequestResourcesRequest) (*pb.RequestResourcesReply, error) {
	a.h.RequestResources(req.Bundles)
	return &pb.RequestResourcesReply{}, nil
}

func (a grpcAdapter) ObjectInfo(_ context.Context, req *pb.ObjectInfoRequest) (*pb.ObjectStatus, error) {
	id, err := ids.FromBytes("object id", req.Id)
	if err != nil {
		return nil, errs.ToStatus(fmt.Errorf("%w: %v", errs.ErrMalformed, err))
	}
	return a.h.ObjectInfo(id), nil
}

func (a grpcAdapter) ExecutorExit(ctx context.Context, req *pb.ExecutorExitRequest) (*pb.ExecutorExitReply, error) {
	node, err := ids.FromBytes("node id", req.NodeId)
	if err != nil {
		return nil, errs.ToStatus(fmt.Errorf("%w: %v", errs.ErrMalformed, err))
	}
	return &pb.ExecutorExitReply{Cause: a.h.ExecutorExit(ctx, node, req.Pid)}, nil
}

func (a grpcAdapter) SubmitJob(_ context.Context, req *pb.SubmitJobRequest) (*pb.SubmittedJob, error) {
	j, err := a.h.SubmitJob(req)
	return j, errs.ToStatus(err)
}

func (a grpcAdapter) GetJob(ctx context.Context, req *pb.GetJobRequest) (*pb.SubmittedJob, error) {
	if err := a.h.checkJob(ctx, "reading", req.JobId); err != nil {
		return nil, errs.ToStatus(err)
	}
	j, err := a.h.GetJob(req)
	return j, errs.ToStatus(err)
}

func (a grpcAdapter) ListJobs(ctx context.Context, _ *pb.ListJobsRequest) (*pb.ListJobsReply, error) {
	return a.h.ownJobs(ctx, a.h.ListJobs()), nil
}

func (a grpcAdapter) StopJob(ctx context.Context, req *pb.GetJobRequest) (*pb.SubmittedJob, error) {
	if err := a.h.checkJob(ctx, "stopping", req.JobId); err != nil {
		return nil, errs.ToStatus(err)
	}
	j, err := a.h.StopJob(req)
	return j, errs.ToStatus(err)
}

func (a grpcAdapter) JobLogs(req *pb.JobLogsRequest, s grpc.ServerStreamingServer[pb.LogLines]) error {
	if err := a.h.checkJob(s.Context(), "reading the output of", req.JobId); err != nil {
		return errs.ToStatus(err)
	}
	return errs.ToStatus(a.h.JobLogs(s.Context(), req, s.Send))
}

func (a grpcAdapter) NodeLogs(ctx context.Context, req *pb.NodeLogsRequest) (*pb.NodeLogsReply, error) {
	r, err := a.h.NodeLogs(ctx, req)
	return r, errs.ToStatus(err)
}

func (a grpcAdapter) Timeline(_ context.Context, req *pb.TimelineRequest) (*pb.TimelineReply, error) {
	return a.h.Timeline(time.Duration(req.SinceMs) * time.Millisecond), nil
}

func (a grpcAdapter) Locate(ctx context.Context, req *pb.LocateRequest) (*pb.LocateReply, error) {
	return a.h.Locate(req), nil
}

// meanDuration is an exponentially weighted mean of a function's run time.
type meanDuration struct {
	mean time.Duration
	n    int
}

// under reports whether runs were seen and their mean is under limit.
func (m *meanDuration) under(limit time.Duration) bool {
	return m != nil && m.n > 0 && m.mean < limit
}

func (m *meanDuration) add(d time.Duration) {
	if m.n == 0 {
		m.mean = d
	} else {
		m.mean += (d - m.mean) / 5
	}
	m.n++
}
