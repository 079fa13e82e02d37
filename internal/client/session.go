package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/retry"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

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

// headSession is the client's stream to the head: the outbox of what it
// sends, the loop that serves the stream, and, when the stream breaks and
// Config.Reconnect allows, a new handshake and the replay of what a
// restarted head must know. Its lock guards only the outbox.
type headSession struct {
	cfg *Config
	log *slog.Logger
	ctx context.Context
	// maxMsg is the largest message the cluster's streams carry.
	maxMsg int
	// receive takes every message from the head; rejoined queues on the new
	// session's outbox what a restarted head must hear first (the replay),
	// then takes its welcome, and returns how many items it replayed; ended
	// is told that the session ended for good.
	receive  func(*pb.HeadMessage)
	rejoined func(out *rpc.Outbox[pb.ClientMessage], welcome *pb.HeadMessage) int
	ended    func(error)
	done     chan struct{}
	// failed is why the client failed (set once): nothing is sent after.
	failed atomic.Pointer[error]

	mu  sync.Mutex
	out *rpc.Outbox[pb.ClientMessage]
}

// maxMessageBytes is the largest message the cluster's streams carry, by
// the head's welcome.
func maxMessageBytes(w *pb.Welcome) int {
	if n := int(w.MaxMessageBytes); n > 0 {
		return n
	}
	return rpc.DefaultMaxMessageBytes
}

func (s *headSession) newOutbox() *rpc.Outbox[pb.ClientMessage] {
	return rpc.NewOutbox(s.maxMsg/2, func() *pb.ClientMessage { return &pb.ClientMessage{} })
}

// send queues an item for the head. While the client is reconnecting the
// item may go nowhere: what it says is replayed from the client's
// references once the session is back.
func (s *headSession) send(size int, fill func(*pb.ClientMessage)) error {
	if err := s.failed.Load(); err != nil {
		return *err
	}
	s.mu.Lock()
	out := s.out
	s.mu.Unlock()
	if err := out.Add(size, fill); err != nil && s.cfg.Reconnect <= 0 {
		return err
	}
	return nil
}

// sendWork queues spec (a task, an actor to create or an actor call) for
// the head, followed by the release of its result when release is not
// nil (it was released before it was sent).
func (s *headSession) sendWork(spec any, release []byte) error {
	return s.send(workSize(spec), func(m *pb.ClientMessage) {
		addWork(m, spec)
		if release != nil {
			m.Release = append(m.Release, release)
		}
	})
}

// sendCancel asks the head to cancel the task or call whose result is id.
func (s *headSession) sendCancel(id ids.ID) {
	b := id.Bytes()
	s.send(24, func(m *pb.ClientMessage) { m.Cancel = append(m.Cancel, b) })
}

// addWork adds spec to a message for the head: the one place that says
// where each kind of work goes in it.
func addWork(m *pb.ClientMessage, spec any) {
	switch s := spec.(type) {
	case *pb.TaskSpec:
		m.Submit = append(m.Submit, s)
	case *pb.ActorSpec:
		m.CreateActors = append(m.CreateActors, s)
	case *pb.ActorCall:
		m.ActorCalls = append(m.ActorCalls, s)
	}
}

// fail stops sending: err is what every later send returns.
func (s *headSession) fail(err error) { s.failed.CompareAndSwap(nil, &err) }

// run serves sessions until the client is closed or gives up: when a
// session breaks and reconnection is allowed (Config.Reconnect), it joins
// the head again and replays what the head must know.
func (s *headSession) run(stream rpc.ClientStream[pb.ClientMessage, pb.HeadMessage]) {
	defer close(s.done)
	for {
		err := s.serve(stream)
		if s.ctx.Err() != nil {
			s.ended(nil)
			return
		}
		if s.cfg.Reconnect <= 0 {
			s.ended(err)
			return
		}
		if stream = s.reconnect(err); stream == nil {
			return
		}
	}
}

// serve runs one session: a sender for the outbox and a receiver, until the
// stream fails or the client is closed.
func (s *headSession) serve(stream rpc.ClientStream[pb.ClientMessage, pb.HeadMessage]) error {
	s.mu.Lock()
	out := s.out
	s.mu.Unlock()
	sctx, stopSending := context.WithCancel(s.ctx)
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
			s.receive(m)
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
	case <-s.ctx.Done():
		stopSending()
		// The sender must stop before CloseSend: gRPC forbids the two at once.
		<-sendErr
		stream.CloseSend()
		<-recvErr
	}
	return err
}

// reconnect joins the head again after a lost session (a head restart),
// within Config.Reconnect, and queues the replay before anything else the
// client sends. It returns nil when it gives up (the client is failed
// then).
func (s *headSession) reconnect(cause error) rpc.ClientStream[pb.ClientMessage, pb.HeadMessage] {
	s.log.Warn("lost the session with the head; reconnecting", "error", cause, "for", s.cfg.Reconnect)
	deadline := time.Now().Add(s.cfg.Reconnect)
	backoff := retry.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second}
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		stream, m, err := handshake(ctx, *s.cfg)
		cancel()
		if err == nil {
			out := s.newOutbox()
			s.mu.Lock()
			s.out = out
			s.mu.Unlock()
			replayed := s.rejoined(out, m)
			s.log.Info("rejoined the head", "replayed", replayed)
			return stream
		}
		if s.ctx.Err() != nil || time.Now().After(deadline) || errors.Is(err, errs.ErrUnauthenticated) {
			s.ended(fmt.Errorf("could not rejoin the head within %v: %w (the session was lost: %v)", s.cfg.Reconnect, err, cause))
			return nil
		}
		backoff.Wait(s.ctx, attempt) // (a closed client ends the loop above)
	}
}

type replayItem struct {
	id   ids.ID
	size int
	fill func(m *pb.ClientMessage)
}

// rejoined queues on out, a new session's outbox, what a restarted head
// must hear from this client: the objects it owns and has, and the tasks,
// actors and calls not finished yet, in the order they were made (so that
// references resolve); then it takes the new head's welcome and asks again
// for the leases it needs (each route hears that the session was lost).
func (c *Client) rejoined(out *rpc.Outbox[pb.ClientMessage], welcome *pb.HeadMessage) int {
	c.mu.Lock()
	refs := make([]*Ref, 0, len(c.refs))
	for _, r := range c.refs {
		refs = append(refs, r)
	}
	c.mu.Unlock()
	replay := c.replayItems(refs)
	for _, r := range replay {
		out.Add(r.size, r.fill)
	}
	c.handle(welcome)
	// Work released before it finished is not replayed: the new head will
	// never say it ended.
	c.settleOrphans()
	for _, rt := range []route{c.viaHead, c.actors, c.leases} {
		rt.lost(nil, nil)
	}
	return len(replay)
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
