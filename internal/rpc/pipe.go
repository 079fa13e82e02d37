package rpc

import (
	"context"
	"io"
	"sync"
)

// ServerStream is the server end of a bidirectional stream: what a gRPC
// handler receives, and what Pipe's server end implements for the embedded
// cluster.
type ServerStream[Req, Resp any] interface {
	Send(*Resp) error
	Recv() (*Req, error)
	Context() context.Context
}

// ClientStream is the client end of a bidirectional stream.
type ClientStream[Req, Resp any] interface {
	Send(*Req) error
	Recv() (*Resp, error)
	CloseSend() error
}

// Pipe connects a client and a server in one process without serializing:
// messages are handed over as pointers, so a sender must not touch a message
// after sending it. Closing works as on gRPC: CloseSend makes the server's
// Recv return io.EOF; the server's Finish makes the client's Recv return
// the handler's error (or io.EOF).
type Pipe[Req, Resp any] struct {
	ctx    context.Context
	cancel context.CancelFunc
	toSrv  *queue[Req]
	toCli  *queue[Resp]
}

// NewPipe returns a connected pair. Cancelling ctx closes both ends.
func NewPipe[Req, Resp any](ctx context.Context) *Pipe[Req, Resp] {
	ctx, cancel := context.WithCancel(ctx)
	p := &Pipe[Req, Resp]{ctx: ctx, cancel: cancel, toSrv: newQueue[Req](), toCli: newQueue[Resp]()}
	context.AfterFunc(ctx, func() {
		p.toSrv.close(context.Canceled)
		p.toCli.close(context.Canceled)
	})
	return p
}

// Client returns the client end.
func (p *Pipe[Req, Resp]) Client() ClientStream[Req, Resp] { return pipeClient[Req, Resp]{p} }

// Server returns the server end.
func (p *Pipe[Req, Resp]) Server() ServerStream[Req, Resp] { return pipeServer[Req, Resp]{p} }

// Finish ends the stream from the server side with err (nil means io.EOF at
// the client), as returning from a gRPC handler does.
func (p *Pipe[Req, Resp]) Finish(err error) {
	if err == nil {
		err = io.EOF
	}
	p.toCli.close(err)
	p.toSrv.close(io.EOF)
	p.cancel()
}

type pipeClient[Req, Resp any] struct{ p *Pipe[Req, Resp] }

func (c pipeClient[Req, Resp]) Send(m *Req) error        { return c.p.toSrv.push(m) }
func (c pipeClient[Req, Resp]) Recv() (*Resp, error)     { return c.p.toCli.pop() }
func (c pipeClient[Req, Resp]) CloseSend() error         { c.p.toSrv.close(io.EOF); return nil }
func (c pipeClient[Req, Resp]) Context() context.Context { return c.p.ctx }

type pipeServer[Req, Resp any] struct{ p *Pipe[Req, Resp] }

func (s pipeServer[Req, Resp]) Send(m *Resp) error       { return s.p.toCli.push(m) }
func (s pipeServer[Req, Resp]) Recv() (*Req, error)      { return s.p.toSrv.pop() }
func (s pipeServer[Req, Resp]) Context() context.Context { return s.p.ctx }

// queue is an unbounded FIFO of messages with a close error. Senders never
// block: the batching outbox upstream already bounds how much is queued.
type queue[T any] struct {
	mu     sync.Mutex
	items  []*T
	head   int
	err    error
	notify chan struct{}
}

func newQueue[T any]() *queue[T] { return &queue[T]{notify: make(chan struct{}, 1)} }

func (q *queue[T]) push(m *T) error {
	q.mu.Lock()
	if q.err != nil {
		err := q.err
		q.mu.Unlock()
		if err == io.EOF {
			return io.ErrClosedPipe
		}
		return err
	}
	q.items = append(q.items, m)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return nil
}

func (q *queue[T]) pop() (*T, error) {
	for {
		q.mu.Lock()
		if q.head < len(q.items) {
			m := q.items[q.head]
			q.items[q.head] = nil
			q.head++
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			}
			q.mu.Unlock()
			return m, nil
		}
		if q.err != nil {
			err := q.err
			q.mu.Unlock()
			return nil, err
		}
		q.mu.Unlock()
		<-q.notify
	}
}

func (q *queue[T]) close(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}
