package shoal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
)

// Crash isolation (issue 13, item 6): an actor lives in an executor of its
// own, so a task that crashes its executor (os.Exit, a panic in a
// goroutine it started) costs that executor's tasks only (retried as
// system failures) and never an actor's state; an actor's crash costs that
// actor. Errors say why: the exit status and the crash report.

var (
	panicInGoroutine = shoal.Func1("test.panicInGoroutine", func(_ context.Context, msg string) (int, error) {
		go func() { panic(msg) }()
		time.Sleep(time.Minute)
		return 0, nil
	})
	counterState = shoal.Method0(twiceClass, "State", func(_ context.Context, a *twiceActor) (string, error) {
		return fmt.Sprintf("%d:%d", os.Getpid(), a.calls), nil
	})
	actorPanicInGoroutine = shoal.Method1(twiceClass, "PanicInGoroutine", func(_ context.Context, _ *twiceActor, msg string) (int, error) {
		go func() { panic(msg) }()
		time.Sleep(time.Minute)
		return 0, nil
	})
	actorExit = shoal.Method1(twiceClass, "Exit", func(_ context.Context, _ *twiceActor, code int) (int, error) {
		os.Exit(code)
		return 0, nil
	})
)

func TestCrashCostsOnlyWhatItMust(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "4")
	ctx := within(t, connect(t, c), 2*time.Minute)
	a, b := readyTwice(t, ctx), readyTwice(t, ctx)
	for i := range 3 {
		if _, err := twiceOf.Remote(ctx, a, i).Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	before, err := counterState.Remote(ctx, a).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A long task beside the crashes: it is retried, and succeeds.
	beside := sleepThen.Remote(ctx, 1500*time.Millisecond, 11)
	time.Sleep(200 * time.Millisecond)

	_, err = crash.With(shoal.WithMaxRetries(0)).Remote(ctx, 3).Get(ctx)
	if !errors.Is(err, shoal.ErrExecutor) || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("task that called os.Exit(3): %v", err)
	}
	_, err = panicInGoroutine.With(shoal.WithMaxRetries(1)).Remote(ctx, "boom in a goroutine").Get(ctx)
	if !errors.Is(err, shoal.ErrExecutor) || !strings.Contains(err.Error(), "panic: boom in a goroutine") ||
		!strings.Contains(err.Error(), "test.panicInGoroutine") || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("task whose goroutine panicked: %v", err)
	}
	t.Logf("the error of a task whose goroutine panicked: %v", err)
	if v, err := beside.Get(ctx); err != nil || v != 11 {
		t.Fatalf("task running beside the crashes: %d %v", v, err)
	}
	// The actors of the job on that node kept their process and state.
	after, err := counterState.Remote(ctx, a).Get(ctx)
	if err != nil || after != before {
		t.Fatalf("actor after the crashes: %q %v, want %q (same process and state)", after, err, before)
	}
	// An actor's own crash costs that actor only, and says why.
	if _, err := actorPanicInGoroutine.Remote(ctx, b, "actor boom").Get(ctx); !errors.Is(err, shoal.ErrActorDied) {
		t.Fatalf("call that crashed its actor: %v", err)
	}
	_, err = twiceOf.Remote(ctx, b, 1).Get(ctx)
	if !errors.Is(err, shoal.ErrActorDied) || !strings.Contains(err.Error(), "panic: actor boom") {
		t.Fatalf("call after the actor crashed: %v", err)
	}
	t.Logf("the error of a call after its actor crashed: %v", err)
	if after, err := counterState.Remote(ctx, a).Get(ctx); err != nil || after != before {
		t.Fatalf("other actor after an actor crashed: %q %v, want %q", after, err, before)
	}
	// A restartable actor comes back after its crash (its state starts
	// over); the error of the call that crashed it names the exit.
	r, err := twiceClass.New(ctx, nil, shoal.WithMaxRestarts(1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Kill(ctx)
	if _, err := actorExit.Remote(ctx, r, 5).Get(ctx); !errors.Is(err, shoal.ErrActorDied) || !strings.Contains(err.Error(), "exit status 5") {
		t.Fatalf("call that ended a restartable actor: %v", err)
	}
	if v, err := twiceOf.Remote(ctx, r, 21).Get(ctx); err != nil || v != 42 {
		t.Fatalf("restarted actor: %d %v", v, err)
	}
	if v, err := square.Remote(ctx, 12).Get(ctx); err != nil || v != 144 {
		t.Fatalf("task after the crashes: %d %v", v, err)
	}
}
