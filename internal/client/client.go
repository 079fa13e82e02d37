// Package client is the runtime side of a driver or an executor: its
// session with the head, the objects it owns (submitted tasks' results and
// Puts) and how their bytes are fetched. The public shoal package and the
// executor runtime are both built on it.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-dev/shoal/internal/bigbuf"
	"github.com/shoal-dev/shoal/internal/codec"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
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
	// when the head says it may be reached (see direct.go).
	DirectCalls bool
	// WelcomeTimeout bounds the wait for the head's welcome.
	WelcomeTimeout time.Duration
	Logger         *slog.Logger
}

// SharedStore reads the objects of a node on this machine in place: ok is
// false when the object is not in its shared memory.
type SharedStore interface {
	Acquire(id ids.ID) (data []byte, release func(), ok bool, err error)
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
	out     *rpc.Outbox[pb.ClientMessage]
	data    *transfer.Client
	welcome *pb.Welcome
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	refs    map[ids.ID]*Ref
	err     error // why the session ended
	putNode ids.ID
	putAddr string

	// Direct actor calls (direct.go). Lock order: dmu, then a Ref's mu,
	// then mu.
	dmu        sync.Mutex
	routes     map[ids.ID]*actorRoute
	conns      map[string]*directConn
	pools      map[int64]*taskPool // by CPU amount
	leaseAsks  map[ids.ID]leaseAsk // lease requests at the head
	runTimes   map[string]*runStat // leased tasks' run times, by function
	directSent atomic.Int64
	// made counts the references this client made or borrowed (Made).
	made atomic.Int64
}

// Ref is the client's record of an object it owns.
type Ref struct {
	ID    ids.ID
	Task  bool // the result of a task (so it can be cancelled)
	ready chan struct{}
	// done is set just before ready closes: a cheaper check than a
	// receive on ready, made once per child of a task and per Wait.
	done atomic.Bool

	// Set once before ready closes; value may be filled later by a fetch.
	mu       sync.Mutex
	value    []byte
	size     int64
	locs     []transfer.Location
	err      error
	released atomic.Bool
	local    bool // never sent to the head (failed before sending)
	// updated, made by a reader that waits for news of the object, is
	// closed (and cleared) when a later status arrives, e.g. new locations
	// after it was rebuilt. Guarded by mu.
	updated chan struct{}
	// holders counts the handles (futures) sharing this reference; the
	// head's reference goes when the last lets go. Guarded by c.mu.
	holders int32
	// What a restarted head must be told (see replay): the spec that made
	// the object (a *pb.TaskSpec, *pb.ActorSpec or *pb.ActorCall), whether
	// it is borrowed, and the objects nested in a Put's value.
	spec     any
	borrowed bool
	nested   [][]byte
	onReady  []func()
	c        *Client
	// argHolds are shares of the references that a task's or call's
	// arguments name (object arguments, and futures and actor handles
	// inside values) that this client keeps until the work has finished:
	// the head must see the work before any release of them, also when it
	// waits in a route's queue or is replayed to a restarted head.
	// selfHold: the client keeps a share of r itself until r is finished
	// (a routed actor call: its route must hear when it finishes, and a
	// head that saw r released would not say). Both guarded by mu.
	argHolds []*Ref
	selfHold bool
	// view lets go of value when it is a view of a store's memory (nil
	// otherwise): on release. Guarded by mu.
	view func()

	// Direct actor calls (direct.go). route and wantDirect are set before
	// the reference is shared; the rest is guarded by mu.
	route        *actorRoute
	pool         *taskPool
	wantDirect   bool
	path         uint8 // pathNone, pathHead or pathDirect
	exported     bool  // the head was told of it (or must be, once sent)
	headReleased bool  // the head was told of its release
	cancelReq    bool  // cancelled before it was sent
	// place is where a direct call's stored result is (its executor's
	// node); lease and conn are a direct task's lease and a direct call's
	// or task's connection (conn and lease guarded by Client.dmu).
	place *pb.Location
	lease *taskLease
	conn  *directConn
	// actor is set on an actor's object: how to reach it directly (never
	// once this client killed the actor).
	actor  *pb.ActorRoute
	killed bool
}

// OnReady runs f once r is ready (at once if it is), on the goroutine that
// receives the readiness: f must be quick and must not block.
func (r *Ref) OnReady(f func()) {
	r.mu.Lock()
	if !r.IsReady() {
		r.onReady = append(r.onReady, f)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	f()
}

// Ready is closed when the object is ready or failed.
func (r *Ref) Ready() <-chan struct{} { return r.ready }

// IsReady reports whether the object is ready or failed.
func (r *Ref) IsReady() bool { return r.done.Load() }

// Connect opens a session and waits for the head's welcome.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WelcomeTimeout <= 0 {
		cfg.WelcomeTimeout = 30 * time.Second
	}
	stream, m, err := handshake(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg: cfg, gen: ids.NewGenerator(), data: transfer.NewClient(cfg.Token, cfg.Peers), welcome: m.Welcome,
		log: cfg.Logger, ctx: cctx, cancel: cancel, done: make(chan struct{}),
		refs: make(map[ids.ID]*Ref), putNode: cfg.PutNode, putAddr: cfg.PutAddr,
		routes: make(map[ids.ID]*actorRoute), conns: make(map[string]*directConn),
		pools: make(map[int64]*taskPool), leaseAsks: make(map[ids.ID]leaseAsk), runTimes: make(map[string]*runStat),
	}
	c.out = c.newOutbox()
	c.handle(m)
	go c.run(stream)
	return c, nil
}

// handshake opens a session stream, says hello and waits for the welcome.
func handshake(ctx context.Context, cfg Config) (rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], *pb.HeadMessage, error) {
	stream, err := cfg.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := stream.Send(&pb.ClientMessage{Hello: cfg.Hello}); err != nil {
		if errors.Is(err, io.EOF) {
			// The head ended the stream (a refused token, say): its reason
			// comes with the next Recv.
			if _, rerr := stream.Recv(); rerr != nil && !errors.Is(rerr, io.EOF) {
				err = rerr
			}
		}
		return nil, nil, fmt.Errorf("joining the cluster: %w", errs.FromStatus(err))
	}
	type recv struct {
		m   *pb.HeadMessage
		err error
	}
	first := make(chan recv, 1)
	go func() {
		m, err := stream.Recv()
		first <- recv{m, err}
	}()
	var m *pb.HeadMessage
	select {
	case r := <-first:
		if r.err != nil {
			stream.CloseSend()
			return nil, nil, fmt.Errorf("joining the cluster: %w", errs.FromStatus(r.err))
		}
		m = r.m
	case <-time.After(cfg.WelcomeTimeout):
		stream.CloseSend()
		return nil, nil, fmt.Errorf("%w: the head did not answer within %v", errs.ErrHeadUnreachable, cfg.WelcomeTimeout)
	}
	if m.Welcome == nil {
		stream.CloseSend()
		return nil, nil, fmt.Errorf("%w: the head's first message was not a welcome", errs.ErrMalformed)
	}
	return stream, m, nil
}

// send queues an item for the head. While the client is reconnecting the
// item may go nowhere: what it says is replayed from the client's
// references once the session is back.
func (c *Client) send(size int, fill func(*pb.ClientMessage)) error {
	c.mu.Lock()
	out, failed := c.out, c.err
	c.mu.Unlock()
	if failed != nil {
		return failed
	}
	if err := out.Add(size, fill); err != nil && c.cfg.Reconnect <= 0 {
		return err
	}
	return nil
}

func (c *Client) newOutbox() *rpc.Outbox[pb.ClientMessage] {
	return rpc.NewOutbox(c.maxMessage()/2, func() *pb.ClientMessage { return &pb.ClientMessage{} })
}

// maxMessage is the largest message the cluster's streams carry.
func (c *Client) maxMessage() int {
	if n := int(c.welcome.MaxMessageBytes); n > 0 {
		return n
	}
	return rpc.DefaultMaxMessageBytes
}

// run serves sessions until the client is closed or gives up: when a
// session breaks and reconnection is allowed (Config.Reconnect), it joins
// the head again and replays what the head must know.
func (c *Client) run(stream rpc.ClientStream[pb.ClientMessage, pb.HeadMessage]) {
	defer close(c.done)
	for {
		err := c.serve(stream)
		if c.ctx.Err() != nil {
			c.fail(nil)
			return
		}
		if c.cfg.Reconnect <= 0 {
			c.fail(err)
			return
		}
		if stream = c.reconnect(err); stream == nil {
			return
		}
	}
}

// serve runs one session: a sender for the outbox and a receiver, until the
// stream fails or the client is closed.
func (c *Client) serve(stream rpc.ClientStream[pb.ClientMessage, pb.HeadMessage]) error {
	c.mu.Lock()
	out := c.out
	c.mu.Unlock()
	sctx, stopSending := context.WithCancel(c.ctx)
	sendErr := make(chan error, 1)
	go func() { sendErr <- out.Run(sctx, stream.Send) }()
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			c.handle(m)
		}
	}()
	var err error
	select {
	case err = <-recvErr:
		stopSending()
		<-sendErr
		stream.CloseSend()
	case err = <-sendErr:
		stopSending()
		stream.CloseSend()
		<-recvErr
	case <-c.ctx.Done():
		stopSending()
		// The sender must stop before CloseSend: gRPC forbids the two at once.
		<-sendErr
		stream.CloseSend()
		<-recvErr
	}
	return err
}

// reconnect joins the head again after a lost session (a head restart),
// within Config.Reconnect, and queues the replay: the objects this client
// owns and has, and the tasks, actors and calls not finished yet, in the
// order they were made (so that references resolve). It returns nil when it
// gives up (the client is failed then).
func (c *Client) reconnect(cause error) rpc.ClientStream[pb.ClientMessage, pb.HeadMessage] {
	c.log.Warn("lost the session with the head; reconnecting", "error", cause, "for", c.cfg.Reconnect)
	deadline := time.Now().Add(c.cfg.Reconnect)
	backoff := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		stream, m, err := handshake(ctx, c.cfg)
		cancel()
		if err == nil {
			out := c.newOutbox()
			c.mu.Lock()
			c.out = out
			refs := make([]*Ref, 0, len(c.refs))
			for _, r := range c.refs {
				refs = append(refs, r)
			}
			c.mu.Unlock()
			replay := c.replayItems(refs)
			for _, r := range replay {
				out.Add(r.size, r.fill)
			}
			c.handle(m)
			c.resetLeases()
			c.log.Info("rejoined the head", "replayed", len(replay))
			return stream
		}
		if c.ctx.Err() != nil || time.Now().After(deadline) || errors.Is(err, errs.ErrUnauthenticated) {
			c.fail(fmt.Errorf("could not rejoin the head within %v: %w (the session was lost: %v)", c.cfg.Reconnect, err, cause))
			return nil
		}
		select {
		case <-time.After(backoff):
		case <-c.ctx.Done():
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

type replayItem struct {
	id   ids.ID
	size int
	fill func(m *pb.ClientMessage)
}

// replayItems lists what a restarted head must hear from this client of
// refs.
func (c *Client) replayItems(refs []*Ref) []replayItem {
	var items []replayItem
	for _, r := range refs {
		if r.local || r.released.Load() {
			continue
		}
		if it, ok := r.replay(); ok {
			items = append(items, it)
		}
	}
	// Borrowed objects come from other clients (another ID prefix): first.
	// The rest in creation order, so an item only names earlier ones.
	slices.SortFunc(items, func(a, b replayItem) int {
		prefix := c.gen.Prefix()
		ab, bb := [8]byte(a.id[:8]) != prefix, [8]byte(b.id[:8]) != prefix
		if ab != bb {
			if ab {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	return items
}

// replay is what the head must be told about r after a restart.
func (r *Ref) replay() (replayItem, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it := replayItem{id: r.ID, size: 64}
	id := r.ID.Bytes()
	switch spec := r.spec.(type) {
	case *pb.ActorSpec:
		// The actor's executor went with the old head's sessions: it is
		// created again (its state starts over).
		it.fill = func(m *pb.ClientMessage) { m.CreateActors = append(m.CreateActors, spec) }
		return it, true
	}
	if r.borrowed {
		it.fill = func(m *pb.ClientMessage) { m.Borrow = append(m.Borrow, id) }
		return it, true
	}
	ready := r.IsReady()
	if r.routed() && (r.path == pathNone || r.path == pathDirect && !(r.exported && ready)) {
		// Not sent yet (it will be, to the new head), or a direct call the
		// head never heard of.
		return it, false
	}
	switch spec := r.spec.(type) {
	case *pb.TaskSpec:
		if !ready {
			it.fill = func(m *pb.ClientMessage) { m.Submit = append(m.Submit, spec) }
			return it, true
		}
	case *pb.ActorCall:
		if !ready {
			it.fill = func(m *pb.ClientMessage) { m.ActorCalls = append(m.ActorCalls, spec) }
			return it, true
		}
	}
	if !ready || r.err != nil {
		return it, false
	}
	p := &pb.PutObject{Id: id, Size: r.size, Nested: r.nested}
	switch {
	case r.value != nil && int64(len(r.value)) <= r.c.welcome.InlineLimit:
		p.Value = r.value
		it.size += len(r.value)
	case len(r.locs) > 0:
		p.NodeId = r.locs[0].Node.Bytes()
	default:
		return it, false
	}
	it.fill = func(m *pb.ClientMessage) { m.Put = append(m.Put, p) }
	return it, true
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
	<-c.done
	c.data.Close()
}

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

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
	}
	refs := c.refs
	c.refs = map[ids.ID]*Ref{}
	err = c.err
	c.mu.Unlock()
	for _, r := range refs {
		r.finish(nil, 0, nil, err)
	}
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
			locs := make([]transfer.Location, 0, len(st.Locations))
			for _, l := range st.Locations {
				n, _ := ids.FromBytes("node id", l.NodeId)
				locs = append(locs, transfer.Location{Node: n, Addr: l.DataAddr})
			}
			r.finish(st.Value, st.Size, locs, nil)
		default:
			r.finish(nil, 0, nil, errs.FromInfo(st.Error))
		}
	}
	if len(m.Leases) > 0 {
		c.onLeases(m.Leases)
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

// finish records an object's state. A second state (an object lost after
// it was ready) replaces the first unless the bytes are already here.
func (r *Ref) finish(value []byte, size int64, locs []transfer.Location, err error) {
	r.mu.Lock()
	after := r.finishLocked(value, size, locs, err)
	r.mu.Unlock()
	after.run()
}

// finishLocked is finish with r.mu held; it returns what to do once r.mu
// is released.
func (r *Ref) finishLocked(value []byte, size int64, locs []transfer.Location, err error) afterFinish {
	first := !r.IsReady()
	if first || r.value == nil {
		r.value, r.size, r.locs, r.err = value, size, locs, err
	}
	var after afterFinish
	if first {
		r.done.Store(true)
		close(r.ready)
		after.callbacks, r.onReady = r.onReady, nil
		after.holds, r.argHolds = r.argHolds, nil
		if r.selfHold {
			r.selfHold, after.self = false, r
		}
	}
	if r.updated != nil {
		close(r.updated)
		r.updated = nil
	}
	return after
}

// afterFinish is what a reference's finish leaves to do once its lock is
// released: the readiness callbacks, then letting go of the shares the
// finished work held.
type afterFinish struct {
	callbacks []func()
	holds     []*Ref
	self      *Ref
}

func (a afterFinish) run() {
	runAll(a.callbacks)
	for _, h := range a.holds {
		h.Release()
	}
	if a.self != nil {
		a.self.Release()
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
	if err := c.send(24, func(m *pb.ClientMessage) { m.Borrow = append(m.Borrow, b) }); err != nil {
		c.fail(err)
	}
	return r
}

// Submit sends a task and returns the reference to its result. direct
// allows a worker lease (lease.go): the caller knows the result can hold
// no futures or actor handles.
func (c *Client) Submit(spec *pb.TaskSpec, direct bool) *Ref {
	id := c.gen.Next()
	spec.Id = id.Bytes()
	if direct && c.directAllowed() && leaseEligible(spec) {
		if r, ok := c.submitLeased(id, spec); ok {
			return r
		}
	}
	return c.sendWork(id, spec, workSize(spec), func(m *pb.ClientMessage) { m.Submit = append(m.Submit, spec) })
}

// CreateActor asks the head to create an actor; the returned reference
// becomes ready when its constructor has run.
func (c *Client) CreateActor(spec *pb.ActorSpec) *Ref {
	id := c.gen.Next()
	spec.Id = id.Bytes()
	return c.sendWork(id, spec, workSize(spec), func(m *pb.ClientMessage) { m.CreateActors = append(m.CreateActors, spec) })
}

// sendWork tracks the reference to the result of spec (a task, actor or
// call whose ID is id) and sends spec to the head with add.
func (c *Client) sendWork(id ids.ID, spec any, size int, add func(m *pb.ClientMessage)) *Ref {
	r := &Ref{ID: id, Task: true, ready: make(chan struct{}), c: c, spec: spec}
	if err := c.track(r, specArgs(spec)); err != nil {
		r.finish(nil, 0, nil, err)
		return r
	}
	if err := c.send(size, add); err != nil {
		c.fail(err)
	}
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

// SendSpans sends an executor's task spans to the head (for the
// timeline), with how many it dropped.
func (c *Client) SendSpans(spans []*pb.TaskSpan, dropped int64) error {
	return c.send(64*len(spans)+16, func(m *pb.ClientMessage) {
		m.Spans = append(m.Spans, spans...)
		m.SpansDropped += dropped
	})
}

// Pin asks the head to keep nodes from being removed until Unpin, the ttl
// (0: none) or the end of this session.
func (c *Client) Pin(lease ids.ID, nodes []ids.ID, reason string, ttl time.Duration) error {
	p := &pb.PinRequest{LeaseId: lease.Bytes(), Reason: reason, TtlMs: ttl.Milliseconds()}
	for _, n := range nodes {
		p.NodeIds = append(p.NodeIds, n.Bytes())
	}
	return c.send(64+16*len(nodes)+len(reason), func(m *pb.ClientMessage) { m.Pins = append(m.Pins, p) })
}

// Unpin ends a pin.
func (c *Client) Unpin(lease ids.ID) error {
	b := lease.Bytes()
	return c.send(24, func(m *pb.ClientMessage) { m.Unpins = append(m.Unpins, b) })
}

// KillActor asks the head to kill an actor.
//
// This client's later calls to the actor go through the head, after the
// kill on the same stream, so that they fail: a direct call could reach the
// actor's executor before the head's word of the kill does.
func (c *Client) KillActor(id ids.ID) error {
	b := id.Bytes()
	c.dmu.Lock()
	c.mu.Lock()
	h := c.refs[id]
	c.mu.Unlock()
	if h != nil {
		h.mu.Lock()
		h.killed, h.actor = true, nil
		h.mu.Unlock()
	}
	if rt := c.routes[id]; rt != nil {
		rt.broken = true
	}
	err := c.send(24, func(m *pb.ClientMessage) { m.KillActors = append(m.KillActors, b) })
	c.dmu.Unlock()
	return err
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

// Put stores an encoded value (tag + payload given separately, so a large
// []byte is not copied) and returns its reference.
func (c *Client) Put(ctx context.Context, tag codec.Tag, payload []byte, nested [][]byte) (*Ref, error) {
	id := c.gen.Next()
	r := &Ref{ID: id, ready: make(chan struct{}), c: c, nested: nested}
	size := int64(1 + len(payload))
	p := &pb.PutObject{Id: id.Bytes(), Size: size, Nested: nested}
	if size <= c.welcome.InlineLimit {
		v := make([]byte, 0, size)
		v = append(append(v, byte(tag)), payload...)
		p.Value = v
		r.value, r.size = v, size
	} else {
		node, addr, err := c.storeRemote(ctx, id, []byte{byte(tag)}, payload)
		if err != nil {
			return nil, err
		}
		p.NodeId = node.Bytes()
		r.size, r.locs = size, []transfer.Location{{Node: node, Addr: addr}}
	}
	r.done.Store(true)
	close(r.ready)
	if err := c.track(r, nil); err != nil {
		return nil, err
	}
	if err := c.send(int(64+len(p.Value)), func(m *pb.ClientMessage) { m.Put = append(m.Put, p) }); err != nil {
		return nil, err
	}
	return r, nil
}

// StoreResult stores a large task result on this client's node (for
// executors); the caller reports it to the head as stored.
func (c *Client) StoreResult(ctx context.Context, id ids.ID, parts ...[]byte) error {
	_, _, err := c.storeRemote(ctx, id, parts...)
	return err
}

func (c *Client) storeRemote(ctx context.Context, id ids.ID, parts ...[]byte) (ids.ID, string, error) {
	for attempt := 0; ; attempt++ {
		node, addr, err := c.putTarget(ctx, attempt > 0)
		if err != nil {
			return ids.Nil, "", err
		}
		if st := c.cfg.LocalStores[node]; st != nil {
			// One copy, into the store's memory: the caller may reuse its
			// buffers once Put returns.
			err = putLocal(st, id, parts)
		} else {
			err = c.data.Put(ctx, addr, id, parts...)
		}
		if err == nil {
			return node, addr, nil
		}
		if attempt > 0 || ctx.Err() != nil || !c.cfg.PutNode.IsNil() {
			return ids.Nil, "", err
		}
	}
}

// putLocal writes an object made of parts into a store in this process.
func putLocal(st LocalStore, id ids.ID, parts [][]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	r, err := st.Reserve(id, int64(n))
	if err != nil || r.Exists() {
		return err
	}
	bigbuf.ConcatInto(r.Data, parts...)
	_, err = r.Seal()
	return err
}

// noNodeWait bounds how long a Put waits for the cluster's first node.
const noNodeWait = time.Minute

func (c *Client) putTarget(ctx context.Context, refresh bool) (ids.ID, string, error) {
	c.mu.Lock()
	node, addr := c.putNode, c.putAddr
	c.mu.Unlock()
	if addr != "" && !refresh {
		return node, addr, nil
	}
	host, _ := os.Hostname()
	// A cluster may have no node yet (it is starting, or an autoscaler
	// launches its first): wait for one, as tasks wait for resources, but
	// not forever.
	deadline := time.Now().Add(noNodeWait)
	backoff := 20 * time.Millisecond
	var rep *pb.LocateReply
	for {
		var err error
		rep, err = c.cfg.Head.Locate(ctx, &pb.LocateRequest{Hostname: host})
		if err != nil {
			return ids.Nil, "", fmt.Errorf("asking the head where to store an object: %w", err)
		}
		if rep.DataAddr != "" {
			break
		}
		if time.Now().After(deadline) {
			return ids.Nil, "", fmt.Errorf("the cluster has had no live node to store objects on for %v: start a node (shoal node --head ...) or give the autoscaler a minimum", noNodeWait)
		}
		select {
		case <-ctx.Done():
			return ids.Nil, "", fmt.Errorf("waiting for a live node to store an object on: %w", context.Cause(ctx))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
	node, _ = ids.FromBytes("node id", rep.NodeId)
	c.mu.Lock()
	c.putNode, c.putAddr = node, rep.DataAddr
	c.mu.Unlock()
	return node, rep.DataAddr, nil
}

// Release gives up one holder's share of the reference; when the last
// holder lets go the head is told, and frees the object once nothing else
// references it.
func (r *Ref) Release() {
	if r.local || r.released.Load() {
		return
	}
	c := r.c
	c.mu.Lock()
	r.holders--
	if r.holders > 0 || r.released.Swap(true) {
		c.mu.Unlock()
		return
	}
	if c.refs[r.ID] == r {
		delete(c.refs, r.ID)
	}
	c.mu.Unlock()
	r.mu.Lock()
	r.value = nil
	view := r.view
	r.view = nil
	// A call not sent yet is released when it is; a direct call's result
	// is released at the head only if the head heard of it.
	if !r.routed() || r.path == pathHead || r.path == pathDirect && r.exported {
		r.releaseAtHeadLocked()
	}
	actor := r.actor != nil
	// Released before it finished: nothing here waits for it any more, so
	// its arguments go too (the head, which saw it before this release,
	// holds them while it runs). (A routed call holds itself until it
	// finished, and a task waiting in a pool holds no arguments.)
	holds := r.argHolds
	r.argHolds = nil
	r.mu.Unlock()
	if view != nil {
		view()
	}
	for _, h := range holds {
		h.Release()
	}
	if actor {
		c.forgetRoute(r.ID)
	}
}

// releaseAtHeadLocked tells the head that r was released, once. Called
// with r.mu held.
func (r *Ref) releaseAtHeadLocked() {
	if r.headReleased {
		return
	}
	r.headReleased = true
	id := r.ID.Bytes()
	r.c.send(24, func(m *pb.ClientMessage) { m.Release = append(m.Release, id) })
}

// Released reports whether Release was called.
func (r *Ref) Released() bool { return r.released.Load() }

// Cancel asks the head to cancel the task that produces r.
func (r *Ref) Cancel() {
	if !r.Task || r.IsReady() {
		return
	}
	if r.routed() {
		r.mu.Lock()
		path := r.path
		if path == pathNone {
			r.cancelReq = true
		}
		r.mu.Unlock()
		switch path {
		case pathNone:
			return
		case pathDirect:
			r.c.cancelDirect(r)
			return
		}
	}
	id := r.ID.Bytes()
	r.c.send(24, func(m *pb.ClientMessage) { m.Cancel = append(m.Cancel, id) })
}

// ErrTaskReturned is the cause with which an executor ends a task's context
// when the task returns: tasks it started keep running, unlike when the
// task is cancelled.
var ErrTaskReturned = errors.New("the task returned")

type taskKey struct{}

// TaskScope is what an executor knows of a running task: its ID, and the
// tasks and calls it started, which are cancelled with it. Keeping them
// here costs an append per child, where watching the task's context would
// cost a registration on it per child.
type TaskScope struct {
	ID ids.ID
	// Ctx is the task's context (before WithTask): a child started under a
	// context derived with its own deadline or cancel is watched instead.
	// (Its Done channel is made only when a task starts children.)
	Ctx      context.Context
	mu       sync.Mutex
	children []*Ref
	done     bool
}

// WithTask marks ctx as running the task of scope, so that a Get that
// blocks can give the task's resources back and children can be tracked.
func WithTask(ctx context.Context, scope *TaskScope) context.Context {
	return context.WithValue(ctx, taskKey{}, scope)
}

// TaskFrom returns the task a context runs, if any.
func TaskFrom(ctx context.Context) (ids.ID, bool) {
	s, ok := ctx.Value(taskKey{}).(*TaskScope)
	if !ok {
		return ids.Nil, false
	}
	return s.ID, true
}

// TrackChild records ref as started by the task ctx runs, and reports
// whether ctx runs a task at all.
func TrackChild(ctx context.Context, ref *Ref) bool {
	s, ok := ctx.Value(taskKey{}).(*TaskScope)
	if !ok || ctx.Done() != s.Ctx.Done() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return true
	}
	if len(s.children) >= 1024 && len(s.children) == cap(s.children) {
		// Forget children that are done before growing; when most are
		// still running, grow anyway, so that each child costs O(1)
		// checks however many a task starts.
		live := s.children[:0]
		for _, r := range s.children {
			if !r.IsReady() {
				live = append(live, r)
			}
		}
		clear(s.children[len(live):])
		s.children = live
		if len(live) > cap(live)/2 {
			s.children = append(make([]*Ref, 0, 2*cap(live)), live...)
		}
	}
	s.children = append(s.children, ref)
	return true
}

// End closes the scope when its task ends; cancelled (rather than returned)
// cancels the children that have not finished.
func (s *TaskScope) End(cancelled bool) {
	s.mu.Lock()
	children := s.children
	s.children, s.done = nil, true
	s.mu.Unlock()
	if cancelled {
		for _, r := range children {
			r.Cancel()
		}
	}
}

// Wait blocks until r is ready or ctx ends. Inside a task, the task is
// reported blocked while it waits.
func (c *Client) Wait(ctx context.Context, r *Ref) error {
	select {
	case <-r.ready:
		return nil
	default:
	}
	if tid, ok := TaskFrom(ctx); ok && c.cfg.OnBlock != nil {
		c.cfg.OnBlock(tid, true)
		defer c.cfg.OnBlock(tid, false)
	}
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Bytes waits for r and returns its encoded value, fetching it from a node
// that holds it when it did not travel inline.
func (c *Client) Bytes(ctx context.Context, r *Ref) ([]byte, error) {
	var out []byte
	err := c.read(ctx, r, func(value []byte) { out = value }, func(ctx context.Context, locs []transfer.Location) error {
		value, release, err := c.Fetch(ctx, r.ID, locs)
		if err != nil {
			return err
		}
		r.mu.Lock()
		released := r.Released()
		if !released && r.value == nil {
			// A view of a store's memory stays pinned until r is released.
			r.value, r.view, release = value, release, nil
		} else if !released {
			value = r.value // another reader's, kept
		}
		r.mu.Unlock()
		if release != nil {
			release()
		}
		if released {
			return errReleasedWhileRead
		}
		out = value
		return nil
	})
	return out, err
}

var errReleasedWhileRead = errors.New("the object was released while it was read; a released future cannot be read")

// ReadRange waits for r and returns bytes [off, off+n) of its encoded
// value: a view of a store's memory on this machine where it lies there
// (valid until release, called once; never nil), else that range fetched
// over the data plane, not the whole object.
func (c *Client) ReadRange(ctx context.Context, r *Ref, off, n int64) ([]byte, func(), error) {
	var out []byte
	release := func() {}
	inRange := func(size int) error {
		if off < 0 || n < 0 || off+n > int64(size) {
			return fmt.Errorf("%w: range [%d, +%d) of object %s (%d bytes)", errs.ErrBadArgument, off, n, r.ID.Short(), size)
		}
		return nil
	}
	var rangeErr error
	err := c.read(ctx, r, func(value []byte) {
		if rangeErr = inRange(len(value)); rangeErr == nil {
			out = value[off : off+n]
		}
	}, func(ctx context.Context, locs []transfer.Location) error {
		if rangeErr = inRange(int(r.Size())); rangeErr != nil {
			return nil
		}
		for _, l := range locs {
			var b []byte
			var rel func()
			var ok bool
			if st := c.cfg.LocalStores[l.Node]; st != nil {
				// (a range of a spilled object is read from disk alone)
				rb, _, rrel, err := st.AcquireRange(r.ID, off, n)
				if err == nil {
					out, release = rb, rrel
					return nil
				}
			} else if l.Node == c.cfg.SharedNode && c.cfg.Shared != nil {
				b, rel, ok, _ = c.cfg.Shared.Acquire(r.ID)
			}
			if ok {
				if rangeErr = inRange(len(b)); rangeErr != nil {
					rel()
					return nil
				}
				out, release = b[off:off+n], rel
				return nil
			}
		}
		var firstErr error
		for _, l := range locs {
			b, err := c.data.GetRange(ctx, l.Addr, r.ID, uint64(off), uint64(n), nil)
			if err == nil {
				out = b
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("fetching bytes [%d, +%d) of object %s from node %s (%s): %w", off, n, r.ID.Short(), l.Node.Short(), l.Addr, err)
			}
		}
		return fmt.Errorf("%w: %w", errs.ErrObjectLost, firstErr)
	})
	if err == nil {
		err = rangeErr
	}
	if err != nil {
		return nil, nil, err
	}
	return out, release, nil
}

// read waits for r, then hands its value to inline when it is known here,
// or its locations to fetch until fetch succeeds: when a fetch fails, the
// head is asked where the object is now (a drain moved it), and otherwise
// news of it is awaited (its node died: the head rebuilds it from its
// lineage, or says why it cannot). News that the copies being fetched are
// gone (the head rebuilt the object elsewhere) interrupts the fetch: a node
// that went silent holds a read until its timeouts, once per retry.
func (c *Client) read(ctx context.Context, r *Ref, inline func(value []byte), fetch func(ctx context.Context, locs []transfer.Location) error) error {
	if r.Released() {
		return fmt.Errorf("object %s was released; a released future cannot be read", r.ID.Short())
	}
	if err := c.Wait(ctx, r); err != nil {
		return err
	}
	interrupted := 0
	for attempt := 0; ; attempt++ {
		r.mu.Lock()
		if r.updated == nil {
			r.updated = make(chan struct{})
		}
		value, locs, err, updated := r.value, r.locs, r.err, r.updated
		r.mu.Unlock()
		if err != nil {
			return err
		}
		if value != nil {
			inline(value)
			return nil
		}
		if len(locs) > 0 {
			fctx, cancel := context.WithCancel(ctx)
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				r.cancelWhenMoved(fctx, locs, cancel)
			}()
			err = fetch(fctx, locs)
			moved := fctx.Err() != nil && ctx.Err() == nil
			cancel()
			<-watched
			if err == nil || errors.Is(err, errReleasedWhileRead) {
				if err != nil {
					return fmt.Errorf("object %s: %w", r.ID.Short(), err)
				}
				return nil
			}
			if moved && interrupted < maxMovedRetries {
				// Not a failed attempt: the object is elsewhere now.
				interrupted++
				attempt--
				continue
			}
		} else {
			err = fmt.Errorf("%w: object %s has no copy on any live node", errs.ErrObjectLost, r.ID.Short())
		}
		if attempt == 3 || ctx.Err() != nil {
			return err
		}
		// The copies this reader knows may have moved (a drain) or died:
		// ask the head where the object is now.
		if info, ierr := c.cfg.Head.ObjectInfo(ctx, &pb.ObjectInfoRequest{Id: r.ID.Bytes()}); ierr == nil {
			switch info.State {
			case pb.ObjectState_OBJECT_STATE_READY:
				fresh := make([]transfer.Location, 0, len(info.Locations))
				for _, l := range info.Locations {
					n, _ := ids.FromBytes("node id", l.NodeId)
					fresh = append(fresh, transfer.Location{Node: n, Addr: l.DataAddr})
				}
				if info.Value != nil || !slices.Equal(fresh, locs) {
					r.mu.Lock()
					if r.value == nil {
						r.value, r.locs = info.Value, fresh
					}
					r.mu.Unlock()
					continue
				}
			case pb.ObjectState_OBJECT_STATE_FAILED:
				return errs.FromInfo(info.Error)
			}
		}
		select {
		case <-updated:
		case <-time.After(refetchWait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// refetchWait bounds how long a failed fetch waits for news of the object
// before trying again: longer than the head takes to declare a node dead.
const refetchWait = 5 * time.Second

// maxMovedRetries bounds the fetches of one read that news of the object
// interrupts (each time its copies moved while it was fetched).
const maxMovedRetries = 16

// cancelWhenMoved calls cancel when r's locations no longer include every
// one of locs (the head declared a node holding them dead and the object is
// elsewhere), r failed or its value arrived inline, or ctx ends.
func (r *Ref) cancelWhenMoved(ctx context.Context, locs []transfer.Location, cancel func()) {
	for {
		r.mu.Lock()
		if r.updated == nil {
			r.updated = make(chan struct{})
		}
		news := r.updated
		moved := r.err != nil || r.value != nil || slices.ContainsFunc(locs, func(l transfer.Location) bool { return !slices.Contains(r.locs, l) })
		r.mu.Unlock()
		if moved {
			cancel()
			return
		}
		select {
		case <-news:
		case <-ctx.Done():
			return
		}
	}
}

// Fetch reads an object's bytes from the first node that serves it: from
// the memory of a store in this process without a copy (pinned until
// release, which is never nil), else over the data plane.
func (c *Client) Fetch(ctx context.Context, id ids.ID, locs []transfer.Location) ([]byte, func(), error) {
	var firstErr error
	for _, l := range locs {
		if st := c.cfg.LocalStores[l.Node]; st != nil {
			if b, release, err := st.Acquire(id); err == nil {
				return b, release, nil
			}
		}
		if l.Node == c.cfg.SharedNode && c.cfg.Shared != nil {
			if b, release, ok, _ := c.cfg.Shared.Acquire(id); ok {
				return b, release, nil
			}
		}
	}
	for _, l := range locs {
		b, err := c.data.Get(ctx, l.Addr, id, nil)
		if err == nil {
			return b, func() {}, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("fetching object %s from node %s (%s): %w", id.Short(), l.Node.Short(), l.Addr, err)
		}
	}
	return nil, nil, fmt.Errorf("%w: %w", errs.ErrObjectLost, firstErr)
}

// FetchVia asks the data server at addr (this executor's own node) for an
// object, letting it pull the bytes from the hinted nodes peer-to-peer.
//
// When the node holds the object in its shared memory, the bytes are copied
// from there (a task may keep its arguments for as long as it likes, while
// the node's memory is pinned only until it is let go).
func (c *Client) FetchVia(ctx context.Context, addr string, id ids.ID, hints []transfer.Location) ([]byte, error) {
	if c.cfg.Shared != nil {
		if b, release, ok, _ := c.cfg.Shared.Acquire(id); ok {
			out := bigbuf.Concat(b)
			release()
			return out, nil
		}
	}
	b, err := c.data.Get(ctx, addr, id, hints)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching argument object %s through the local node: %w", errs.ErrObjectLost, id.Short(), err)
	}
	return b, nil
}

// SendResults reports finished tasks (executors).
func (c *Client) SendResults(size int, rs ...*pb.TaskResult) {
	c.send(size, func(m *pb.ClientMessage) { m.Results = append(m.Results, rs...) })
}

// SendBlock reports a task blocked in Get or resumed (executors); lease
// names the worker lease it runs under, if any.
func (c *Client) SendBlock(task, lease ids.ID, blocked bool) {
	b := &pb.TaskBlock{TaskId: task.Bytes(), Blocked: blocked}
	if !lease.IsNil() {
		b.LeaseId = lease.Bytes()
	}
	c.send(24, func(m *pb.ClientMessage) { m.Blocks = append(m.Blocks, b) })
}

// Err returns the failure of r, if any, after it is ready.
func (r *Ref) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Size is the encoded size of r's value, once ready.
func (r *Ref) Size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size
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
