package autoscaler

import (
	"maps"
	"strings"
	"testing"
	"time"
)

var (
	cpu4 = NodeType{Name: "cpu4", Resources: Resources{"CPU": 4, "memory": 16 << 30}, Max: 10}
	gpu1 = NodeType{Name: "gpu1", Resources: Resources{"CPU": 8, "GPU": 1, "memory": 64 << 30}, Max: 2}
	now  = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
)

func node(id, typ string, total, avail Resources, idleFor time.Duration) Node {
	n := Node{ID: id, Instance: "i-" + id, Type: typ, Total: total, Available: avail}
	if idleFor > 0 {
		n.IdleSince = now.Add(-idleFor)
	} else {
		n.Running = 1
	}
	return n
}

func free(t NodeType) Resources { return maps.Clone(t.Resources) }

func TestDecide(t *testing.T) {
	cfg := Config{Types: []NodeType{cpu4, gpu1}, UpscalingSpeed: 1, IdleTimeout: time.Minute}
	tests := []struct {
		name      string
		snap      Snapshot
		cfg       *Config
		launch    map[string]int
		terminate []string
		reason    string
	}{
		{
			name:   "demand fits existing free resources: nothing to do",
			snap:   Snapshot{Nodes: []Node{node("a", "cpu4", free(cpu4), Resources{"CPU": 3}, 0)}, Demand: []Demand{{Resources{"CPU": 1}, 3}}},
			launch: map[string]int{},
		},
		{
			name:   "bin-packing: 9 one-CPU tasks beyond 3 free CPUs need 2 four-CPU nodes",
			snap:   Snapshot{Nodes: []Node{node("a", "cpu4", free(cpu4), Resources{"CPU": 3}, 0)}, Demand: []Demand{{Resources{"CPU": 1}, 12}}},
			launch: map[string]int{"cpu4": 3},
		},
		{
			name:   "CPU work never goes to the GPU type",
			snap:   Snapshot{Demand: []Demand{{Resources{"CPU": 2}, 1}}},
			launch: map[string]int{"cpu4": 1},
		},
		{
			name:   "GPU work goes to the GPU type",
			snap:   Snapshot{Demand: []Demand{{Resources{"CPU": 1, "GPU": 1}, 1}}},
			launch: map[string]int{"gpu1": 1},
		},
		{
			name:   "a type's maximum holds",
			snap:   Snapshot{Demand: []Demand{{Resources{"GPU": 1}, 5}}},
			launch: map[string]int{"gpu1": 2},
			reason: "at its maximum of 2",
		},
		{
			name:   "the cluster's maximum holds",
			snap:   Snapshot{Nodes: []Node{node("a", "cpu4", free(cpu4), Resources{}, 0)}, Demand: []Demand{{Resources{"CPU": 4}, 5}}},
			cfg:    &Config{Types: []NodeType{cpu4}, MaxNodes: 3, UpscalingSpeed: 1},
			launch: map[string]int{"cpu4": 2},
			reason: "maximum of 3 nodes",
		},
		{
			name:   "upscaling speed: at most max(5, speed x nodes) per round",
			snap:   Snapshot{Nodes: []Node{node("a", "cpu4", free(cpu4), Resources{}, 0)}, Demand: []Demand{{Resources{"CPU": 4}, 9}}},
			launch: map[string]int{"cpu4": 5},
			reason: "upscaling speed reached",
		},
		{
			name: "instances launched but not joined count as coming capacity",
			snap: Snapshot{Instances: []Instance{{ID: "i-new", Type: "cpu4", State: InstancePending}},
				Demand: []Demand{{Resources{"CPU": 1}, 4}}},
			launch: map[string]int{},
		},
		{
			name:   "demand no type can serve is reported, not launched for",
			snap:   Snapshot{Demand: []Demand{{Resources{"TPU": 1}, 2}}},
			launch: map[string]int{},
			reason: "fits no node type",
		},
		{
			name:   "minimum per type",
			snap:   Snapshot{},
			cfg:    &Config{Types: []NodeType{{Name: "cpu4", Resources: cpu4.Resources, Min: 2}}},
			launch: map[string]int{"cpu4": 2},
		},
		{
			name:      "idle past the timeout: removed",
			snap:      Snapshot{Now: now, Nodes: []Node{node("a", "cpu4", free(cpu4), free(cpu4), 2*time.Minute), node("b", "cpu4", free(cpu4), Resources{}, 0)}},
			launch:    map[string]int{},
			terminate: []string{"a"},
		},
		{
			name:   "idle within the timeout: kept",
			snap:   Snapshot{Now: now, Nodes: []Node{node("a", "cpu4", free(cpu4), free(cpu4), 30*time.Second)}},
			launch: map[string]int{},
		},
		{
			name: "a pinned node is never removed",
			snap: Snapshot{Now: now, Nodes: []Node{func() Node {
				n := node("a", "cpu4", free(cpu4), free(cpu4), time.Hour)
				n.PinnedBy = "a shuffle reads its outputs"
				return n
			}()}},
			launch: map[string]int{},
			reason: "pinned",
		},
		{
			name:   "a node not launched by the provider is never removed",
			snap:   Snapshot{Now: now, Nodes: []Node{{ID: "head-node", Type: "cpu4", Total: free(cpu4), Available: free(cpu4), IdleSince: now.Add(-time.Hour)}}},
			launch: map[string]int{},
		},
		{
			name: "minimum kept when idle",
			snap: Snapshot{Now: now, Nodes: []Node{node("a", "cpu4", free(cpu4), free(cpu4), time.Hour)}},
			cfg:  &Config{Types: []NodeType{{Name: "cpu4", Resources: cpu4.Resources, Min: 1}}, IdleTimeout: time.Minute},
		},
		{
			name:      "holding the only copy of a live object: drained, then removed",
			snap:      Snapshot{Now: now, Nodes: []Node{func() Node { n := node("a", "cpu4", free(cpu4), free(cpu4), time.Hour); n.SoleCopies = 3; return n }()}},
			launch:    map[string]int{},
			terminate: []string{"a"},
			reason:    "only copy of 3 objects",
		},
		{
			name: "no removal while demand waits (no add/remove oscillation)",
			snap: Snapshot{Now: now,
				Nodes:  []Node{node("a", "gpu1", free(gpu1), free(gpu1), time.Hour)},
				Demand: []Demand{{Resources{"CPU": 16}, 1}}},
			launch: map[string]int{},
			reason: "fits no node type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.cfg != nil {
				c = *tt.cfg
			}
			p := Decide(tt.snap, c)
			if tt.launch != nil && !maps.Equal(p.Launch, tt.launch) {
				t.Errorf("launch %v, want %v\n%s", p.Launch, tt.launch, strings.Join(p.Reasons, "\n"))
			}
			var got []string
			for _, x := range p.Terminate {
				got = append(got, x.Node)
			}
			if strings.Join(got, ",") != strings.Join(tt.terminate, ",") {
				t.Errorf("terminate %v, want %v\n%s", got, tt.terminate, strings.Join(p.Reasons, "\n"))
			}
			if tt.reason != "" && !strings.Contains(strings.Join(p.Reasons, "\n"), tt.reason) {
				t.Errorf("no reason mentions %q:\n%s", tt.reason, strings.Join(p.Reasons, "\n"))
			}
		})
	}
}

// TestNoOscillation runs the decision against a simulated cluster with
// steady demand: after it converges it neither adds nor removes nodes.
func TestNoOscillation(t *testing.T) {
	cfg := Config{Types: []NodeType{cpu4}, UpscalingSpeed: 1, IdleTimeout: time.Minute}
	const tasks = 10 // one-CPU tasks, steady
	var nodes []Node
	clock := now
	changes := 0
	for round := range 60 {
		// The simulated cluster: tasks run where they fit; nodes launched
		// last round join now.
		free := tasks
		for i := range nodes {
			used := min(free, 4)
			free -= used
			nodes[i].Available = Resources{"CPU": float64(4 - used), "memory": 16 << 30}
			nodes[i].Running = used
			if used == 0 && nodes[i].IdleSince.IsZero() {
				nodes[i].IdleSince = clock
			} else if used > 0 {
				nodes[i].IdleSince = time.Time{}
			}
		}
		pendingDemand := []Demand{}
		if free > 0 {
			pendingDemand = append(pendingDemand, Demand{Resources{"CPU": 1}, free})
		}
		p := Decide(Snapshot{Now: clock, Nodes: nodes, Demand: pendingDemand}, cfg)
		if round > 5 && !p.Empty() {
			changes++
		}
		for range p.Launch["cpu4"] {
			nodes = append(nodes, Node{ID: "n" + string(rune('a'+len(nodes))), Instance: "i" + string(rune('a'+len(nodes))), Type: "cpu4", Total: cpu4.Resources})
		}
		for _, x := range p.Terminate {
			for i := range nodes {
				if nodes[i].ID == x.Node {
					nodes = append(nodes[:i], nodes[i+1:]...)
					break
				}
			}
		}
		clock = clock.Add(10 * time.Second)
	}
	if len(nodes) != 3 {
		t.Fatalf("converged to %d nodes for 10 one-CPU tasks on 4-CPU nodes, want 3", len(nodes))
	}
	if changes != 0 {
		t.Fatalf("%d changes after converging under steady demand", changes)
	}
}
