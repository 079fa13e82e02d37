package shoal

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// ActorPool balances calls over a set of identical actors, as Ray's
// ActorPool does: each call goes to the actor with the fewest calls in
// flight. It reports its load (InFlight, Idle) so that a pool can be grown
// or shrunk (Add, Remove) with the work.
type ActorPool[T any] struct {
	mu      sync.Mutex
	members []*poolMember[T]
	next    int
}

type poolMember[T any] struct {
	h        *ActorHandle[T]
	inFlight int
}

// NewActorPool returns a pool over handles.
func NewActorPool[T any](handles ...*ActorHandle[T]) *ActorPool[T] {
	p := &ActorPool[T]{}
	for _, h := range handles {
		p.Add(h)
	}
	return p
}

// Add puts another actor into the pool.
func (p *ActorPool[T]) Add(h *ActorHandle[T]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.members = append(p.members, &poolMember[T]{h: h})
}

// Remove takes an actor out of the pool: no new calls go to it; calls in
// flight finish. It reports whether the actor was in the pool.
func (p *ActorPool[T]) Remove(h *ActorHandle[T]) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.members, func(m *poolMember[T]) bool { return m.h.id == h.id })
	if i < 0 {
		return false
	}
	p.members = slices.Delete(p.members, i, i+1)
	return true
}

// Size is the number of actors in the pool.
func (p *ActorPool[T]) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.members)
}

// InFlight is the number of calls made through the pool and not finished.
func (p *ActorPool[T]) InFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.members {
		n += m.inFlight
	}
	return n
}

// Idle returns the actors with no call in flight.
func (p *ActorPool[T]) Idle() []*ActorHandle[T] {
	p.mu.Lock()
	defer p.mu.Unlock()
	var idle []*ActorHandle[T]
	for _, m := range p.members {
		if m.inFlight == 0 {
			idle = append(idle, m.h)
		}
	}
	return idle
}

// pick chooses the member with the fewest calls in flight, rotating among
// equals, and counts the call.
func (p *ActorPool[T]) pick() (*poolMember[T], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.members) == 0 {
		return nil, fmt.Errorf("%w: the actor pool is empty", ErrBadArgument)
	}
	var best *poolMember[T]
	for i := range p.members {
		m := p.members[(p.next+i)%len(p.members)]
		if best == nil || m.inFlight < best.inFlight {
			best = m
		}
	}
	p.next++
	best.inFlight++
	return best, nil
}

func (p *ActorPool[T]) done(m *poolMember[T]) {
	p.mu.Lock()
	m.inFlight--
	p.mu.Unlock()
}

// PoolCall calls method m on the pool's least busy actor.
func PoolCall[T, R any](ctx context.Context, p *ActorPool[T], m *Method[T, R], args ...any) *Future[R] {
	member, err := p.pick()
	if err != nil {
		return failedFuture[R](err)
	}
	f := m.Remote(ctx, member.h, args...)
	if f.ref == nil {
		p.done(member)
		return f
	}
	f.ref.OnReady(func() { p.done(member) })
	return f
}

// PoolMap calls m once per item on the pool's actors and returns the
// results in the order of items.
func PoolMap[T, A, R any](ctx context.Context, p *ActorPool[T], m *Method[T, R], items []A) ([]R, error) {
	futs := make([]*Future[R], len(items))
	for i, it := range items {
		futs[i] = PoolCall(ctx, p, m, it)
	}
	return GetAll(ctx, futs)
}
