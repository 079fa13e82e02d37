package head

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/rpc"
)

// pump serves a registered stream: one goroutine sends out's batches while
// another applies each received message with handle, under h.mu, starting
// with first when it is not nil. It returns when the peer ends the stream
// (eof), a handler fails with an error the peer should see (err), or ctx
// ends.
func pump[Req, Resp any](h *Head, ctx context.Context, cancel context.CancelFunc, stream rpc.ServerStream[Req, Resp],
	out *rpc.Outbox[Resp], first *Req, handle func(*Req) error) (eof bool, err error) {
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		if err := out.Run(ctx, stream.Send); err != nil {
			cancel()
		}
	}()
	recvErr := make(chan error, 1)
	go func() {
		msg := first
		for {
			if msg != nil {
				if err := handleLocked(h, handle, msg); err != nil {
					recvErr <- err
					return
				}
			}
			var err error
			if msg, err = stream.Recv(); err != nil {
				recvErr <- err
				return
			}
		}
	}()
	select {
	case e := <-recvErr:
		switch {
		case errors.Is(e, io.EOF):
			eof = true
		case status(e):
			err = e
		}
	case <-ctx.Done():
	}
	cancel()
	<-sendDone
	return eof, err
}

// handleLocked applies msg with handle under h.mu. A handler that panics
// ends its stream with an error instead of taking the head down with every
// session (the fuzzers look for such inputs; this is the net under them).
func handleLocked[Req any](h *Head, handle func(*Req) error, msg *Req) (err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("a stream handler panicked; ending the stream", "panic", p, "stack", string(debug.Stack()))
			err = errs.ToStatus(fmt.Errorf("%w: the head failed handling a message: %v", errs.ErrMalformed, p))
		}
	}()
	return handle(msg)
}
