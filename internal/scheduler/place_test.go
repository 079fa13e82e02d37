package scheduler

import "testing"

func cpu(c float64) Resources { return Resources{CPU: int64(c * Unit)} }

func node(total, committed Resources) Node {
	return Node{Total: total, Committed: committed, Alive: true}
}

func TestPlace(t *testing.T) {
	gpuNode := Resources{CPU: 2 * Unit, GPU: 1 * Unit}
	custom := Resources{CPU: 2 * Unit, Custom: map[string]int64{"disk": 3 * Unit}}
	tests := []struct {
		name  string
		req   Request
		nodes []Node
		want  Decision
	}{
		{
			name:  "least loaded by default",
			req:   Request{Resources: cpu(1), Affinity: -1},
			nodes: []Node{node(cpu(2), cpu(1)), node(cpu(2), cpu(0))},
			want:  Decision{Placed, 1},
		},
		{
			name:  "fractional CPUs fit",
			req:   Request{Resources: cpu(0.25), Affinity: -1},
			nodes: []Node{node(cpu(1), cpu(0.75))},
			want:  Decision{Placed, 0},
		},
		{
			name:  "fractional CPUs do not overflow",
			req:   Request{Resources: cpu(0.5), Affinity: -1},
			nodes: []Node{node(cpu(1), cpu(0.75))},
			want:  Decision{Wait, 0},
		},
		{
			name: "locality beats load",
			req:  Request{Resources: cpu(1), Affinity: -1},
			nodes: []Node{
				{Total: cpu(4), Committed: cpu(3), ArgBytes: 1 << 20, Alive: true},
				{Total: cpu(4), Alive: true, ArgBytes: 10},
			},
			want: Decision{Placed, 0},
		},
		{
			name: "spread ignores locality",
			req:  Request{Resources: cpu(1), Strategy: Spread, Affinity: -1},
			nodes: []Node{
				{Total: cpu(4), Running: 3, Committed: cpu(3), ArgBytes: 1 << 20, Alive: true},
				{Total: cpu(4), Running: 1, Committed: cpu(1), Alive: true},
			},
			want: Decision{Placed, 1},
		},
		{
			name:  "pack fills the busiest node that fits",
			req:   Request{Resources: cpu(1), Strategy: Pack, Affinity: -1},
			nodes: []Node{node(cpu(4), cpu(1)), node(cpu(4), cpu(3)), node(cpu(4), cpu(4))},
			want:  Decision{Placed, 1},
		},
		{
			name:  "GPU task waits for a GPU node to join",
			req:   Request{Resources: Resources{CPU: Unit, GPU: Unit}, Affinity: -1},
			nodes: []Node{node(cpu(8), cpu(0))},
			want:  Decision{Infeasible, -1},
		},
		{
			name:  "GPU task goes to the GPU node",
			req:   Request{Resources: Resources{CPU: Unit, GPU: Unit}, Affinity: -1},
			nodes: []Node{node(cpu(8), cpu(0)), node(gpuNode, cpu(1))},
			want:  Decision{Placed, 1},
		},
		{
			name:  "custom resource",
			req:   Request{Resources: Resources{CPU: Unit, Custom: map[string]int64{"disk": 2 * Unit}}, Affinity: -1},
			nodes: []Node{node(cpu(8), cpu(0)), node(custom, Resources{})},
			want:  Decision{Placed, 1},
		},
		{
			name:  "dead nodes are never used",
			req:   Request{Resources: cpu(1), Affinity: -1},
			nodes: []Node{{Total: cpu(8)}, node(cpu(1), cpu(1))},
			want:  Decision{Wait, 1},
		},
		{
			name:  "only dead nodes could run it",
			req:   Request{Resources: cpu(4), Affinity: -1},
			nodes: []Node{{Total: cpu(8)}, node(cpu(1), cpu(0))},
			want:  Decision{Infeasible, -1},
		},
		{
			name:  "short task backlogs on the shortest queue",
			req:   Request{Resources: cpu(1), Affinity: -1, MaxBacklog: 4},
			nodes: []Node{{Total: cpu(1), Committed: cpu(1), Backlog: 3, Alive: true}, {Total: cpu(1), Committed: cpu(1), Backlog: 1, Alive: true}},
			want:  Decision{Backlogged, 1},
		},
		{
			name:  "backlog limit holds",
			req:   Request{Resources: cpu(1), Affinity: -1, MaxBacklog: 2},
			nodes: []Node{{Total: cpu(1), Committed: cpu(1), Backlog: 2, Alive: true}},
			want:  Decision{Wait, 0},
		},
		{
			name:  "GPU tasks are never backlogged",
			req:   Request{Resources: Resources{GPU: Unit}, Affinity: -1, MaxBacklog: 8},
			nodes: []Node{{Total: gpuNode, Committed: Resources{GPU: Unit}, Alive: true}},
			want:  Decision{Wait, -1},
		},
		{
			name:  "hard affinity",
			req:   Request{Resources: cpu(1), Affinity: 0},
			nodes: []Node{node(cpu(2), cpu(1)), node(cpu(8), cpu(0))},
			want:  Decision{Placed, 0},
		},
		{
			name:  "hard affinity waits",
			req:   Request{Resources: cpu(1), Affinity: 0},
			nodes: []Node{node(cpu(2), cpu(2)), node(cpu(8), cpu(0))},
			want:  Decision{Wait, 0},
		},
		{
			name:  "hard affinity to a dead node",
			req:   Request{Resources: cpu(1), Affinity: 0},
			nodes: []Node{{Total: cpu(2)}, node(cpu(8), cpu(0))},
			want:  Decision{AffinityUnavailable, -1},
		},
		{
			name:  "soft affinity falls back",
			req:   Request{Resources: cpu(1), Affinity: 0, AffinitySoft: true},
			nodes: []Node{{Total: cpu(2)}, node(cpu(8), cpu(0))},
			want:  Decision{Placed, 1},
		},
		{
			name:  "a busy local node is waited for",
			req:   Request{Resources: cpu(1), Affinity: -1, WaitForLocal: true},
			nodes: []Node{{Total: cpu(1), Committed: cpu(1), ArgBytes: 64 << 20, Alive: true}, node(cpu(8), cpu(0))},
			want:  Decision{LocalityWait, -1},
		},
		{
			name:  "a free local node is used",
			req:   Request{Resources: cpu(1), Affinity: -1, WaitForLocal: true},
			nodes: []Node{node(cpu(8), cpu(0)), {Total: cpu(2), Committed: cpu(1), ArgBytes: 64 << 20, Alive: true}},
			want:  Decision{Placed, 1},
		},
		{
			name:  "a short task backlogs on its busy local node",
			req:   Request{Resources: cpu(1), Affinity: -1, WaitForLocal: true, MaxBacklog: 2},
			nodes: []Node{node(cpu(8), cpu(0)), {Total: cpu(1), Committed: cpu(1), ArgBytes: 1 << 20, Alive: true}},
			want:  Decision{Backlogged, 1},
		},
		{
			name:  "no node has room: an ordinary wait",
			req:   Request{Resources: cpu(1), Affinity: -1, WaitForLocal: true},
			nodes: []Node{{Total: cpu(1), Committed: cpu(1), ArgBytes: 64 << 20, Alive: true}, node(cpu(1), cpu(1))},
			want:  Decision{Wait, 0},
		},
		{
			name:  "a dead local node is not waited for",
			req:   Request{Resources: cpu(1), Affinity: -1, WaitForLocal: true},
			nodes: []Node{{Total: cpu(1), ArgBytes: 64 << 20}, node(cpu(8), cpu(0))},
			want:  Decision{Placed, 1},
		},
		{
			name:  "without locality, waiting for a node is moot",
			req:   Request{Resources: cpu(1), Affinity: -1, WaitForLocal: true},
			nodes: []Node{node(cpu(1), cpu(1)), node(cpu(8), cpu(0))},
			want:  Decision{Placed, 1},
		},
		{
			name:  "nothing queues behind running work on a node an older task waits for",
			req:   Request{Resources: cpu(1), Affinity: -1, MaxBacklog: 4},
			nodes: []Node{{Total: cpu(1), Committed: cpu(1), Held: true, Alive: true}, {Total: cpu(1), Committed: cpu(1), Backlog: 2, Alive: true}},
			want:  Decision{Backlogged, 1},
		},
		{
			name:  "the node that lacks least is held",
			req:   Request{Resources: cpu(2), Affinity: -1},
			nodes: []Node{node(cpu(4), cpu(4)), node(cpu(4), cpu(3)), node(cpu(1), cpu(0))},
			want:  Decision{Wait, 1},
		},
		{
			name:  "lack counts as a share of the node's total",
			req:   Request{Resources: cpu(2), Affinity: -1},
			nodes: []Node{node(cpu(2), cpu(1)), node(cpu(8), cpu(7))},
			want:  Decision{Wait, 1},
		},
		{
			name:  "a task waiting for a busy GPU holds nothing (backlogs take CPUs only)",
			req:   Request{Resources: Resources{CPU: Unit, GPU: Unit}, Affinity: -1},
			nodes: []Node{node(gpuNode, Resources{CPU: Unit, GPU: Unit})},
			want:  Decision{Wait, -1},
		},
		{
			name:  "a GPU task whose GPU is free holds the node for its CPU",
			req:   Request{Resources: Resources{CPU: Unit, GPU: Unit}, Affinity: -1},
			nodes: []Node{node(gpuNode, Resources{CPU: 2 * Unit}), node(Resources{CPU: 8 * Unit, GPU: 4 * Unit}, Resources{CPU: 8 * Unit, GPU: 4 * Unit})},
			want:  Decision{Wait, 0},
		},
		{
			name:  "excluded node skipped",
			req:   Request{Resources: cpu(1), Affinity: -1},
			nodes: []Node{{Total: cpu(8), Alive: true, Excluded: true}, node(cpu(1), cpu(0))},
			want:  Decision{Placed, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Place(tt.req, tt.nodes); got != tt.want {
				t.Fatalf("Place = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResources(t *testing.T) {
	a := Resources{CPU: 15000, GPU: Unit, Memory: 2 << 30, Custom: map[string]int64{"disk": 2 * Unit}}
	if got := a.String(); got != "CPU 1.5, GPU 1, memory 2.0 GiB, disk 2" {
		t.Errorf("String = %q", got)
	}
	if got := a.Sub(a); !got.Fits(Resources{}) {
		t.Errorf("a-a = %+v", got)
	}
	if a.Key() == (Resources{CPU: 15000}).Key() {
		t.Error("keys collide")
	}
}
