package head

import (
	"context"
	"errors"
	"io"

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
				h.mu.Lock()
				err := handle(msg)
				h.mu.Unlock()
				if err != nil {
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
