package shoal

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/registry"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// ActorClass is a registered actor type: a constructor that builds a *T in
// an executor, and methods (Method0 ... Method2) that run on it there. An
// actor keeps its state across calls, holds its resources (1 CPU by default)
// for its lifetime, and runs calls in the order they were made.
//
//	type Counter struct{ n int }
//
//	var counter = shoal.Actor1("Counter", func(_ context.Context, start int) (*Counter, error) {
//		return &Counter{n: start}, nil
//	})
//
//	var incr = shoal.Method1(counter, "Incr", func(_ context.Context, c *Counter, by int) (int, error) {
//		c.n += by
//		return c.n, nil
//	})
//
//	h, err := counter.New(ctx, 10, shoal.WithActorName("counter"))
//	v, err := incr.Remote(ctx, h, 5).Get(ctx) // 15
type ActorClass[T any] struct {
	entry *registry.Entry
	opts  actorOptions
}

// actorClasses maps each actor type to its class name, so that GetActor can
// check a named actor's type. It is a registry written at init time.
var actorClasses = struct {
	sync.RWMutex
	byType map[reflect.Type]string
}{byType: map[reflect.Type]string{}}

// claimActorType records that class name makes *t. A handle's Go type
// names its class (handles passed to tasks, GetActor): two classes of one
// type would be taken for each other, so a second is refused.
func claimActorType(byType map[reflect.Type]string, t reflect.Type, name string) error {
	if other, ok := byType[t]; ok && other != name {
		return fmt.Errorf("shoal: actor classes %q and %q both make *%s; give each class a type of its own", other, name, t)
	}
	byType[t] = name
	return nil
}

func registerActor[T any](name string, params []reflect.Type, ctor registry.Invoker) *ActorClass[T] {
	e := &registry.Entry{Name: name, Params: params, Result: reflect.TypeFor[*T](), Invoke: ctor, Actor: true}
	actorClasses.Lock()
	err := claimActorType(actorClasses.byType, reflect.TypeFor[T](), name)
	actorClasses.Unlock()
	if err != nil {
		panic(err.Error()) // (at init, as a function registered twice)
	}
	registry.Register(e)
	return &ActorClass[T]{entry: e, opts: actorOptions{placement: placement{resources: Resources{CPU: 1}}, maxConcurrency: 1}}
}

// Actor0 registers an actor class whose constructor takes no argument.
func Actor0[T any](name string, ctor func(context.Context) (*T, error)) *ActorClass[T] {
	return registerActor[T](name, nil, func(ctx context.Context, _ [][]byte) (any, error) {
		return nonNil(ctor(ctx))
	})
}

// Actor1 registers an actor class whose constructor takes one argument.
func Actor1[A, T any](name string, ctor func(context.Context, A) (*T, error)) *ActorClass[T] {
	return registerActor[T](name, []reflect.Type{reflect.TypeFor[A]()}, func(ctx context.Context, args [][]byte) (any, error) {
		a, err := decodeArg[A](ctx, args, 0)
		if err != nil {
			return nil, err
		}
		return nonNil(ctor(ctx, a))
	})
}

// nonNil keeps a nil *T from becoming a non-nil interface value.
func nonNil[T any](v *T, err error) (any, error) {
	if err != nil || v == nil {
		return nil, err
	}
	return v, nil
}

// Name is the class's registered name.
func (c *ActorClass[T]) Name() string { return c.entry.Name }

// ActorOption sets how an actor is created. The placement options
// (WithResources, WithSpread, WithPack, WithNodeAffinity, WithEnv) are
// ActorOptions and CallOptions both.
type ActorOption interface{ applyActor(*actorOptions) }

// actorOption is an ActorOption of actors alone.
type actorOption func(*actorOptions)

func (f actorOption) applyActor(o *actorOptions) { f(o) }

type actorOptions struct {
	placement
	maxRestarts    int
	maxTaskRetries int
	name           string
	maxConcurrency int
}

// WithActorName names the actor so that other drivers and tasks of the
// cluster can find it with GetActor. Names are unique in a cluster.
func WithActorName(name string) ActorOption {
	return actorOption(func(o *actorOptions) { o.name = name })
}

// WithMaxConcurrency lets up to n calls run on the actor at once (default
// 1: one at a time, in order).
func WithMaxConcurrency(n int) ActorOption {
	return actorOption(func(o *actorOptions) { o.maxConcurrency = n })
}

// WithMaxRestarts restarts the actor (runs its constructor again, on a
// node that fits) up to n times when its executor or node dies; -1 is
// unlimited. Default 0. A killed actor is never restarted.
func WithMaxRestarts(n int) ActorOption {
	return actorOption(func(o *actorOptions) { o.maxRestarts = n })
}

// WithMaxTaskRetries retries, up to n times, a call that was running when
// its actor died and restarted; -1 is unlimited. Default 0: such a call
// fails with ErrActorDied. Calls waiting behind it are never lost.
func WithMaxTaskRetries(n int) ActorOption {
	return actorOption(func(o *actorOptions) { o.maxTaskRetries = n })
}

// New creates an actor with the constructor's argument (nil for Actor0
// classes) and returns its handle at once; calls made before the
// constructor has run wait for it. A constructor that fails makes every call
// (and Ready) fail with its error.
func (c *ActorClass[T]) New(ctx context.Context, arg any, opts ...ActorOption) (*ActorHandle[T], error) {
	var args []any
	if len(c.entry.Params) > 0 {
		args = []any{arg}
	} else if arg != nil {
		return nil, fmt.Errorf("%w: actor %s's constructor takes no argument, got %T", ErrBadArgument, c.Name(), arg)
	}
	cl, err := clientFrom(ctx)
	if err != nil {
		return nil, err
	}
	o := c.opts
	for _, opt := range opts {
		opt.applyActor(&o)
	}
	if o.maxConcurrency < 1 {
		return nil, fmt.Errorf("shoal: creating actor %s: MaxConcurrency %d must be ≥ 1", c.Name(), o.maxConcurrency)
	}
	res, node, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("%w: creating actor %s: %v", ErrBadArgument, c.Name(), err)
	}
	encoded, release, err := encodeArgs(ctx, cl, c.entry.Params, args)
	if err != nil {
		return nil, fmt.Errorf("%w: creating actor %s: %v", ErrBadArgument, c.Name(), err)
	}
	spec := &pb.ActorSpec{Class: c.Name(), Args: encoded, MaxConcurrency: int32(o.maxConcurrency), Name: o.name, Strategy: o.strategy,
		MaxRestarts: int32(o.maxRestarts), MaxTaskRetries: int32(o.maxTaskRetries), Env: o.env, AffinityNode: node, AffinitySoft: node != nil && o.affinitySoft,
		Resources: &pb.Resources{Cpu: res.CPU, Gpu: res.GPU, Memory: res.Memory, Custom: res.Custom}}
	ref := cl.CreateActor(ctx, spec)
	for _, r := range release {
		r()
	}
	h := &ActorHandle[T]{id: ref.ID, class: c.Name(), name: o.name, ref: ref, creator: true}
	h.hold = hold(h, ref)
	return h, nil
}

// ActorHandle refers to a live actor. Handles can be passed to tasks and
// to other actors' methods (inside values too), and found by name with
// GetActor. An unnamed actor ends once every handle to it, everywhere, is
// gone and its pending calls are done, as in Ray; a named actor lives until
// it is killed or its creator ends.
type ActorHandle[T any] struct {
	id      ids.ID
	class   string
	name    string
	ref     *client.Ref // the actor's object: ready when the constructor ran
	hold    *holder
	creator bool
}

func (h *ActorHandle[T]) heldID() (ids.ID, bool) { return h.id, !h.id.IsNil() }

// bind makes a decoded handle keep its actor alive while it lives.
func (h *ActorHandle[T]) bind(c *client.Client) {
	if h.ref != nil || h.id.IsNil() {
		return
	}
	h.ref = c.Borrow(h.id)
	h.hold = hold(h, h.ref)
}

// ID is the actor's unique identity.
func (h *ActorHandle[T]) ID() string { return h.id.String() }

// Name is the actor's name, if it has one.
func (h *ActorHandle[T]) Name() string { return h.name }

// Ready waits until the actor's constructor has run and returns its error,
// if it failed.
func (h *ActorHandle[T]) Ready(ctx context.Context) error {
	c, err := clientFrom(ctx)
	if err != nil {
		return err
	}
	h.bind(c)
	_, err = c.Bytes(ctx, h.ref)
	return err
}

// Release gives up this handle's reference to the actor; an unnamed actor
// ends when no handle refers to it any more (a garbage-collected handle
// releases itself).
func (h *ActorHandle[T]) Release() {
	if h.hold != nil {
		h.hold.release()
	}
}

// Kill ends the actor: its pending and running calls fail with
// ErrActorDied, naming the actor, and its resources are freed.
func (h *ActorHandle[T]) Kill(ctx context.Context) error {
	c, err := clientFrom(ctx)
	if err != nil {
		return err
	}
	return c.KillActor(h.id)
}

// actorHandleWire is a handle on the wire.
type actorHandleWire struct {
	ID    string `json:"id"`
	Class string `json:"class"`
	Name  string `json:"name,omitempty"`
}

// MarshalBinary encodes the handle so it can be passed to tasks.
func (h *ActorHandle[T]) MarshalBinary() ([]byte, error) {
	return json.Marshal(actorHandleWire{ID: h.id.String(), Class: h.class, Name: h.name})
}

// UnmarshalBinary decodes a handle received as an argument.
func (h *ActorHandle[T]) UnmarshalBinary(b []byte) error {
	var w actorHandleWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decoding an actor handle: %w", err)
	}
	id, err := ids.Parse(w.ID)
	if err != nil {
		return fmt.Errorf("decoding an actor handle: %w", err)
	}
	if want := actorClassOf[T](); want != "" && want != w.Class {
		return fmt.Errorf("decoding an actor handle: the actor is a %s, not a %s", w.Class, want)
	}
	h.id, h.class, h.name = id, w.Class, w.Name
	return nil
}

func actorClassOf[T any]() string {
	actorClasses.RLock()
	defer actorClasses.RUnlock()
	return actorClasses.byType[reflect.TypeFor[T]()]
}

// GetActor finds the live actor named name. T must be its class's type.
func GetActor[T any](ctx context.Context, name string) (*ActorHandle[T], error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := c.Head().GetActor(ctx, &pb.GetActorRequest{Name: name})
	if err != nil {
		return nil, fmt.Errorf("shoal: looking up actor %q: %w", name, err)
	}
	if !rep.Found {
		return nil, fmt.Errorf("%w: no live actor is named %q in this cluster", ErrActorDied, name)
	}
	want := actorClassOf[T]()
	if want != rep.Class {
		return nil, fmt.Errorf("shoal: actor %q is a %s, not a %s", name, rep.Class, want)
	}
	id, err := ids.FromBytes("actor id", rep.ActorId)
	if err != nil {
		return nil, err
	}
	h := &ActorHandle[T]{id: id, class: rep.Class, name: name}
	h.bind(c)
	return h, nil
}

// Method is a registered method of actor class T with result type R.
type Method[T, R any] struct {
	entry *registry.Entry
	// direct: R cannot hold futures or actor handles, so a call's result
	// may stay with its caller (direct actor calls).
	direct bool
}

// Name is the method's registered name, "Class.Method".
func (m *Method[T, R]) Name() string { return m.entry.Name }

func registerMethod[T, R any](c *ActorClass[T], name string, params []reflect.Type, invoke registry.MethodInvoker) *Method[T, R] {
	e := &registry.Entry{Name: c.Name() + "." + name, Params: params, Result: reflect.TypeFor[R](), Method: invoke, Nested: nestedIDs}
	registry.Register(e)
	return &Method[T, R]{entry: e, direct: !typeMayHold(reflect.TypeFor[R]())}
}

func self[T any](v any) (*T, error) {
	t, ok := v.(*T)
	if !ok {
		return nil, fmt.Errorf("the actor is a %T, not a *%s", v, reflect.TypeFor[T]())
	}
	return t, nil
}

// Method0 registers a method without arguments.
func Method0[T, R any](c *ActorClass[T], name string, fn func(context.Context, *T) (R, error)) *Method[T, R] {
	return registerMethod[T, R](c, name, nil, func(ctx context.Context, v any, _ [][]byte) (any, error) {
		s, err := self[T](v)
		if err != nil {
			return nil, err
		}
		return fn(ctx, s)
	})
}

// Method1 registers a method of one argument.
func Method1[T, A, R any](c *ActorClass[T], name string, fn func(context.Context, *T, A) (R, error)) *Method[T, R] {
	return registerMethod[T, R](c, name, []reflect.Type{reflect.TypeFor[A]()}, func(ctx context.Context, v any, args [][]byte) (any, error) {
		s, err := self[T](v)
		if err != nil {
			return nil, err
		}
		a, err := decodeArg[A](ctx, args, 0)
		if err != nil {
			return nil, err
		}
		return fn(ctx, s, a)
	})
}

// Method2 registers a method of two arguments.
func Method2[T, A, B, R any](c *ActorClass[T], name string, fn func(context.Context, *T, A, B) (R, error)) *Method[T, R] {
	return registerMethod[T, R](c, name, []reflect.Type{reflect.TypeFor[A](), reflect.TypeFor[B]()}, func(ctx context.Context, v any, args [][]byte) (any, error) {
		s, err := self[T](v)
		if err != nil {
			return nil, err
		}
		a, err := decodeArg[A](ctx, args, 0)
		if err != nil {
			return nil, err
		}
		b, err := decodeArg[B](ctx, args, 1)
		if err != nil {
			return nil, err
		}
		return fn(ctx, s, a, b)
	})
}

// Remote calls the method on the actor h refers to and returns the future of
// its result at once. Arguments are checked and passed as for Func.Remote.
func (m *Method[T, R]) Remote(ctx context.Context, h *ActorHandle[T], args ...any) *Future[R] {
	c, err := clientFrom(ctx)
	if err != nil {
		return failedFuture[R](err)
	}
	if h == nil {
		return &Future[R]{ref: c.Failed(fmt.Errorf("%w: calling %s on a nil actor handle", ErrBadArgument, m.Name())), c: c}
	}
	encoded, release, err := encodeArgs(ctx, c, m.entry.Params, args)
	if err != nil {
		return &Future[R]{ref: c.Failed(fmt.Errorf("%w: calling %s: %v", ErrBadArgument, m.Name(), err)), c: c}
	}
	h.bind(c)
	// (ActorId aliases the handle's ID, which never changes once set.)
	ref := c.CallActor(ctx, &pb.ActorCall{ActorId: h.id[:], Method: m.entry.Name, Args: encoded}, m.direct)
	for _, r := range release {
		r()
	}
	cancelWithContext(ctx, ref)
	return newFuture[R](c, ref)
}
