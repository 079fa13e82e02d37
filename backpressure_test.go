package shoal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/client"
)

var (
	// bpWaitFile returns once path exists: a gate the test opens.
	bpWaitFile = shoal.Func1("test.bp_wait_file", func(ctx context.Context, path string) (int, error) {
		for {
			if _, err := os.Stat(path); err == nil {
				return 1, nil
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	// bpTree counts the leaves of a tree of nested tasks, each starting
	// all its children before it waits for any.
	bpTree = shoal.Func2("test.bp_tree", func(ctx context.Context, depth, fan int) (int, error) {
		if depth == 0 {
			return 1, nil
		}
		children := make([]*shoal.Future[int], fan)
		for i := range children {
			children[i] = shoal.CallByName[int](ctx, "test.bp_tree", depth-1, fan)
		}
		return sumOf(ctx, children)
	})
)

// bpBound is the bound the executor running it was given.
var bpBound = shoal.Func0("test.bp_bound", func(context.Context) (string, error) { return os.Getenv(client.EnvMaxPendingTasks), nil })

// TestRemoteWaitsAtPendingBound: with WithMaxPendingTasks(3) and three
// tasks unfinished, Remote waits; a cancelled context ends the wait with a
// future that fails with the context's error; the waiting Remote returns
// once the tasks finish.
func TestRemoteWaitsAtPendingBound(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t), shoal.WithMaxPendingTasks(3)), time.Minute)
	gate := filepath.Join(t.TempDir(), "open")
	var held []*shoal.Future[int]
	for range 3 {
		held = append(held, bpWaitFile.Remote(ctx, gate))
	}
	fourth := make(chan *shoal.Future[int], 1)
	go func() { fourth <- bpWaitFile.Remote(ctx, gate) }()
	select {
	case <-fourth:
		t.Fatal("Remote returned with 3 of 3 tasks unfinished")
	case <-time.After(300 * time.Millisecond): // a bound on "returned early", not a wait for a condition
	}

	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan *shoal.Future[int], 1)
	go func() { cancelled <- bpWaitFile.Remote(cctx, gate) }()
	cancel()
	if _, err := (<-cancelled).Get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("a Remote cancelled while waiting: %v, want context.Canceled", err)
	}

	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	held = append(held, <-fourth)
	requireValues(t, ctx, held, func(int) int { return 1 })
}

// TestNestedSubmissionAtPendingBound: a tree of nested tasks whose levels
// are far wider than the bound (2, which the job's executors keep too)
// finishes: tasks waiting at the bound give their CPUs back, and a task
// with no unfinished child never waits.
func TestNestedSubmissionAtPendingBound(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t), shoal.WithMaxPendingTasks(2)), 2*time.Minute)
	if b, err := bpBound.Remote(ctx).Get(ctx); err != nil || b != "2" {
		t.Fatalf("the job's executors have $%s=%q (%v), want 2", client.EnvMaxPendingTasks, b, err)
	}
	got, err := bpTree.Remote(ctx, 3, 4).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != 64 {
		t.Fatalf("counted %d leaves, want 64", got)
	}
}
