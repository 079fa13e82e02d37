package rpc

import (
	"context"
	"sync"
)

// Outbox batches messages for one stream sender. Callers Add items into the
// message being filled; one goroutine (Run) sends whatever accumulated while
// its previous Send was in flight. An idle stream therefore sends at once,
// and a busy one sends many items per message. A message is closed to new
// items once it holds maxBytes (approximately, as counted by the callers), so
// no message exceeds the transport's size limit.
type Outbox[M any] struct {
	mu       sync.Mutex
	queue    []*M
	fill     int // bytes in queue[len-1]
	maxBytes int
	newMsg   func() *M
	wake     chan struct{}
	err      error
}

// NewOutbox returns an outbox whose messages hold about maxBytes each.
func NewOutbox[M any](maxBytes int, newMsg func() *M) *Outbox[M] {
	return &Outbox[M]{maxBytes: maxBytes, newMsg: newMsg, wake: make(chan struct{}, 1)}
}

// Add calls fill with the message being built, under the outbox's lock.
// size is the approximate number of bytes fill adds. Add returns the error
// that stopped the outbox, if any.
func (o *Outbox[M]) Add(size int, fill func(m *M)) error {
	o.mu.Lock()
	if o.err != nil {
		err := o.err
		o.mu.Unlock()
		return err
	}
	if len(o.queue) == 0 || o.fill+size > o.maxBytes && o.fill > 0 {
		o.queue = append(o.queue, o.newMsg())
		o.fill = 0
	}
	fill(o.queue[len(o.queue)-1])
	o.fill += size
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run sends batches until ctx ends or send fails; the error is kept so that
// later Adds report it.
func (o *Outbox[M]) Run(ctx context.Context, send func(*M) error) error {
	for {
		o.mu.Lock()
		var m *M
		if len(o.queue) > 0 {
			m = o.queue[0]
			o.queue[0] = nil
			o.queue = o.queue[1:]
			if len(o.queue) == 0 {
				o.queue, o.fill = nil, 0
			}
		}
		o.mu.Unlock()
		if m == nil {
			select {
			case <-o.wake:
				continue
			case <-ctx.Done():
				o.Stop(ctx.Err())
				return ctx.Err()
			}
		}
		if err := send(m); err != nil {
			o.Stop(err)
			return err
		}
	}
}

// Stop makes later Adds fail with err.
func (o *Outbox[M]) Stop(err error) {
	o.mu.Lock()
	if o.err == nil {
		o.err = err
	}
	o.mu.Unlock()
}
