package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/clustertest"
)

// Mode is how the killer hits a node.
type Mode string

const (
	// ModeProcess kills the node's process with SIGKILL (its executors die
	// with it); a replacement node is started, as a cloud would.
	ModeProcess Mode = "process"
	// ModeDrain drains the node gracefully with a deadline (shoal.Drain),
	// then terminates what is left of it; a replacement node is started.
	ModeDrain Mode = "drain"
	// ModePartition cuts the node off for a while by freezing its process
	// and its executors (SIGSTOP, then SIGCONT): see freeze. The node comes
	// back by itself, so no replacement is started.
	ModePartition Mode = "partition"
)

// Modes lists the modes, for flags and messages.
var Modes = []Mode{ModeProcess, ModeDrain, ModePartition}

// victim is the node a fault hits.
type victim struct {
	slot   string
	proc   *clustertest.Proc
	nodeID string
}

// fault hits one node.
type fault interface {
	inject(ctx context.Context, v victim) (injected, error)
}

// injected is what a fault did: whether the node is gone for good (the
// killer then starts a replacement), the function that ends a fault that
// ends by itself, and what the runtime said.
type injected struct {
	replace bool
	heal    func() error
	detail  string
}

// processKill is ModeProcess.
type processKill struct{}

func (processKill) inject(_ context.Context, v victim) (injected, error) {
	v.proc.Kill()
	return injected{replace: true}, nil
}

// drain is ModeDrain: shoal.Drain through the driver's session (no new
// work for the node, its running tasks get until the deadline, its only
// copies move, its actors restart elsewhere, then it exits), after which
// the instance is terminated, as a cloud does once it has drained one. A
// drained node that has not exited a little after the drain returned is
// killed, and that is an error.
type drain struct {
	driver   context.Context
	deadline time.Duration
}

// drainExitGrace is how long a drained node has to exit after the drain.
const drainExitGrace = 10 * time.Second

func (d drain) inject(_ context.Context, v victim) (injected, error) {
	ctx, cancel := context.WithTimeout(d.driver, d.deadline+time.Minute)
	defer cancel()
	rep, err := shoal.Drain(ctx, v.nodeID, d.deadline)
	out := injected{replace: true}
	if rep != nil {
		out.detail = fmt.Sprintf("drained in %.2fs: %d tasks finished, %d moved; %d objects moved, %d left to lineage; %d actors moved",
			rep.Duration.Seconds(), rep.TasksFinished, rep.TasksMoved, rep.ObjectsMoved, rep.ObjectsLeft, rep.ActorsMoved)
	}
	if err != nil {
		v.proc.Kill()
		return out, fmt.Errorf("draining node %s of slot %s: %w", v.nodeID, v.slot, err)
	}
	select {
	case <-v.proc.Exited():
		return out, nil
	case <-time.After(drainExitGrace):
		v.proc.Kill()
		return out, fmt.Errorf("node %s of slot %s was drained but had not exited %v later; killed it", v.nodeID, v.slot, drainExitGrace)
	}
}

// freeze is ModePartition. Every process of a local cluster talks over
// loopback in one network namespace, where a namespace cannot cut one node
// off from the others; a real cut needs each node in its own namespace with
// veth links (root, and the head listening beyond loopback) or a fault hook
// in the transport, which does not exist yet. Freezing the node process and
// its executors with SIGSTOP is the least invasive real mechanism: they
// neither send nor read, so the head and the peers see a node gone silent
// (heartbeats stop, streams stall, transfers from it time out) while its
// sockets stay open, as behind a partition that drops packets. It is an
// approximation: the node's clocks and timers stop too, so when it is
// thawed it does not see the partition's duration as elapsed; and the
// kernel still completes new TCP handshakes to its listening sockets.
type freeze struct{}

func (freeze) inject(_ context.Context, v victim) (injected, error) {
	if err := v.proc.Freeze(); err != nil {
		return injected{}, err
	}
	return injected{heal: v.proc.Thaw}, nil
}

// newFault returns the mode's fault; driver is the driver's context (the
// drain goes through its session).
func newFault(cfg *Config, driver context.Context) (fault, error) {
	switch cfg.Mode {
	case ModeProcess:
		return processKill{}, nil
	case ModeDrain:
		return drain{driver: driver, deadline: cfg.DrainDeadline}, nil
	case ModePartition:
		return freeze{}, nil
	}
	return nil, fmt.Errorf("unknown mode %q (want one of %v)", cfg.Mode, Modes)
}
