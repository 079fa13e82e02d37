package chaos

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/retry"
)

// The tasks workload is the field's chaos test of tasks (Ray's
// test_chaos_basic task workload): CPUs × 2 × scale parents, each of which
// sleeps briefly, then submits one child and waits for it. The child
// returns 50 KB; the parent returns the child's digest, which the driver
// checks against the digest of the bytes it generates itself. Both retry
// without limit after a node dies (max_retries=-1, as in the field's test).

const tasksChildBytes = 50 << 10

var (
	tasksChild = shoal.Func2("chaos.tasks.child", func(_ context.Context, i int, seed int64) ([]byte, error) {
		return payload(seed, 1, uint64(i), tasksChildBytes), nil
	}).With(shoal.WithMaxRetries(-1))

	tasksParent = shoal.Func3("chaos.tasks.parent", func(ctx context.Context, i int, seed int64, nap time.Duration) (string, error) {
		if err := retry.Sleep(ctx, nap); err != nil {
			return "", err
		}
		child := tasksChild.Remote(ctx, i, seed)
		defer child.Release()
		b, err := child.Get(ctx)
		if err != nil {
			return "", fmt.Errorf("the child of parent %d: %w", i, err)
		}
		return tasksDigest(i, b), nil
	}).With(shoal.WithMaxRetries(-1))
)

func tasksDigest(i int, b []byte) string {
	return fmt.Sprintf("%d:%d:%x", i, len(b), sha256.Sum256(b))
}

type tasksWorkload struct{}

func init() { Register(tasksWorkload{}) }

func (tasksWorkload) Name() string   { return "tasks" }
func (tasksWorkload) KeepNode() bool { return false }
func (tasksWorkload) Describe() string {
	return "CPUs×2×scale parents that each sleep --sleep and get one child (50 KB); every digest checked"
}

func (tasksWorkload) Run(ctx context.Context, env Env) Outcome {
	parents := int(env.CPUs*2) * env.Scale
	o := Outcome{Expected: int64(parents), Tasks: 2 * int64(parents), Details: map[string]int64{"parents": int64(parents), "children": int64(parents)}}
	env.Logf("tasks: %d parents (sleep %v), one child each", parents, env.Sleep)
	futs := make([]*shoal.Future[string], parents)
	for i := range futs {
		futs[i] = tasksParent.Remote(ctx, i, env.Seed, env.Sleep)
	}
	pr := newProgress("tasks", parents, env.Logf)
	for i, f := range futs {
		got, err := f.Get(ctx)
		if ctx.Err() != nil {
			o.Err = fmt.Errorf("tasks: %d of %d parents verified when the workload's deadline passed (%s): %w",
				o.Verified, parents, unfinished(futs[i:], i, "parent"), ctx.Err())
			break
		}
		f.Release()
		switch want := tasksDigest(i, payload(env.Seed, 1, uint64(i), tasksChildBytes)); {
		case err != nil:
			o.problem("parent %d failed: %v", i, err)
		case got != want:
			o.problem("parent %d returned %q, want %q", i, got, want)
		default:
			o.Verified++
		}
		pr.done(i + 1)
	}
	o.LastResult = time.Now()
	for _, f := range futs {
		f.Release()
	}
	return o
}
