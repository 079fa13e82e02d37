package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait of these tests.
const wait = 5 * time.Second

const testToken = "test-token"

// fakeHead plays the head for one client: each session the client opens
// is an in-process pipe whose messages the test reads as events, and on
// which it answers as the head would.
type fakeHead struct {
	t        *testing.T
	ctx      context.Context
	sessions chan *fakeSession
	// exits answers ExecutorExit.
	exits string
	// maxPending is the cap its welcome announces (0: none).
	maxPending int64
	// objectInfo, if set, answers ObjectInfo (else it fails).
	objectInfo func(*pb.ObjectInfoRequest) *pb.ObjectStatus
}

// fakeSession is one session of the client with the fake head.
type fakeSession struct {
	pipe   *rpc.Pipe[pb.ClientMessage, pb.HeadMessage]
	events chan event
}

// event is one item of a client's message to the head.
type event struct {
	kind string // submit, call, create, cancel, release, put, borrow, lease, leaseReturn, kill
	id   ids.ID
	msg  any // the item itself
}

func newFakeHead(t *testing.T) *fakeHead {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &fakeHead{t: t, ctx: ctx, sessions: make(chan *fakeSession, 16)}
}

func (h *fakeHead) connect(context.Context) (rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], error) {
	p := rpc.NewPipe[pb.ClientMessage, pb.HeadMessage](h.ctx)
	s := &fakeSession{pipe: p, events: make(chan event, 4096)}
	go func() {
		defer close(s.events)
		defer p.Finish(nil) // as a head's handler returns when its client leaves
		srv := p.Server()
		if _, err := srv.Recv(); err != nil { // the hello
			return
		}
		srv.Send(&pb.HeadMessage{Welcome: &pb.Welcome{InlineLimit: 1 << 20, MaxPendingTasks: h.maxPending}})
		for {
			m, err := srv.Recv()
			if err != nil {
				return
			}
			for _, e := range events(m) {
				s.events <- e
			}
		}
	}()
	h.sessions <- s
	return p.Client(), nil
}

func events(m *pb.ClientMessage) []event {
	var out []event
	id := func(b []byte) ids.ID { return ids.ID(b) }
	for _, b := range m.Borrow {
		out = append(out, event{"borrow", id(b), b})
	}
	for _, p := range m.Put {
		out = append(out, event{"put", id(p.Id), p})
	}
	for _, s := range m.CreateActors {
		out = append(out, event{"create", id(s.Id), s})
	}
	for _, s := range m.Submit {
		out = append(out, event{"submit", id(s.Id), s})
	}
	for _, s := range m.ActorCalls {
		out = append(out, event{"call", id(s.Id), s})
	}
	for _, b := range m.Cancel {
		out = append(out, event{"cancel", id(b), b})
	}
	for _, b := range m.Release {
		out = append(out, event{"release", id(b), b})
	}
	for _, l := range m.LeaseRequests {
		out = append(out, event{"lease", id(l.Id), l})
	}
	for _, b := range m.LeaseReturns {
		out = append(out, event{"leaseReturn", id(b), b})
	}
	for _, b := range m.KillActors {
		out = append(out, event{"kill", id(b), b})
	}
	return out
}

// session waits for the client's next session with the head.
func (h *fakeHead) session() *fakeSession {
	h.t.Helper()
	select {
	case s := <-h.sessions:
		return s
	case <-time.After(wait):
		h.t.Fatal("the client opened no session")
		return nil
	}
}

// next returns the session's next event of kind, and the events of other
// kinds it passed.
func (s *fakeSession) next(t *testing.T, kind string) (event, []event) {
	t.Helper()
	var passed []event
	deadline := time.After(wait)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatalf("the session ended before a %s", kind)
			}
			if e.kind == kind {
				return e, passed
			}
			passed = append(passed, e)
		case <-deadline:
			t.Fatalf("no %s within %v (passed %v)", kind, wait, kinds(passed))
		}
	}
}

// want waits for the event of kind about id.
func (s *fakeSession) want(t *testing.T, kind string, id ids.ID) event {
	t.Helper()
	for {
		e, _ := s.next(t, kind)
		if e.id == id {
			return e
		}
	}
}

// none checks that no event of kind about id comes within d.
func (s *fakeSession) none(t *testing.T, kind string, id ids.ID, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				return
			}
			if e.kind == kind && e.id == id {
				t.Fatalf("unexpected %s of %s", kind, id.Short())
			}
		case <-deadline:
			return
		}
	}
}

func kinds(es []event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.kind + " " + e.id.Short()
	}
	return out
}

// tell sends the client a message as the head.
func (s *fakeSession) tell(m *pb.HeadMessage) { s.pipe.Server().Send(m) }

// ready tells the client that object id is ready with value.
func (s *fakeSession) ready(id ids.ID, value []byte) {
	s.tell(&pb.HeadMessage{Objects: []*pb.ObjectStatus{{Id: id.Bytes(), State: pb.ObjectState_OBJECT_STATE_READY, Value: value, Size: int64(len(value))}}})
}

// lose ends the session as a restarting head does.
func (s *fakeSession) lose() { s.pipe.Finish(errors.New("the head restarted")) }

// fakeAPI is the head's unary API.
type fakeAPI struct{ h *fakeHead }

func (fakeAPI) Status(context.Context) (*pb.StatusReply, error) { return &pb.StatusReply{}, nil }
func (fakeAPI) Locate(context.Context, *pb.LocateRequest) (*pb.LocateReply, error) {
	return nil, errors.New("no node")
}
func (fakeAPI) GetActor(context.Context, *pb.GetActorRequest) (*pb.GetActorReply, error) {
	return nil, errors.New("none")
}
func (fakeAPI) Drain(context.Context, *pb.DrainRequest) (*pb.DrainReply, error) {
	return nil, errors.New("none")
}
func (a fakeAPI) ObjectInfo(_ context.Context, req *pb.ObjectInfoRequest) (*pb.ObjectStatus, error) {
	if a.h.objectInfo != nil {
		return a.h.objectInfo(req), nil
	}
	return nil, errors.New("none")
}
func (fakeAPI) RequestResources(context.Context, *pb.RequestResourcesRequest) error { return nil }
func (a fakeAPI) ExecutorExit(context.Context, *pb.ExecutorExitRequest) (*pb.ExecutorExitReply, error) {
	return &pb.ExecutorExitReply{Cause: a.h.exits}, nil
}

// newTestClient connects a client to h; the test closes it. configure,
// if given, changes its configuration.
func newTestClient(t *testing.T, h *fakeHead, configure ...func(*Config)) (*Client, *fakeSession) {
	t.Helper()
	cfg := Config{
		Hello: &pb.Hello{}, Connect: h.connect, Head: fakeAPI{h}, Token: testToken,
		Reconnect: wait, DirectCalls: true, WelcomeTimeout: wait,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range configure {
		f(&cfg)
	}
	c, err := Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, h.session()
}

// fakeExec plays an executor on a loopback socket: the direct requests it
// receives are the test's to read, and it answers as the test says.
type fakeExec struct {
	t    *testing.T
	lis  net.Listener
	reqs chan *pb.DirectRequest
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn net.Conn
	out  *wire.Batcher[*pb.DirectReply, *pb.TaskResult]
}

func newFakeExec(t *testing.T) *fakeExec { return newFakeExecWith(t, testToken) }

// newFakeExecWith is newFakeExec for an executor holding token (a job's
// credential: it serves that job's processes only).
func newFakeExecWith(t *testing.T, token string) *fakeExec {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &fakeExec{t: t, lis: lis, reqs: make(chan *pb.DirectRequest, 1024)}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			nc, err = wire.Accept(nc, token, nil, wait)
			if err != nil {
				continue
			}
			e.mu.Lock()
			e.conn = nc
			e.out = wire.NewBatcher(nc, 1<<20, func() *pb.DirectReply { return &pb.DirectReply{} },
				func(m *pb.DirectReply, r *pb.TaskResult) { m.Results = append(m.Results, r) })
			e.mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				r := wire.NewReader(nc)
				for {
					m := &pb.DirectRequest{}
					if err := r.Read(m); err != nil {
						nc.Close()
						return
					}
					e.reqs <- m
				}
			}()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		e.cut()
		e.wg.Wait()
	})
	return e
}

func (e *fakeExec) addr() string { return e.lis.Addr().String() }

// next returns the executor's next request.
func (e *fakeExec) next() *pb.DirectRequest {
	e.t.Helper()
	select {
	case m := <-e.reqs:
		return m
	case <-time.After(wait):
		e.t.Fatal("the executor received nothing")
		return nil
	}
}

// reply answers on the current connection.
func (e *fakeExec) reply(rs ...*pb.TaskResult) {
	e.mu.Lock()
	out := e.out
	e.mu.Unlock()
	for _, r := range rs {
		out.Queue(64, r)
	}
	if err := out.Flush(); err != nil {
		e.t.Fatal(err)
	}
}

// cut closes the current connection, as an executor that died.
func (e *fakeExec) cut() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		e.conn.Close()
	}
}

// readyWithin waits for r.
func readyWithin(t *testing.T, r *Ref) {
	t.Helper()
	select {
	case <-r.Ready():
	case <-time.After(wait):
		t.Fatalf("object %s not ready within %v", r.ID.Short(), wait)
	}
}

// value reads r's value.
func value(t *testing.T, c *Client, r *Ref) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	b, err := c.Bytes(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
