package shoal

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/codec"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/registry"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// Func is a registered remote function whose result has type R. Create one
// at package level with Func0 ... Func4 so that the driver and every executor
// register it; call it with Remote.
type Func[R any] struct {
	entry *registry.Entry
	opts  callOptions
	// direct: R cannot hold futures or actor handles, so a task's result
	// may stay with its caller (worker leases).
	direct bool
	// byName: a function of another binary (ByName), whose parameters are
	// not known here.
	byName bool
}

// StoreResults makes the function's results stay in the store of the node
// that computed them whatever their size, never inline in messages to the
// head and the caller (which smaller results are): for results read in
// ranges where they are, such as a shuffle's map outputs, which would
// otherwise pile up in the coordinator. Call it where the function is
// registered (package level); it returns f.
func (f *Func[R]) StoreResults() *Func[R] {
	f.entry.StoreResult = true
	return f
}

// Name is the name the function was registered under.
func (f *Func[R]) Name() string { return f.entry.Name }

func register[R any](name string, params []reflect.Type, invoke registry.Invoker) *Func[R] {
	e := &registry.Entry{Name: name, Params: params, Result: reflect.TypeFor[R](), Invoke: invoke, Nested: nestedIDs}
	registry.Register(e)
	return &Func[R]{entry: e, opts: defaultCallOptions(), direct: !typeMayHold(reflect.TypeFor[R]())}
}

func decodeArg[T any](ctx context.Context, args [][]byte, i int) (T, error) {
	v, err := codec.DecodeAs[T](args[i])
	if err != nil {
		return v, &registry.ArgError{Index: i, Want: reflect.TypeFor[T](), Err: err}
	}
	if c, ok := client.FromContext(ctx); ok {
		bindNested(c, v)
	}
	return v, nil
}

// Func0 registers a remote function with no arguments.
func Func0[R any](name string, fn func(context.Context) (R, error)) *Func[R] {
	return register[R](name, nil, func(ctx context.Context, _ [][]byte) (any, error) { return fn(ctx) })
}

// Func1 registers a remote function of one argument.
func Func1[A, R any](name string, fn func(context.Context, A) (R, error)) *Func[R] {
	return register[R](name, []reflect.Type{reflect.TypeFor[A]()}, func(ctx context.Context, args [][]byte) (any, error) {
		a, err := decodeArg[A](ctx, args, 0)
		if err != nil {
			return nil, err
		}
		return fn(ctx, a)
	})
}

// Func2 registers a remote function of two arguments.
func Func2[A, B, R any](name string, fn func(context.Context, A, B) (R, error)) *Func[R] {
	return register[R](name, []reflect.Type{reflect.TypeFor[A](), reflect.TypeFor[B]()}, func(ctx context.Context, args [][]byte) (any, error) {
		a, err := decodeArg[A](ctx, args, 0)
		if err != nil {
			return nil, err
		}
		b, err := decodeArg[B](ctx, args, 1)
		if err != nil {
			return nil, err
		}
		return fn(ctx, a, b)
	})
}

// Func3 registers a remote function of three arguments.
func Func3[A, B, C, R any](name string, fn func(context.Context, A, B, C) (R, error)) *Func[R] {
	return register[R](name, []reflect.Type{reflect.TypeFor[A](), reflect.TypeFor[B](), reflect.TypeFor[C]()}, func(ctx context.Context, args [][]byte) (any, error) {
		a, err := decodeArg[A](ctx, args, 0)
		if err != nil {
			return nil, err
		}
		b, err := decodeArg[B](ctx, args, 1)
		if err != nil {
			return nil, err
		}
		c, err := decodeArg[C](ctx, args, 2)
		if err != nil {
			return nil, err
		}
		return fn(ctx, a, b, c)
	})
}

// Func4 registers a remote function of four arguments.
func Func4[A, B, C, D, R any](name string, fn func(context.Context, A, B, C, D) (R, error)) *Func[R] {
	return register[R](name, []reflect.Type{reflect.TypeFor[A](), reflect.TypeFor[B](), reflect.TypeFor[C](), reflect.TypeFor[D]()}, func(ctx context.Context, args [][]byte) (any, error) {
		a, err := decodeArg[A](ctx, args, 0)
		if err != nil {
			return nil, err
		}
		b, err := decodeArg[B](ctx, args, 1)
		if err != nil {
			return nil, err
		}
		c, err := decodeArg[C](ctx, args, 2)
		if err != nil {
			return nil, err
		}
		d, err := decodeArg[D](ctx, args, 3)
		if err != nil {
			return nil, err
		}
		return fn(ctx, a, b, c, d)
	})
}

// CallOption sets how one call (or every call of a Func, with With) runs.
// The placement options (WithResources, WithSpread, WithPack,
// WithNodeAffinity, WithEnv) are CallOptions and ActorOptions both.
type CallOption interface{ applyCall(*callOptions) }

// callOption is a CallOption of calls alone.
type callOption func(*callOptions)

func (f callOption) applyCall(o *callOptions) { f(o) }

type callOptions struct {
	placement
	maxRetries  int32
	retryErrors bool
}

func defaultCallOptions() callOptions {
	return callOptions{placement: placement{resources: Resources{CPU: 1}}, maxRetries: 3}
}

// placement is what tasks and actors are both told: what they hold, where
// they run and their environment.
type placement struct {
	resources    Resources
	strategy     pb.Strategy
	affinity     string
	affinitySoft bool
	env          []string
	envErr       error
}

// Placement is an option of both tasks and actors: what they hold, where
// they run, their environment. It is a CallOption and an ActorOption.
type Placement struct{ set func(*placement) }

func (p Placement) applyCall(o *callOptions)   { p.set(&o.placement) }
func (p Placement) applyActor(o *actorOptions) { p.set(&o.placement) }

// WithResources sets what a task needs while it runs, or what an actor
// holds for its lifetime (default: 1 CPU for both).
func WithResources(r Resources) Placement { return Placement{func(p *placement) { p.resources = r }} }

// WithSpread places tasks (or an actor) on the least busy nodes, ignoring
// data locality.
func WithSpread() Placement {
	return Placement{func(p *placement) { p.strategy = pb.Strategy_STRATEGY_SPREAD }}
}

// WithPack fills the busiest node that fits before using others.
func WithPack() Placement {
	return Placement{func(p *placement) { p.strategy = pb.Strategy_STRATEGY_PACK }}
}

// WithNodeAffinity runs the task (or creates the actor) on the node with
// the given ID (from ClusterStatus). If soft, it may run elsewhere when that
// node is gone; otherwise it fails then.
func WithNodeAffinity(nodeID string, soft bool) Placement {
	return Placement{func(p *placement) { p.affinity, p.affinitySoft = nodeID, soft }}
}

// WithEnv runs the task (or the actor) with these environment variables
// set over the job's, in an executor process of its own (started once per
// node for each distinct environment, as Ray's per-task runtime_env
// env_vars). Tasks it starts inherit them. Names must be non-empty and hold
// no '=' or NUL.
func WithEnv(vars map[string]string) Placement {
	env, err := envList(vars)
	return Placement{func(p *placement) { p.env, p.envErr = env, err }}
}

// WithMaxRetries sets how many times a task is retried after a system
// failure such as its node dying (default 3; -1 retries forever).
func WithMaxRetries(n int) CallOption {
	return callOption(func(o *callOptions) { o.maxRetries = int32(n) })
}

// WithRetryOnError also retries a task whose function returned an error or
// panicked, within the same MaxRetries.
func WithRetryOnError() CallOption { return callOption(func(o *callOptions) { o.retryErrors = true }) }

// resolve checks the placement and returns its resources and node
// affinity for the wire (a nil node: none).
func (p *placement) resolve() (res scheduler.Resources, node []byte, err error) {
	if res, err = p.resources.internal(); err != nil {
		return res, nil, err
	}
	if p.envErr != nil {
		return res, nil, p.envErr
	}
	if p.affinity != "" {
		id, err := ids.Parse(p.affinity)
		if err != nil {
			return res, nil, fmt.Errorf("node affinity: %w", err)
		}
		node = id.Bytes()
	}
	return res, node, nil
}

// envList turns vars into sorted KEY=VALUE strings, refusing a name the
// OS cannot take.
func envList(vars map[string]string) ([]string, error) {
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("environment variable %q=%q: names must be non-empty and hold no '=' or NUL, values no NUL", k, v)
		}
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env, nil
}

// With returns a copy of f whose calls use opts.
func (f *Func[R]) With(opts ...CallOption) *Func[R] {
	g := *f
	if g.opts.resources.Custom != nil {
		g.opts.resources.Custom = copyMap(g.opts.resources.Custom)
	}
	for _, o := range opts {
		o.applyCall(&g.opts)
	}
	return &g
}

func copyMap(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Remote calls f on the cluster with args and returns the future of its
// result at once. Each argument is a value of the parameter's type (numbers
// convert when no precision is lost) or a *Future whose value has that type;
// a future argument is passed without fetching it here, and the task starts
// once it is ready. Errors, including bad arguments, are reported by the
// future's Get. If ctx is cancelled before the task finishes, the task is
// cancelled.
func (f *Func[R]) Remote(ctx context.Context, args ...any) *Future[R] {
	c, err := clientFrom(ctx)
	if err != nil {
		return failedFuture[R](err)
	}
	spec, release, err := f.spec(ctx, args)
	if err != nil {
		return &Future[R]{ref: c.Failed(fmt.Errorf("%w: calling %q: %v", ErrBadArgument, f.entry.Name, err)), c: c}
	}
	ref := c.Submit(ctx, spec, f.direct)
	for _, r := range release {
		r()
	}
	cancelWithContext(ctx, ref)
	return newFuture[R](c, ref)
}

func (f *Func[R]) spec(ctx context.Context, args []any) (*pb.TaskSpec, []func(), error) {
	e := f.entry
	if !f.byName && len(args) != len(e.Params) {
		return nil, nil, fmt.Errorf("%s takes %d arguments, got %d", e.Signature(), len(e.Params), len(args))
	}
	res, node, err := f.opts.resolve()
	if err != nil {
		return nil, nil, err
	}
	spec := &pb.TaskSpec{
		Function:       e.Name,
		Args:           make([]*pb.Arg, len(args)),
		MaxRetries:     f.opts.maxRetries,
		RetryAppErrors: f.opts.retryErrors,
		Strategy:       f.opts.strategy,
		Env:            f.opts.env,
		AffinityNode:   node,
		AffinitySoft:   node != nil && f.opts.affinitySoft,
	}
	if res.CPU != scheduler.Unit || res.GPU != 0 || res.Memory != 0 || len(res.Custom) > 0 {
		spec.Resources = &pb.Resources{Cpu: res.CPU, Gpu: res.GPU, Memory: res.Memory, Custom: res.Custom}
	} else {
		spec.Resources = oneCPU
	}
	c, _ := clientFrom(ctx)
	var release []func()
	spec.Args, release, err = encodeArgsAs(ctx, c, e.Params, !f.byName, args)
	if err != nil {
		return nil, nil, err
	}
	return spec, release, nil
}

// cancelWithContext cancels the task behind ref when ctx ends first.
func cancelWithContext(ctx context.Context, ref *client.Ref) {
	if ctx.Done() == nil || client.TrackChild(ctx, ref) {
		// Inside a task, the executor cancels the task's children when the
		// task is cancelled.
		return
	}
	stop := context.AfterFunc(ctx, func() {
		// A task's context also ends when it returns; the tasks it started
		// go on then. Only a real cancellation cancels them.
		if !errors.Is(context.Cause(ctx), client.ErrTaskReturned) {
			ref.Cancel()
		}
	})
	ref.OnReady(func() { stop() })
}

// encodeArgs checks args against the parameter types and encodes them:
// futures by reference, small values inline, large values Put once (the
// returned release functions drop those Puts' references after submission).
func encodeArgs(ctx context.Context, c *client.Client, params []reflect.Type, args []any) ([]*pb.Arg, []func(), error) {
	return encodeArgsAs(ctx, c, params, true, args)
}

// encodeArgsAs is encodeArgs, checking the arguments against params only
// when checked (ByName's are checked where the function runs).
func encodeArgsAs(ctx context.Context, c *client.Client, params []reflect.Type, checked bool, args []any) ([]*pb.Arg, []func(), error) {
	if checked && len(args) != len(params) {
		return nil, nil, fmt.Errorf("takes %d arguments, got %d", len(params), len(args))
	}
	out := make([]*pb.Arg, len(args))
	var release []func()
	for i, a := range args {
		var want reflect.Type // (nil: unchecked here)
		if checked {
			want = params[i]
		}
		if fa, ok := a.(futureArg); ok {
			if t := fa.elemType(); want != nil && !t.AssignableTo(want) {
				return nil, nil, fmt.Errorf("argument %d is a future of %s, want %s", i+1, t, want)
			}
			if h, ok := a.(heldRef); ok {
				h.bind(c) // a future decoded from a value
			}
			r := fa.clientRef()
			if r == nil {
				return nil, nil, fmt.Errorf("argument %d is a future that failed before it was sent", i+1)
			}
			if r.Released() {
				return nil, nil, fmt.Errorf("argument %d is a released future", i+1)
			}
			r.Export()
			out[i] = &pb.Arg{Object: r.ID.Bytes()}
			continue
		}
		v := a
		if want != nil {
			var err error
			if v, err = convertArg(a, want); err != nil {
				return nil, nil, fmt.Errorf("argument %d: %w", i+1, err)
			}
		}
		enc, tag, payload, err := codec.Split(v, c.InlineLimit())
		if err != nil {
			return nil, nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		if enc == nil {
			// Large arguments go to the object store once, by reference.
			ref, err := c.Put(ctx, tag, payload, nestedIDs(v))
			if err != nil {
				return nil, nil, fmt.Errorf("argument %d: storing it: %w", i+1, err)
			}
			out[i] = &pb.Arg{Object: ref.ID.Bytes()}
			release = append(release, ref.Release)
			continue
		}
		out[i] = &pb.Arg{Value: enc, Nested: nestedIDs(v)}
	}
	return out, release, nil
}

var oneCPU = &pb.Resources{Cpu: scheduler.Unit}

// convertArg returns a as a value of type want: as is when assignable, or
// converted between numeric types when the value survives the round trip.
func convertArg(a any, want reflect.Type) (any, error) {
	if a == nil {
		switch want.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map:
			return reflect.Zero(want).Interface(), nil
		}
		return nil, fmt.Errorf("got nil, want %s", want)
	}
	t := reflect.TypeOf(a)
	if t == want || t.AssignableTo(want) {
		return a, nil
	}
	if isNumber(t.Kind()) && isNumber(want.Kind()) {
		v := reflect.ValueOf(a)
		c := v.Convert(want)
		back := c.Convert(t)
		if back.Equal(v) && !(isFloat(t.Kind()) && !isFloat(want.Kind()) && math.Trunc(v.Float()) != v.Float()) {
			return c.Interface(), nil
		}
		return nil, fmt.Errorf("%v (%s) does not fit in %s", a, t, want)
	}
	return nil, fmt.Errorf("got %s, want %s", t, want)
}

func isNumber(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Float64
}

func isFloat(k reflect.Kind) bool { return k == reflect.Float32 || k == reflect.Float64 }

// ByName is the remote function registered under name, which need not be
// registered in this binary (another program's, on the same cluster): its
// calls go the way Remote's do (large arguments stored once, futures passed
// by reference, the same options and retries), but their arguments are sent
// as given and checked by the executor that runs them. R is the type to
// decode the result as.
func ByName[R any](name string) *Func[R] {
	e := &registry.Entry{Name: name, Result: reflect.TypeFor[R]()}
	return &Func[R]{entry: e, opts: defaultCallOptions(), direct: !typeMayHold(reflect.TypeFor[R]()), byName: true}
}

// CallByName calls the remote function registered under name with args:
// ByName[R](name).Remote(ctx, args...).
func CallByName[R any](ctx context.Context, name string, args ...any) *Future[R] {
	return ByName[R](name).Remote(ctx, args...)
}
