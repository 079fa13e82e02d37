package autoscaler

import (
	"context"
	"time"
)

// Labels a launched node carries (shoal node --labels ...), so that the
// autoscaler can tell which provider instance a cluster node is.
const (
	LabelInstance = "shoal.io/instance"
	LabelNodeType = "shoal.io/node-type"
	LabelCluster  = "shoal.io/cluster"
)

// NodeType is a kind of node the autoscaler may launch.
type NodeType struct {
	Name string `json:"name"`
	// Resources the node offers: "CPU", "GPU", "memory" (bytes) and custom
	// names, as `shoal node` flags take them.
	Resources map[string]float64 `json:"resources"`
	Labels    map[string]string  `json:"labels,omitempty"`
	// Min and Max bound how many nodes of this type run (Max 0: no bound).
	Min int `json:"min"`
	Max int `json:"max"`
}

// InstanceState is where a provider's instance is in its life.
type InstanceState int

const (
	// InstancePending: launched, not running yet (a pod being scheduled, a
	// process starting).
	InstancePending InstanceState = iota
	// InstanceRunning: running; its node may or may not have joined yet.
	InstanceRunning
	// InstanceTerminating: being stopped.
	InstanceTerminating
	// InstanceFailed: it stopped on its own or could not start.
	InstanceFailed
)

func (s InstanceState) String() string {
	switch s {
	case InstancePending:
		return "pending"
	case InstanceRunning:
		return "running"
	case InstanceTerminating:
		return "terminating"
	case InstanceFailed:
		return "failed"
	}
	return "unknown"
}

// Instance is a node a provider launched.
type Instance struct {
	// ID is the provider's name for it (a pod name, a process ID), which
	// the node reports as its LabelInstance label.
	ID         string
	Type       string
	State      InstanceState
	LaunchedAt time.Time
	// Reason says why an instance failed, when it did.
	Reason string
}

// Provider launches and terminates the cluster's nodes: local processes
// (the default), Kubernetes pods, cloud machines. Implementations are safe
// for concurrent use. The nodes they start run `shoal node` joined to the
// cluster's head with the labels LabelInstance (the instance ID),
// LabelNodeType and LabelCluster.
type Provider interface {
	// Name identifies the provider in events ("local", "kubernetes").
	Name() string
	// List returns every instance of this cluster the provider knows,
	// including ones it did not launch in this process (it reconciles with
	// what exists).
	List(ctx context.Context) ([]Instance, error)
	// Launch starts count nodes of type t and returns their instances.
	Launch(ctx context.Context, t NodeType, count int) ([]Instance, error)
	// Terminate stops the given instances; stopping one already gone is not
	// an error.
	Terminate(ctx context.Context, ids []string) error
}
