package shoal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/gctune"
	"github.com/shoal-dev/shoal/internal/hugepages"
)

var (
	// envProbe reports the variable and the executor process it ran in.
	envProbe = shoal.Func0("test.envProbe", func(ctx context.Context) (string, error) {
		return fmt.Sprintf("%s pid=%d", os.Getenv("SHOAL_TEST_COLOUR"), os.Getpid()), nil
	})
	// envParent starts envProbe without options: it inherits the parent's
	// environment.
	envParent = shoal.Func0("test.envParent", func(ctx context.Context) (string, error) {
		return envProbe.Remote(ctx).Get(ctx)
	})
	envActor = shoal.Actor0("test.EnvActor", func(context.Context) (*struct{}, error) { return &struct{}{}, nil })
	envRead  = shoal.Method0(envActor, "Read", func(_ context.Context, _ *struct{}) (string, error) {
		return os.Getenv("SHOAL_TEST_COLOUR"), nil
	})
	// envCollector reports how the actor's process was set up: its
	// collector's ballast and its GOMAXPROCS.
	envCollector = shoal.Method0(envActor, "Collector", func(_ context.Context, _ *struct{}) (string, error) {
		return fmt.Sprintf("ballast=%d procs=%d", gctune.Applied(), runtime.GOMAXPROCS(0)), nil
	})
)

// TestEnvOverrides: a task, its children and an actor see the variables set
// for them, in executors of their own; other tasks of the job do not.
func TestEnvOverrides(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), 2*time.Minute)
	colour := func(c string) shoal.CallOption { return shoal.WithEnv(map[string]string{"SHOAL_TEST_COLOUR": c}) }
	parse := func(s string) (string, string) {
		v, pid, _ := strings.Cut(s, " ")
		return v, pid
	}
	for range 3 {
		plain, err := envProbe.Remote(ctx).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		blue, err := envProbe.With(colour("blue")).Remote(ctx).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		red, err := envProbe.With(colour("red")).Remote(ctx).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		child, err := envParent.With(colour("green")).Remote(ctx).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pv, ppid := parse(plain)
		bv, bpid := parse(blue)
		rv, rpid := parse(red)
		cv, _ := parse(child)
		if pv != "" || bv != "blue" || rv != "red" || cv != "green" {
			t.Fatalf("variables seen: plain %q, blue %q, red %q, child of green %q", pv, bv, rv, cv)
		}
		if ppid == bpid || bpid == rpid {
			t.Fatalf("tasks with different environments shared an executor: %s, %s, %s", plain, blue, red)
		}
	}
	a, err := envActor.New(ctx, nil, shoal.WithEnv(map[string]string{"SHOAL_TEST_COLOUR": "violet", hugepages.EnvOff: "0"}), shoal.WithResources(shoal.Resources{CPU: 0.1}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Kill(ctx)
	if v, err := envRead.Remote(ctx, a).Get(ctx); err != nil || v != "violet" {
		t.Fatalf("actor saw %q (%v), want violet", v, err)
	}
	// A process of its own, sized for one actor: one CPU's worth of
	// goroutines at once, a small ballast (gctune.ActorEnv), the small-page
	// one as its environment turns huge pages off.
	want := fmt.Sprintf("ballast=%d procs=1", gctune.ActorBallastSmallPages)
	if v, err := envCollector.Remote(ctx, a).Get(ctx); err != nil || v != want {
		t.Fatalf("actor's process: %q (%v), want %s", v, err, want)
	}
	// Where the heap gets huge pages, a larger one.
	if hugepages.Offered() {
		b, err := envActor.New(ctx, nil, shoal.WithResources(shoal.Resources{CPU: 0.1}))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Kill(ctx)
		want := fmt.Sprintf("ballast=%d procs=1", gctune.ActorBallast)
		if v, err := envCollector.Remote(ctx, b).Get(ctx); err != nil || v != want {
			t.Fatalf("actor's process in huge pages: %q (%v), want %s", v, err, want)
		}
	}

	// Names the OS cannot take are refused before anything runs.
	for _, bad := range []map[string]string{{"": "x"}, {"A=B": "x"}, {"NUL": "a\x00b"}} {
		_, err := envProbe.With(shoal.WithEnv(bad)).Remote(ctx).Get(ctx)
		if !errors.Is(err, shoal.ErrBadArgument) || !strings.Contains(err.Error(), "environment variable") {
			t.Fatalf("env %q: error %v, want a bad-argument error about the variable", bad, err)
		}
	}
	if _, err := envActor.New(ctx, nil, shoal.WithEnv(map[string]string{"": "x"})); !errors.Is(err, shoal.ErrBadArgument) {
		t.Fatalf("actor with a nameless variable: %v", err)
	}
}
