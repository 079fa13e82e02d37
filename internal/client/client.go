// Package client is the runtime side of a driver or an executor: its
// session with the head, the objects it owns (submitted tasks' results and
// Puts) and how their bytes are fetched. The public shoal package and the
// executor runtime are both built on it.
//
//	client.go       Client: configuration, submission (the route is chosen
//	                there, once), the head's messages
//	session.go      the head stream: handshake, serve, reconnect, replay
//	ref.go          Ref: an owned object (readiness, value, holders,
//	                release, replay)
//	route.go        the route interface, headRoute, and what work on a
//	                direct route knows of its delivery
//	actor_route.go  direct actor calls, a link per actor
//	lease_route.go  tasks on worker leases
//	conns.go        the direct routes' streams to executors
//	objects.go      Put, reads and fetches
//	scope.go        the task scope (children cancelled with their task)
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/mapcompact"
	"github.com/shoal-dev/shoal/internal/objstore"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/transfer"
)

// HeadAPI is the head's unary API.
type HeadAPI interface {
	Status(ctx context.Context) (*pb.StatusReply, error)
	Locate(ctx context.Context, req *pb.LocateRequest) (*pb.LocateReply, error)
	GetActor(ctx context.Context, req *pb.GetActorRequest) (*pb.GetActorReply, error)
	Drain(ctx context.Context, req *pb.DrainRequest) (*pb.DrainReply, error)
	ObjectInfo(ctx context.Context, req *pb.ObjectInfoRequest) (*pb.ObjectStatus, error)
	RequestResources(ctx context.Context, req *pb.RequestResourcesRequest) error
	ExecutorExit(ctx context.Context, req *pb.ExecutorExitRequest) (*pb.ExecutorExitReply, error)
}

// Config configures a client.
type Config struct {
	Hello *pb.Hello
	// Connect opens the session stream (in process, or over gRPC).
	Connect func(ctx context.Context) (rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], error)
	Head    HeadAPI
	Token   string
	// Peers is this process's peer identity when the cluster uses TLS: the
	// data plane and direct calls are TLS with it (nil: plaintext).
	Peers *peerauth.Identity
	// PutNode and PutAddr name the node that stores large Puts and
	// results; empty means ask the head (Locate) on first use.
	PutNode ids.ID
	PutAddr string
	// Reconnect is how long the client tries to rejoin the head after its
	// session is lost (a head restart); 0 fails at once.
	Reconnect time.Duration
	// LocalStores are the object stores of nodes in this process (an
	// embedded cluster), keyed by node: Puts to them and Gets from them copy
	// memory instead of crossing a socket.
	LocalStores map[ids.ID]LocalStore
	// Shared, for an executor, reads the objects of its node (SharedNode)
	// in place, in the node's shared memory (internal/localstore).
	Shared     SharedStore
	SharedNode ids.ID
	// OnRun and OnCancel receive an executor's work; nil for drivers.
	OnRun       func(*pb.RunTask)
	OnCancel    func(task ids.ID)
	OnKillActor func(actor ids.ID)
	// OnBlock is told when a task of this executor blocks in Get and when it
	// resumes.
	OnBlock func(task ids.ID, blocked bool)
	// DirectCalls lets actor calls go straight to their actor's executor
	// when the head says it may be reached (see actor_route.go).
	DirectCalls bool
	// MaxPendingTasks bounds the tasks, actor creations and calls this
	// client submitted that have not finished: submitting more waits
	// (pending.go). 0: $SHOAL_MAX_PENDING_TASKS, else
	// DefaultMaxPendingTasks; never above the head's cap.
	MaxPendingTasks int
	// WelcomeTimeout bounds the wait for the head's welcome.
	WelcomeTimeout time.Duration
	Logger         *slog.Logger
}

// SharedStore reads the objects of a node on this machine in place: ok is
// false when the object is not in its shared memory.
type SharedStore interface {
	Acquire(id ids.ID) (data []byte, release func(), ok bool, err error)
	// Put has the node copy an object from this process's memory into
	// its store; ok is false when it did not (send it another way).
	Put(id ids.ID, parts [][]byte) (ok bool, err error)
}

// LocalStore is a node's object store in this process: objects are
// written straight into its memory and read from it without a copy.
type LocalStore interface {
	Reserve(id ids.ID, n int64) (*objstore.Reservation, error)
	Acquire(id ids.ID) (data []byte, release func(), err error)
	AcquireRange(id ids.ID, off, n int64) (data []byte, size int64, release func(), err error)
}

// Client is a live session with the head.
type Client struct {
	cfg     Config
	gen     *ids.Generator
	session *headSession
	data    *transfer.Client
	welcome *pb.Welcome
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	refs       map[ids.ID]*Ref
	refDeletes mapcompact.Tracker // refs' deletions (mapcompact)
	err        error              // why the session ended
	putNode    ids.ID
	putAddr    string

	// The routes work takes (route.go), and the direct routes' streams to
	// executors.
	viaHead headRoute
	actors  *actorRoute
	leases  *leaseRoute
	conns   *directConns
	// made counts the references this client made or borrowed (Made).
	made atomic.Int64
	// pending bounds the work submitted and not finished; orphans are the
	// references released before their work finished, which keep their
	// slots until it did (pending.go). orphans is guarded by mu.
	pending *pendingBound
	orphans map[ids.ID]*Ref
}

// Connect opens a session and waits for the head's welcome.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WelcomeTimeout <= 0 {
		cfg.WelcomeTimeout = 30 * time.Second
	}
	limit, err := pendingLimit(cfg.MaxPendingTasks)
	if err != nil {
		return nil, err
	}
	stream, m, err := handshake(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg: cfg, gen: ids.NewGenerator(), data: transfer.NewClient(cfg.Token, cfg.Peers), welcome: m.Welcome,
		log: cfg.Logger, ctx: cctx, cancel: cancel,
		refs: make(map[ids.ID]*Ref), putNode: cfg.PutNode, putAddr: cfg.PutAddr,
		pending: newPendingBound(limit, m.Welcome.MaxPendingTasks), orphans: make(map[ids.ID]*Ref),
	}
	c.viaHead = headRoute{c}
	c.actors = &actorRoute{c: c, links: make(map[ids.ID]*actorLink)}
	c.leases = &leaseRoute{c: c, pools: make(map[int64]*taskPool), asks: make(map[ids.ID]leaseAsk), runTimes: make(map[string]*runStat)}
	c.conns = &directConns{c: c, conns: make(map[string]*directConn)}
	c.session = &headSession{cfg: &c.cfg, log: c.log, ctx: cctx, maxMsg: maxMessageBytes(m.Welcome),
		receive: c.handle, rejoined: c.rejoined, ended: c.fail, done: make(chan struct{})}
	c.session.out = c.session.newOutbox()
	c.handle(m)
	go c.session.run(stream)
	return c, nil
}

// Made counts the references this client has made or borrowed, for an
// executor to know when tasks may have left some for the garbage collector
// to let go.
func (c *Client) Made() int64 { return c.made.Load() }

// Welcome returns the head's welcome message.
func (c *Client) Welcome() *pb.Welcome { return c.welcome }

// InlineLimit is the largest value sent inline.
func (c *Client) InlineLimit() int64 { return c.welcome.InlineLimit }

// Head returns the head's unary API.
func (c *Client) Head() HeadAPI { return c.cfg.Head }

// NewID returns a fresh ID from this client's generator.
func (c *Client) NewID() ids.ID { return c.gen.Next() }

// Close ends the session. References held by it are released by the head.
func (c *Client) Close() {
	c.cancel()
	<-c.session.done
	c.data.Close()
}

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.session.done }

// Err returns why the session ended, or nil while it is live.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) fail(err error) {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		err = errs.ErrClosed
	} else {
		err = fmt.Errorf("%w: the session with the head ended: %w", errs.ErrClosed, errs.FromStatus(err))
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		c.session.fail(err)
	}
	refs := c.refs
	c.refs = map[ids.ID]*Ref{}
	err = c.err
	c.mu.Unlock()
	for _, r := range refs {
		r.finish(nil, 0, nil, err)
	}
	c.settleOrphans()
}

func (c *Client) handle(m *pb.HeadMessage) {
	for _, st := range m.Objects {
		id, err := ids.FromBytes("object id", st.Id)
		if err != nil {
			continue
		}
		c.mu.Lock()
		r := c.refs[id]
		c.mu.Unlock()
		if r == nil {
			c.releasedDone(id) // (its work ended before the head heard of the release)
			continue
		}
		switch st.State {
		case pb.ObjectState_OBJECT_STATE_READY:
			if st.Actor != nil {
				r.mu.Lock()
				if !r.killed {
					r.actor = st.Actor
				}
				r.mu.Unlock()
			}
			r.finish(st.Value, st.Size, LocationsFromPB(st.Locations), nil)
		case pb.ObjectState_OBJECT_STATE_REBUILDING:
			r.copiesLost()
		default:
			r.finish(nil, 0, nil, errs.FromInfo(st.Error))
		}
	}
	for _, b := range m.ReleasedDone {
		if id, err := ids.FromBytes("object id", b); err == nil {
			c.releasedDone(id)
		}
	}
	if len(m.Leases) > 0 {
		c.leases.granted(m.Leases)
	}
	for _, w := range m.Warnings {
		c.log.Warn("shoal: " + w)
	}
	if len(m.Run) > 0 && c.cfg.OnRun != nil {
		for _, rt := range m.Run {
			c.cfg.OnRun(rt)
		}
	}
	if len(m.KillActors) > 0 && c.cfg.OnKillActor != nil {
		for _, b := range m.KillActors {
			if id, err := ids.FromBytes("actor id", b); err == nil {
				c.cfg.OnKillActor(id)
			}
		}
	}
	if len(m.Cancel) > 0 && c.cfg.OnCancel != nil {
		for _, b := range m.Cancel {
			if id, err := ids.FromBytes("task id", b); err == nil {
				c.cfg.OnCancel(id)
			}
		}
	}
}

// track records r as owned by this client, with one holder (two if the
// client holds r itself: r.selfHold), and holds the references that
// args name until r is finished.
func (c *Client) track(r *Ref, args []*pb.Arg) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	r.holders = 1
	if r.selfHold {
		r.holders++
	}
	c.refs[r.ID] = r
	c.made.Add(1)
	for _, a := range args {
		if a.Object != nil {
			r.argHolds = c.holdLocked(r.argHolds, a.Object)
		}
		for _, b := range a.Nested {
			r.argHolds = c.holdLocked(r.argHolds, b)
		}
	}
	return nil
}

// holdLocked takes a share of this client's reference to the object
// named id, if it has one, and appends it to holds. Called with c.mu held.
func (c *Client) holdLocked(holds []*Ref, id []byte) []*Ref {
	if len(id) != len(ids.ID{}) {
		return holds
	}
	if a := c.refs[ids.ID(id)]; a != nil && !a.local && !a.released.Load() {
		a.holders++
		holds = append(holds, a)
	}
	return holds
}

// Borrow returns a reference to an object this client found inside a value
// it decoded. If the client already holds one, it is shared; otherwise the
// head is asked for a reference (and for the object's state).
func (c *Client) Borrow(id ids.ID) *Ref {
	c.mu.Lock()
	c.made.Add(1)
	if r := c.refs[id]; r != nil && !r.released.Load() {
		r.holders++
		c.mu.Unlock()
		return r
	}
	r := &Ref{ID: id, ready: make(chan struct{}), c: c, holders: 1, borrowed: true}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		r.local = true
		r.finish(nil, 0, nil, err)
		return r
	}
	c.refs[id] = r
	c.mu.Unlock()
	b := id.Bytes()
	if err := c.session.send(24, func(m *pb.ClientMessage) { m.Borrow = append(m.Borrow, b) }); err != nil {
		c.fail(err)
	}
	return r
}

// Submit sends a task and returns the reference to its result, once the
// client is below its bound on unfinished work (pending.go): while it is
// not, Submit waits, and returns a failed reference if ctx ends first.
// leaseOK allows a worker lease (lease_route.go): the caller knows the
// result can hold no futures or actor handles.
func (c *Client) Submit(ctx context.Context, spec *pb.TaskSpec, leaseOK bool) *Ref {
	sh, err := c.acquire(ctx, "task", spec.Function)
	if err != nil {
		return c.Failed(err)
	}
	id := c.gen.Next()
	spec.Id = id.Bytes()
	if leaseOK && c.cfg.DirectCalls && leaseEligible(spec) {
		return c.submit(id, spec, c.leases, &directed{}, sh)
	}
	return c.submit(id, spec, c.viaHead, nil, sh)
}

// directedRef is a reference with what its direct route knows, allocated
// together: a task run under a lease costs one allocation less.
type directedRef struct {
	Ref
	d directed
}

// CreateActor asks the head to create an actor; the returned reference
// becomes ready when its constructor has run. It waits at the bound as
// Submit does.
func (c *Client) CreateActor(ctx context.Context, spec *pb.ActorSpec) *Ref {
	sh, err := c.acquire(ctx, "actor", spec.Class)
	if err != nil {
		return c.Failed(err)
	}
	id := c.gen.Next()
	spec.Id = id.Bytes()
	return c.submit(id, spec, c.viaHead, nil, sh)
}

// submit tracks the reference to the result of spec (a task, actor or
// call whose ID is id, holding sh, its share of the bound), holding the
// references its arguments name until it finished, and sends spec by rt,
// its route from now on; d is what a direct route's work knows of its
// delivery.
func (c *Client) submit(id ids.ID, spec any, rt route, d *directed, sh share) *Ref {
	// The actor route keeps a share of its calls until they finished
	// (selfHold): its order across paths waits for that, and a head told
	// of a call's release would not say when it finishes.
	var r *Ref
	if d != nil {
		dr := &directedRef{d: *d}
		r = &dr.Ref
		r.d = &dr.d
	} else {
		r = &Ref{}
	}
	r.ID, r.Task, r.ready, r.c, r.spec, r.route, r.selfHold = id, true, make(chan struct{}), c, spec, rt, rt == route(c.actors)
	r.pass, r.scope = sh.pass, sh.scope
	r.slot.Store(true)
	if err := c.track(r, specArgs(spec)); err != nil {
		r.finish(nil, 0, nil, err)
		return r
	}
	rt.send(r)
	return r
}

// specArgs are the arguments of a task, actor or call spec.
func specArgs(spec any) []*pb.Arg {
	switch s := spec.(type) {
	case *pb.TaskSpec:
		return s.Args
	case *pb.ActorSpec:
		return s.Args
	case *pb.ActorCall:
		return s.Args
	}
	return nil
}

// SendSpans sends an executor's task spans (packed: rpc.AppendSpan) to
// the head (for the timeline), with how many it dropped, and how many runs
// that came without the head finished and failed (for its totals).
func (c *Client) SendSpans(packed []byte, dropped, offHeadFinished, offHeadFailed int64) error {
	return c.session.send(len(packed)+32, func(m *pb.ClientMessage) {
		m.SpansPacked = append(m.SpansPacked, packed...)
		m.SpansDropped += dropped
		m.OffHeadFinished += offHeadFinished
		m.OffHeadFailed += offHeadFailed
	})
}

// ReportQueryStage tells the head what a dataframe query's coordinator
// knows of one of its stages (for the dashboard and /metrics).
func (c *Client) ReportQueryStage(st *pb.QueryStage) error {
	return c.session.send(128+len(st.Query)+len(st.Error), func(m *pb.ClientMessage) { m.QueryStages = append(m.QueryStages, st) })
}

// Pin asks the head to keep nodes from being removed until Unpin, the ttl
// (0: none) or the end of this session.
func (c *Client) Pin(lease ids.ID, nodes []ids.ID, reason string, ttl time.Duration) error {
	p := &pb.PinRequest{LeaseId: lease.Bytes(), Reason: reason, TtlMs: ttl.Milliseconds()}
	for _, n := range nodes {
		p.NodeIds = append(p.NodeIds, n.Bytes())
	}
	return c.session.send(64+16*len(nodes)+len(reason), func(m *pb.ClientMessage) { m.Pins = append(m.Pins, p) })
}

// Unpin ends a pin.
func (c *Client) Unpin(lease ids.ID) error {
	b := lease.Bytes()
	return c.session.send(24, func(m *pb.ClientMessage) { m.Unpins = append(m.Unpins, b) })
}

// KillActor asks the head to kill an actor.
//
// This client's later calls to the actor go through the head, after the
// kill on the same stream, so that they fail: a direct call could reach the
// actor's executor before the head's word of the kill does.
func (c *Client) KillActor(id ids.ID) error {
	b := id.Bytes()
	return c.actors.kill(id, func() error {
		return c.session.send(24, func(m *pb.ClientMessage) { m.KillActors = append(m.KillActors, b) })
	})
}

// workSize is about how many bytes a task, actor creation or actor call
// adds to a message.
func workSize(spec any) int {
	switch s := spec.(type) {
	case *pb.TaskSpec:
		return 64 + len(s.Function) + argsSize(s.Args)
	case *pb.ActorSpec:
		return 64 + len(s.Class) + argsSize(s.Args)
	case *pb.ActorCall:
		return 64 + len(s.Method) + argsSize(s.Args)
	}
	return 64
}

func argsSize(args []*pb.Arg) int {
	n := 0
	for _, a := range args {
		n += len(a.Value) + 24
	}
	return n
}

// Failed returns a reference that is already failed with err, for errors
// found before anything was sent.
func (c *Client) Failed(err error) *Ref {
	r := &Ref{ID: c.gen.Next(), ready: make(chan struct{}), c: c, local: true}
	r.finish(nil, 0, nil, err)
	return r
}

// SendResults reports finished tasks (executors).
func (c *Client) SendResults(size int, rs ...*pb.TaskResult) {
	c.session.send(size, func(m *pb.ClientMessage) { m.Results = append(m.Results, rs...) })
}

// SendBlock reports a task blocked in Get or resumed (executors); lease
// names the worker lease it runs under, if any.
func (c *Client) SendBlock(task, lease ids.ID, blocked bool) {
	b := &pb.TaskBlock{TaskId: task.Bytes(), Blocked: blocked}
	if !lease.IsNil() {
		b.LeaseId = lease.Bytes()
	}
	c.session.send(24, func(m *pb.ClientMessage) { m.Blocks = append(m.Blocks, b) })
}

type clientKey struct{}

// NewContext returns ctx carrying c.
func NewContext(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// FromContext returns the client a context carries.
func FromContext(ctx context.Context) (*Client, bool) {
	c, ok := ctx.Value(clientKey{}).(*Client)
	return c, ok
}
