package head

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
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
	// TLS enables TLS on the gRPC listener.
	TLS    rpc.TLSConfig
	Logger *slog.Logger
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

	mu         sync.Mutex
	nodes      map[ids.ID]*nodeState
	alive      []*nodeState // live nodes; alive[i].idx == i
	view       []scheduler.Node
	sessions   map[*session]struct{}
	jobs       map[ids.ID]*job
	tasks      map[ids.ID]*task
	objects    map[ids.ID]*object
	classes    map[classKey]*class
	active     []*class // classes with queued tasks
	infeasible int
	durations  map[string]*meanDuration
	actors     map[ids.ID]*actor
	actorNames map[string]*actor
	counts     counters
	closed     bool
}

type counters struct {
	submitted, finished, failed, retried, stale, rebuilt, actorRestarts int64
	waitingArgs, ready, assigned                                        int64
}

// New returns a head that is not yet serving; call Serve or Connect*.
func New(cfg Config) *Head {
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Head{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "head"),
		gen:        ids.NewGenerator(),
		ctx:        ctx,
		cancel:     cancel,
		nodes:      make(map[ids.ID]*nodeState),
		sessions:   make(map[*session]struct{}),
		jobs:       make(map[ids.ID]*job),
		objects:    make(map[ids.ID]*object),
		classes:    make(map[classKey]*class),
		durations:  make(map[string]*meanDuration),
		actors:     make(map[ids.ID]*actor),
		actorNames: make(map[string]*actor),
	}
	h.wg.Add(1)
	go h.monitorHeartbeats()
	return h
}

// Config returns the head's configuration with defaults filled in.
func (h *Head) Config() Config { return h.cfg }

// Serve serves gRPC on ln until Close.
func (h *Head) Serve(ln net.Listener) error {
	opts, err := rpc.ServerOptions(h.cfg.Token, h.cfg.MaxMessageBytes, h.cfg.TLS)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterHeadServer(srv, grpcAdapter{h: h})
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return fmt.Errorf("head is closed")
	}
	h.grpcServer, h.listener = srv, ln
	h.mu.Unlock()
	return srv.Serve(ln)
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
	if srv != nil {
		srv.Stop()
	}
	h.wg.Wait()
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

func (a grpcAdapter) Locate(ctx context.Context, req *pb.LocateRequest) (*pb.LocateReply, error) {
	return a.h.Locate(req), nil
}

// meanDuration is an exponentially weighted mean of a function's run time.
type meanDuration struct {
	mean time.Duration
	n    int
}

func (m *meanDuration) add(d time.Duration) {
	if m.n == 0 {
		m.mean = d
	} else {
		m.mean += (d - m.mean) / 5
	}
	m.n++
}
