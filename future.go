package shoal

import (
	"context"
	"sync/atomic"

	"fmt"
	"github.com/shoal-dev/shoal/internal/ids"
	"reflect"
	"runtime"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/codec"
)

// Future is the result of a remote call or a Put: an object in the
// cluster, of type T, that is (or will be) ready. Its identity is a unique
// ID; two futures are the same only if they are the same object.
type Future[T any] struct {
	c    *client.Client
	ref  *client.Ref
	id   ids.ID  // set with ref, or alone on a decoded future not yet bound
	hold *holder // this future's share of ref

	mu      sync.Mutex
	decoded bool
	val     T
	err     error
}

func (f *Future[T]) heldID() (ids.ID, bool) {
	if f.ref != nil {
		return f.ref.ID, true
	}
	return f.id, !f.id.IsNil()
}

// bind makes a decoded future usable in this process: it borrows its
// object from the head.
func (f *Future[T]) bind(c *client.Client) {
	if f.ref != nil || f.id.IsNil() {
		return
	}
	f.c, f.ref = c, c.Borrow(f.id)
	f.hold = hold(f, f.ref)
}

// holder is one handle's share of a reference: released once, explicitly
// or when the handle becomes unreachable.
type holder struct {
	ref      *client.Ref
	released atomic.Bool
}

func (h *holder) release() {
	if !h.released.Swap(true) {
		h.ref.Release()
	}
}

// hold gives handle (a *Future or *ActorHandle) a share of ref that a
// cleanup releases when the handle is garbage collected.
func hold[H any](handle *H, ref *client.Ref) *holder {
	h := &holder{ref: ref}
	runtime.AddCleanup(handle, func(h *holder) { h.release() }, h)
	return h
}

// MarshalBinary encodes the future's identity, so that futures can travel
// inside values (task arguments and results, Puts).
func (f *Future[T]) MarshalBinary() ([]byte, error) {
	id, ok := f.heldID()
	if !ok {
		return nil, fmt.Errorf("a future that failed before it was sent cannot be encoded: %v", f.err)
	}
	if f.hold != nil && f.hold.released.Load() {
		return nil, fmt.Errorf("future %s was released; a released future cannot be sent inside a value", id.Short())
	}
	if f.ref != nil {
		f.ref.Export() // the head must know it before a value names it
	}
	return id.Bytes(), nil
}

// UnmarshalBinary decodes a future's identity; the future is bound to the
// cluster when the value holding it is decoded by Get or by a task.
func (f *Future[T]) UnmarshalBinary(b []byte) error {
	id, err := ids.FromBytes("future id", b)
	if err != nil {
		return err
	}
	f.id = id
	return nil
}

// futureArg is how Remote recognises a future among its arguments.
type futureArg interface {
	clientRef() *client.Ref
	elemType() reflect.Type
}

func (f *Future[T]) clientRef() *client.Ref { return f.ref }
func (f *Future[T]) elemType() reflect.Type { return reflect.TypeFor[T]() }

func newFuture[T any](c *client.Client, ref *client.Ref) *Future[T] {
	f := &Future[T]{c: c, ref: ref, id: ref.ID}
	f.hold = hold(f, ref)
	return f
}

func failedFuture[T any](err error) *Future[T] {
	return &Future[T]{decoded: true, err: err}
}

// ID is the future's unique identity.
func (f *Future[T]) ID() string {
	if id, ok := f.heldID(); ok {
		return id.String()
	}
	return ""
}

// Get waits for the value and returns it. A failed task returns a
// *TaskError that says which task failed, where and why.
//
// A large []byte value, or an Arrow record batch (shoal/arrowcodec), held
// by the node this process runs on is returned without a copy, as a
// read-only view of the node's shared memory. An Arrow batch stays valid
// for as long as it, or any array of it, is reachable, whatever becomes of
// the future (its buffers hold the memory). A []byte stays valid until the
// future is released (Release, or the garbage collector once the future is
// unreachable): keep the future while using it, or copy it; so too for
// slices taken out of a batch's arrays (Int64Values and the like) once
// nothing reaches the arrays.
func (f *Future[T]) Get(ctx context.Context) (T, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.decoded {
		return f.val, f.err
	}
	if f.ref == nil {
		c, err := clientFrom(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		f.bind(c)
	}
	if f.hold != nil && f.hold.released.Load() {
		var zero T
		return zero, fmt.Errorf("future %s was released; a released future cannot be read", f.id.Short())
	}
	data, err := f.c.Bytes(ctx, f.ref)
	if err != nil {
		var zero T
		if ctx.Err() != nil && err == ctx.Err() {
			return zero, err // not final: the value may come later
		}
		f.decoded, f.err = true, err
		return zero, err
	}
	f.val, f.err = codec.DecodeAs[T](data)
	if f.err != nil {
		f.err = fmt.Errorf("decoding the value of future %s as %T: %w", f.ref.ID.Short(), f.val, f.err)
	} else {
		bindNested(f.c, f.val)
		// A value read in place (a view of the store's memory) keeps it
		// for as long as the value can reach it, not only as long as
		// this future: each object through which it does (an Arrow
		// batch's buffers) holds a share of the view until the garbage
		// collector finds it unreachable. A batch kept after its future
		// was released read memory the store could reuse.
		if codec.MayAnchor[T]() {
			codec.Anchor(f.val, f.ref.ShareView)
		}
	}
	f.decoded = true
	return f.val, f.err
}

// Done is closed when the value is ready (or failed).
func (f *Future[T]) Done() <-chan struct{} {
	if f.ref == nil {
		return closedChan
	}
	return f.ref.Ready()
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Ready reports whether the value is ready (or failed).
func (f *Future[T]) Ready() bool {
	select {
	case <-f.Done():
		return true
	default:
		return false
	}
}

// Release gives up this future's reference to its object, so the cluster
// can free it once no task needs it. Get fails after Release.
func (f *Future[T]) Release() {
	if f.hold != nil {
		f.hold.release()
	}
}

// Cancel cancels the task that produces the value, if it has not finished:
// its Get then fails with ErrCancelled.
func (f *Future[T]) Cancel() {
	if f.ref != nil {
		f.ref.Cancel()
	}
}

// Put stores v in the cluster and returns its future, for passing the same
// value to many tasks without sending it again.
func Put[T any](ctx context.Context, v T) (*Future[T], error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return nil, err
	}
	tag, payload, err := codec.Parts(v)
	if err != nil {
		return nil, fmt.Errorf("shoal: Put: %w", err)
	}
	ref, err := c.Put(ctx, tag, payload, nestedIDs(v))
	if err != nil {
		return nil, fmt.Errorf("shoal: Put: %w", err)
	}
	return newFuture[T](c, ref), nil
}

// GetAll waits for every future and returns their values in order. It
// stops at the first failure, whose error names the future's position.
func GetAll[T any](ctx context.Context, futs []*Future[T]) ([]T, error) {
	out := make([]T, len(futs))
	for i, f := range futs {
		v, err := f.Get(ctx)
		if err != nil {
			return nil, fmt.Errorf("future %d of %d: %w", i, len(futs), err)
		}
		out[i] = v
	}
	return out, nil
}

// Awaitable is anything Wait can wait on; every *Future is one.
type Awaitable interface {
	Done() <-chan struct{}
}

// Wait waits until n of futs are ready (or failed), until timeout passes, or
// until ctx ends, and splits futs into at most n ready ones and the rest,
// each in their original order (as Ray's wait: when more than n are ready,
// the first n of them in futs count as ready). A timeout of 0 checks
// without waiting; a negative one waits without limit.
func Wait[F Awaitable](ctx context.Context, futs []F, n int, timeout time.Duration) (ready, notReady []F, err error) {
	if n > len(futs) || n < 0 {
		return nil, nil, fmt.Errorf("shoal: Wait for %d of %d futures: want 0 ≤ n ≤ %d", n, len(futs), len(futs))
	}
	isReady := make([]bool, len(futs))
	count := 0
	for i, f := range futs {
		select {
		case <-f.Done():
			isReady[i] = true
			count++
		default:
		}
	}
	if count < n && timeout != 0 {
		var deadline <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			deadline = t.C
		}
		if n == len(futs) {
			err = waitEach(ctx, futs, isReady, deadline)
		} else {
			err = waitAny(ctx, futs, isReady, n-count, deadline)
		}
	}
	count = 0
	for _, r := range isReady {
		if r {
			count++
		}
	}
	ready, notReady = make([]F, 0, min(count, n)), make([]F, 0, len(futs)-min(count, n))
	for i, f := range futs {
		if isReady[i] && len(ready) < n {
			ready = append(ready, f)
		} else {
			notReady = append(notReady, f)
		}
	}
	return ready, notReady, err
}

// waitEach waits for every future of futs not marked ready, in order (each
// must become ready: no goroutine each), marking them, until deadline or
// ctx ends; then marks those that became ready meanwhile.
func waitEach[F Awaitable](ctx context.Context, futs []F, isReady []bool, deadline <-chan time.Time) error {
	for i, f := range futs {
		if isReady[i] {
			continue
		}
		select {
		case <-f.Done():
			isReady[i] = true
		case <-deadline:
			markReady(futs, isReady)
			return nil
		case <-ctx.Done():
			markReady(futs, isReady)
			return ctx.Err()
		}
	}
	return nil
}

// markReady marks the futures of futs that are ready.
func markReady[F Awaitable](futs []F, isReady []bool) {
	for i, f := range futs {
		select {
		case <-f.Done():
			isReady[i] = true
		default:
		}
	}
}

// waitAny waits until want more of the futures of futs not marked ready
// are, marking them, until deadline or ctx ends: a goroutine watches
// each.
func waitAny[F Awaitable](ctx context.Context, futs []F, isReady []bool, want int, deadline <-chan time.Time) (err error) {
	stop := make(chan struct{})
	readyIdx := make(chan int, len(futs))
	var wg sync.WaitGroup
	for i, f := range futs {
		if isReady[i] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-f.Done():
				readyIdx <- i
			case <-stop:
			}
		}()
	}
loop:
	for want > 0 {
		select {
		case i := <-readyIdx:
			isReady[i] = true
			want--
		case <-deadline:
			break loop
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		}
	}
	close(stop)
	wg.Wait()
	close(readyIdx)
	for i := range readyIdx {
		isReady[i] = true
	}
	return err
}

// ReadRange returns bytes [off, off+n) of the []byte value of f without
// reading the rest: a view of the node's shared memory when the object is
// on the node this process runs on (valid until release is called, once),
// else that range fetched from a node that holds it. A map task's shuffle
// output is read this way, a reducer's part at a time.
func ReadRange(ctx context.Context, f *Future[[]byte], off, n int64) (data []byte, release func(), err error) {
	if f.ref == nil {
		c, err := clientFrom(ctx)
		if err != nil {
			return nil, nil, err
		}
		f.bind(c)
	}
	if f.ref == nil {
		return nil, nil, fmt.Errorf("shoal: ReadRange of a future that failed before it was sent: %v", f.err)
	}
	if f.hold != nil && f.hold.released.Load() {
		return nil, nil, fmt.Errorf("shoal: future %s was released; a released future cannot be read", f.ref.ID.Short())
	}
	// (The encoded value is a tag byte, then the bytes.)
	b, release, err := f.c.ReadRange(ctx, f.ref, off+1, n)
	if err != nil {
		return nil, nil, fmt.Errorf("shoal: reading bytes [%d, +%d) of future %s: %w", off, n, f.ref.ID.Short(), err)
	}
	return b, release, nil
}

// Err returns why the task (or object) behind f failed, once it is ready,
// without reading its value (nil when it succeeded or is not ready yet):
// a coordinator checks its tasks this way, leaving their outputs where
// they are.
func (f *Future[T]) Err() error {
	if f.ref == nil {
		return f.err
	}
	if !f.ref.IsReady() {
		return nil
	}
	return f.ref.Err()
}
