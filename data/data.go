// Package data is a small distributed dataset API for batch processing such
// as batch inference: a stream of items cut into batches, each batch mapped
// on the cluster by a remote function (tasks) or by a pool of stateful
// actors (that load a model once) which grows while its actors are busy and
// shrinks when they idle. Execution streams: at most a bounded number of
// batches is in flight (backpressure), and results come back in order.
package data

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/shoal-dev/shoal"
)

// Dataset is a lazy sequence of items of type T, produced in blocks.
type Dataset[T any] struct {
	// blocks yields the dataset's blocks in order until it returns or yield
	// returns false.
	blocks func(ctx context.Context, yield func([]T) bool) error
}

// FromSlice makes a dataset of items, in blocks of blockSize.
func FromSlice[T any](items []T, blockSize int) *Dataset[T] {
	blockSize = max(1, blockSize)
	return &Dataset[T]{blocks: func(ctx context.Context, yield func([]T) bool) error {
		for i := 0; i < len(items); i += blockSize {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !yield(items[i:min(len(items), i+blockSize)]) {
				return nil
			}
		}
		return nil
	}}
}

// Generate makes a dataset of n items, item i being gen(i), in blocks of
// blockSize; items are made as the blocks are consumed.
func Generate[T any](n, blockSize int, gen func(i int) T) *Dataset[T] {
	blockSize = max(1, blockSize)
	return &Dataset[T]{blocks: func(ctx context.Context, yield func([]T) bool) error {
		for i := 0; i < n; i += blockSize {
			if err := ctx.Err(); err != nil {
				return err
			}
			b := make([]T, 0, min(blockSize, n-i))
			for j := i; j < min(n, i+blockSize); j++ {
				b = append(b, gen(j))
			}
			if !yield(b) {
				return nil
			}
		}
		return nil
	}}
}

// Map applies fn to each item on the driver, as the items stream by (to
// parse or filter cheaply before the remote stages; fn's error stops the
// stream).
func Map[T, U any](ds *Dataset[T], fn func(T) (U, error)) *Dataset[U] {
	return &Dataset[U]{blocks: func(ctx context.Context, yield func([]U) bool) error {
		var failure error
		err := ds.blocks(ctx, func(b []T) bool {
			out := make([]U, len(b))
			for i, it := range b {
				if out[i], failure = fn(it); failure != nil {
					return false
				}
			}
			return yield(out)
		})
		if failure != nil {
			return failure
		}
		return err
	}}
}

// Iter streams the dataset's blocks.
func (ds *Dataset[T]) Iter(ctx context.Context) iter.Seq2[[]T, error] {
	return func(yield func([]T, error) bool) {
		stopped := false
		err := ds.blocks(ctx, func(b []T) bool {
			if !yield(b, nil) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil && !stopped {
			yield(nil, err)
		}
	}
}

// Collect returns every item.
func (ds *Dataset[T]) Collect(ctx context.Context) ([]T, error) {
	var out []T
	for b, err := range ds.Iter(ctx) {
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// ForEach calls fn with each block, in order (to write results, say).
func (ds *Dataset[T]) ForEach(ctx context.Context, fn func([]T) error) error {
	for b, err := range ds.Iter(ctx) {
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// Options configure a MapBatches stage.
type Options struct {
	// BatchSize is how many items each call gets (default 256).
	BatchSize int
	// MaxInFlight bounds the batches submitted and not yet consumed
	// (default: 2 per actor at the pool's maximum, or 16 for tasks).
	MaxInFlight int
	// Resources each task (or each actor) needs (default 1 CPU).
	Resources *shoal.Resources
	// MinActors and MaxActors bound an actor pool (default 1 and 1).
	MinActors, MaxActors int
	// ScaleInterval is how often the pool looks at its load (default
	// 250ms); an actor idle for IdleTimeout (default 5s) is removed while
	// the pool is above MinActors.
	ScaleInterval time.Duration
	IdleTimeout   time.Duration
	// ActorOptions are added to each actor's creation (restarts, say).
	ActorOptions []shoal.ActorOption
	// Events receives the pool's scaling decisions (optional).
	Events func(string)
}

func (o *Options) defaults(actors bool) {
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	o.MinActors = max(1, o.MinActors)
	o.MaxActors = max(o.MinActors, o.MaxActors)
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 16
		if actors {
			o.MaxInFlight = 2 * o.MaxActors
		}
	}
	if o.ScaleInterval <= 0 {
		o.ScaleInterval = 250 * time.Millisecond
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 5 * time.Second
	}
}

// rebatch turns blocks of any size into batches of size n.
func rebatch[T any](ctx context.Context, ds *Dataset[T], n int, yield func([]T) bool) error {
	var cur []T
	stopped := false
	err := ds.blocks(ctx, func(b []T) bool {
		for len(b) > 0 {
			take := min(n-len(cur), len(b))
			cur = append(cur, b[:take]...)
			b = b[take:]
			if len(cur) == n {
				if !yield(cur) {
					stopped = true
					return false
				}
				cur = nil
			}
		}
		return true
	})
	if err == nil && !stopped && len(cur) > 0 {
		yield(cur)
	}
	return err
}

// stream submits one call per batch with at most maxInFlight outstanding
// and yields the results in order.
func stream[T, U any](ctx context.Context, in *Dataset[T], opts Options, call func(ctx context.Context, batch []T) *shoal.Future[[]U], yield func([]U) bool) error {
	var queue []*shoal.Future[[]U]
	stopped := false
	drain := func() error {
		f := queue[0]
		queue = queue[1:]
		out, err := f.Get(ctx)
		f.Release()
		if err != nil {
			return err
		}
		if !yield(out) {
			stopped = true
		}
		return nil
	}
	var failure error
	err := rebatch(ctx, in, opts.BatchSize, func(batch []T) bool {
		for len(queue) >= opts.MaxInFlight {
			if failure = drain(); failure != nil || stopped {
				return false
			}
		}
		queue = append(queue, call(ctx, batch))
		return true
	})
	if failure == nil {
		failure = err
	}
	for failure == nil && !stopped && len(queue) > 0 {
		failure = drain()
	}
	for _, f := range queue {
		f.Cancel()
		f.Release()
	}
	return failure
}

// MapBatches maps fn, a registered remote function taking a batch, over
// the dataset in tasks.
func MapBatches[T, U any](ds *Dataset[T], fn *shoal.Func[[]U], opts Options) *Dataset[U] {
	opts.defaults(false)
	if opts.Resources != nil {
		fn = fn.With(shoal.WithResources(*opts.Resources))
	}
	return &Dataset[U]{blocks: func(ctx context.Context, yield func([]U) bool) error {
		return stream(ctx, ds, opts, func(ctx context.Context, batch []T) *shoal.Future[[]U] {
			return fn.Remote(ctx, batch)
		}, yield)
	}}
}

// MapBatchesActors maps method over the dataset on a pool of actors of
// class, each made with ctorArg (nil for Actor0 classes): they load their
// state once and serve many batches. The pool starts with MinActors and
// adds actors while all of them are busy (up to MaxActors; an actor that
// does not fit the cluster waits for the autoscaler to add a node), and
// removes actors idle for IdleTimeout. It returns the pool's actors to
// nothing when the stream ends.
func MapBatchesActors[T, M, U any](ds *Dataset[T], class *shoal.ActorClass[M], ctorArg any, method *shoal.Method[M, []U], opts Options) *Dataset[U] {
	opts.defaults(true)
	return &Dataset[U]{blocks: func(ctx context.Context, yield func([]U) bool) error {
		p, err := newPool(ctx, class, ctorArg, opts)
		if err != nil {
			return err
		}
		defer p.close(ctx)
		return stream(ctx, ds, opts, func(ctx context.Context, batch []T) *shoal.Future[[]U] {
			return shoal.PoolCall(ctx, p.pool, method, batch)
		}, yield)
	}}
}

// pool is an autoscaling actor pool.
type pool[M any] struct {
	class   *shoal.ActorClass[M]
	ctorArg any
	opts    Options
	pool    *shoal.ActorPool[M]
	actors  []*shoal.ActorHandle[M]
	idle    map[string]time.Time
	stop    context.CancelFunc
	done    chan struct{}
}

func newPool[M any](ctx context.Context, class *shoal.ActorClass[M], ctorArg any, opts Options) (*pool[M], error) {
	p := &pool[M]{class: class, ctorArg: ctorArg, opts: opts, pool: shoal.NewActorPool[M](), idle: map[string]time.Time{}, done: make(chan struct{})}
	for range opts.MinActors {
		if err := p.add(ctx, "the pool's minimum"); err != nil {
			p.close(ctx)
			return nil, err
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	p.stop = cancel
	go p.scale(sctx)
	return p, nil
}

func (p *pool[M]) event(msg string) {
	if p.opts.Events != nil {
		p.opts.Events(msg)
	}
}

func (p *pool[M]) add(ctx context.Context, why string) error {
	opts := append([]shoal.ActorOption{shoal.WithSpread()}, p.opts.ActorOptions...)
	if p.opts.Resources != nil {
		opts = append(opts, shoal.WithResources(*p.opts.Resources))
	}
	h, err := p.class.New(ctx, p.ctorArg, opts...)
	if err != nil {
		return fmt.Errorf("data: starting a %s actor: %w", p.class.Name(), err)
	}
	p.actors = append(p.actors, h)
	p.pool.Add(h)
	p.event(fmt.Sprintf("actor pool %s: %d actors (+1: %s)", p.class.Name(), p.pool.Size(), why))
	return nil
}

// scale grows the pool while every actor is busy with work queued, and
// shrinks it when actors idle.
func (p *pool[M]) scale(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.opts.ScaleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			inFlight, size := p.pool.InFlight(), p.pool.Size()
			if size < p.opts.MaxActors && inFlight > size {
				p.add(ctx, fmt.Sprintf("%d batches in flight on %d actors", inFlight, size))
				continue
			}
			idle := p.pool.Idle()
			idleNow := map[string]bool{}
			for _, h := range idle {
				idleNow[h.ID()] = true
				if _, ok := p.idle[h.ID()]; !ok {
					p.idle[h.ID()] = now
				}
			}
			for id := range p.idle {
				if !idleNow[id] {
					delete(p.idle, id)
				}
			}
			for _, h := range idle {
				if p.pool.Size() <= p.opts.MinActors {
					break
				}
				if now.Sub(p.idle[h.ID()]) >= p.opts.IdleTimeout && p.pool.Remove(h) {
					delete(p.idle, h.ID())
					p.actors = slices.DeleteFunc(p.actors, func(a *shoal.ActorHandle[M]) bool { return a == h })
					h.Kill(ctx)
					p.event(fmt.Sprintf("actor pool %s: %d actors (-1: idle for %v)", p.class.Name(), p.pool.Size(), p.opts.IdleTimeout))
				}
			}
		}
	}
}

func (p *pool[M]) close(ctx context.Context) {
	if p.stop != nil {
		p.stop()
		<-p.done
	}
	for _, h := range p.actors {
		h.Kill(context.WithoutCancel(ctx))
	}
	p.event(fmt.Sprintf("actor pool %s: done, %d actors stopped", p.class.Name(), len(p.actors)))
}
