package autoscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/retry"
)

// Cluster is what the reconcile loop needs of the head.
type Cluster interface {
	// AutoscalerSnapshot returns the nodes and the demand.
	AutoscalerSnapshot() Snapshot
	// Drain removes a node gracefully (work done, objects moved).
	Drain(ctx context.Context, nodeID string, deadline time.Duration) error
	// Event records a decision, with its reason, for status.
	Event(msg string)
}

// Loop reconciles the cluster with its demand: every Interval it takes a
// snapshot, decides (Decide), and carries the plan out through Provider.
// Provider failures are retried with backoff and reported as events; they
// never stop the loop.
type Loop struct {
	Cluster       Cluster
	Provider      Provider
	Config        Config
	Interval      time.Duration // default 1s
	DrainDeadline time.Duration // default 30s
	Logger        *slog.Logger

	quietUntil map[string]time.Time // repeated "waits" reasons, reported once a minute
}

// Run reconciles until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	interval := l.Interval
	if interval <= 0 {
		interval = time.Second
	}
	if l.Logger == nil {
		l.Logger = slog.Default()
	}
	l.Cluster.Event(fmt.Sprintf("autoscaler started: provider %s, %d node types, idle timeout %v", l.Provider.Name(), len(l.Config.Types), l.Config.IdleTimeout))
	// After n failed steps in a row the next waits interval + the backoff.
	backoff := retry.Backoff{Initial: interval, Max: time.Minute}
	failures := 0
	for {
		if err := retry.Sleep(ctx, interval+backoff.Delay(failures)); err != nil {
			return ctx.Err()
		}
		if err := l.Step(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			l.Cluster.Event(fmt.Sprintf("autoscaler: %v (retrying in %v)", err, interval+backoff.Delay(failures)))
			continue
		}
		failures = 0
	}
}

// Step runs one reconciliation.
func (l *Loop) Step(ctx context.Context) error {
	if l.Logger == nil {
		l.Logger = slog.Default()
	}
	insts, err := l.Provider.List(ctx)
	if err != nil {
		return fmt.Errorf("listing %s instances: %w", l.Provider.Name(), err)
	}
	snap := l.Cluster.AutoscalerSnapshot()
	snap.Instances = insts
	var errs []error
	// Instances that failed are cleaned up (their node never joined or
	// died); the decision then sees the capacity as gone.
	var failed []string
	for _, in := range insts {
		if in.State == InstanceFailed {
			failed = append(failed, in.ID)
			l.Cluster.Event(fmt.Sprintf("%s instance %s (%s) failed: %s", l.Provider.Name(), in.ID, in.Type, in.Reason))
		}
	}
	if len(failed) > 0 {
		if err := l.Provider.Terminate(ctx, failed); err != nil {
			errs = append(errs, fmt.Errorf("cleaning up failed instances: %w", err))
		}
	}
	plan := Decide(snap, l.Config)
	for _, r := range plan.Reasons {
		if plan.Empty() && !l.due(r) {
			continue
		}
		l.Cluster.Event("autoscaler: " + r)
	}
	for _, name := range slices.Sorted(maps.Keys(plan.Launch)) {
		t, ok := l.typeNamed(name)
		if !ok {
			continue
		}
		if _, err := l.Provider.Launch(ctx, t, plan.Launch[name]); err != nil {
			errs = append(errs, fmt.Errorf("launching %d %s: %w", plan.Launch[name], name, err))
		}
	}
	deadline := l.DrainDeadline
	if deadline <= 0 {
		deadline = 30 * time.Second
	}
	for _, x := range plan.Terminate {
		// Draining moves objects away and lets work finish; the node then
		// exits, and the provider cleans up its instance.
		if err := l.Cluster.Drain(ctx, x.Node, deadline); err != nil {
			l.Cluster.Event(fmt.Sprintf("autoscaler: drain of node %s failed (%v); terminating it anyway", ids.AbbrevHex(x.Node), err))
		}
		if err := l.Provider.Terminate(ctx, []string{x.Instance}); err != nil {
			errs = append(errs, fmt.Errorf("terminating %s: %w", x.Instance, err))
		}
	}
	return errors.Join(errs...)
}

func (l *Loop) typeNamed(name string) (NodeType, bool) {
	for _, t := range l.Config.Types {
		if t.Name == name {
			return t, true
		}
	}
	return NodeType{}, false
}

// due reports whether a repeated reason should be reported again.
func (l *Loop) due(reason string) bool {
	if l.quietUntil == nil {
		l.quietUntil = map[string]time.Time{}
	}
	now := time.Now()
	if now.Before(l.quietUntil[reason]) {
		return false
	}
	l.quietUntil[reason] = now.Add(time.Minute)
	return true
}
