package autoscaler

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
)

// Resources is an amount of each resource: "CPU", "GPU", "memory" (bytes)
// and custom names.
type Resources map[string]float64

// fits reports whether r fits in avail.
func (r Resources) fits(avail Resources) bool {
	for k, v := range r {
		if v > avail[k]+1e-9 {
			return false
		}
	}
	return true
}

func (r Resources) sub(o Resources) Resources {
	out := maps.Clone(r)
	if out == nil {
		out = Resources{}
	}
	for k, v := range o {
		out[k] -= v
	}
	return out
}

func (r Resources) String() string {
	keys := slices.Sorted(maps.Keys(r))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if r[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s:%g", k, r[k]))
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// Demand is a resource shape the cluster needs count of: pending tasks and
// actors waiting for resources, and explicit requests.
type Demand struct {
	Resources Resources
	Count     int
}

// Node is the autoscaler's view of one cluster node.
type Node struct {
	ID        string
	Instance  string // the provider instance it runs on ("" if not launched by a provider)
	Type      string
	Total     Resources
	Available Resources
	// Running counts tasks and actors on the node.
	Running int
	// IdleSince is when the node last had nothing running (zero: busy).
	IdleSince time.Time
	// PinnedBy says why an operation depends on the node (a pin's
	// reason; never removed while set); empty when nothing pins it.
	PinnedBy string
	// SoleCopies counts live objects whose only copy is on the node (it is
	// drained, so they move, before it goes).
	SoleCopies int
	Draining   bool
}

// Snapshot is everything a decision reads.
type Snapshot struct {
	Now       time.Time
	Nodes     []Node
	Instances []Instance // the provider's instances, joined or not
	Demand    []Demand
}

// Config configures decisions.
type Config struct {
	Types []NodeType
	// MinNodes and MaxNodes bound the cluster's size over all types
	// (MaxNodes 0: no bound).
	MinNodes int
	MaxNodes int
	// UpscalingSpeed bounds launches per decision to max(5, speed × nodes
	// up or coming), as Ray's upscaling_speed does (default 1).
	UpscalingSpeed float64
	// IdleTimeout is how long a node must be idle before it is removed.
	IdleTimeout time.Duration
}

// Termination is the removal of one node.
type Termination struct {
	Instance string
	Node     string
	Type     string
	Reason   string
	// Drain: move the node's data and work off first.
	Drain bool
}

// Plan is a decision.
type Plan struct {
	Launch    map[string]int // node type -> how many to launch
	Terminate []Termination
	// Reasons explain each part of the plan (also for decisions not to act,
	// such as demand no type can serve).
	Reasons []string
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Launch) == 0 && len(p.Terminate) == 0 }

// Decide is the autoscaler's decision: a pure function of a snapshot.
//
// Demand is bin-packed first onto the free resources of live nodes, then
// onto the capacity of instances launched but not joined yet, then onto new
// nodes of the type that fits it best (the cheapest: the fewest resources
// the demand does not need, so CPU work does not land on GPU types), within
// each type's and the cluster's maximum and the upscaling speed. Types are
// topped up to their minimum. A node idle for IdleTimeout is removed unless
// it is pinned, draining, needed for a minimum, or still wanted by demand
// this round; a node holding the only copy of a live object is drained first.
func Decide(s Snapshot, cfg Config) Plan {
	p := Plan{Launch: map[string]int{}}
	types := map[string]NodeType{}
	for _, t := range cfg.Types {
		types[t.Name] = t
	}
	// Count nodes by type: joined ones, and instances not joined yet.
	joined := map[string]bool{}
	count := map[string]int{}
	var bins []Resources // free capacity to pack demand onto
	for _, n := range s.Nodes {
		if n.Instance != "" {
			joined[n.Instance] = true
		}
		if n.Draining {
			continue
		}
		count[n.Type]++
		bins = append(bins, maps.Clone(n.Available))
	}
	pending := 0
	for _, in := range s.Instances {
		if joined[in.ID] || in.State == InstanceTerminating || in.State == InstanceFailed {
			continue
		}
		pending++
		count[in.Type]++
		if t, ok := types[in.Type]; ok {
			bins = append(bins, maps.Clone(t.Resources))
		}
	}
	total := 0
	for _, c := range count {
		total += c
	}

	// Bin-pack the demand, largest shapes first (first fit decreasing).
	var unmet []Resources
	demand := slices.Clone(s.Demand)
	sort.SliceStable(demand, func(i, j int) bool { return weight(demand[i].Resources) > weight(demand[j].Resources) })
	for _, d := range demand {
		for range d.Count {
			if !place(bins, d.Resources) {
				unmet = append(unmet, d.Resources)
			}
		}
	}

	// Launch for what did not fit, within the limits.
	budget := int(max(5, cfg.UpscalingSpeed*float64(total)))
	if cfg.UpscalingSpeed <= 0 {
		budget = max(5, total)
	}
	var newBins []Resources
	infeasible := map[string]int{}
	for _, r := range unmet {
		if place(newBins, r) {
			continue
		}
		t, ok := bestType(cfg.Types, r)
		if !ok {
			infeasible[r.String()]++
			continue
		}
		switch {
		case t.Max > 0 && count[t.Name] >= t.Max:
			p.Reasons = append(p.Reasons, fmt.Sprintf("demand %s waits: node type %s is at its maximum of %d", r, t.Name, t.Max))
			continue
		case cfg.MaxNodes > 0 && total >= cfg.MaxNodes:
			p.Reasons = append(p.Reasons, fmt.Sprintf("demand %s waits: the cluster is at its maximum of %d nodes", r, cfg.MaxNodes))
			continue
		case budget <= 0:
			p.Reasons = append(p.Reasons, fmt.Sprintf("demand %s waits for the next round: upscaling speed reached", r))
			continue
		}
		p.Launch[t.Name]++
		count[t.Name]++
		total++
		budget--
		newBins = append(newBins, maps.Clone(t.Resources))
		place(newBins, r)
	}
	for _, name := range slices.Sorted(maps.Keys(p.Launch)) {
		p.Reasons = append(p.Reasons, fmt.Sprintf("launch %d %s: pending demand fits no node that is up or coming", p.Launch[name], name))
	}
	for _, shape := range slices.Sorted(maps.Keys(infeasible)) {
		p.Reasons = append(p.Reasons, fmt.Sprintf("demand %s (%d) fits no node type", shape, infeasible[shape]))
	}
	// Minimums.
	for _, t := range cfg.Types {
		for count[t.Name] < t.Min && (cfg.MaxNodes == 0 || total < cfg.MaxNodes) {
			p.Launch[t.Name]++
			count[t.Name]++
			total++
			p.Reasons = append(p.Reasons, fmt.Sprintf("launch 1 %s: below its minimum of %d", t.Name, t.Min))
		}
	}

	// Scale down idle nodes, unless a launch is under way this round (no
	// add/remove in one decision) or demand waits on what is coming.
	if len(p.Launch) > 0 || pending > 0 && len(unmet) > 0 {
		return p
	}
	wanted := len(unmet) > 0
	for _, n := range s.Nodes {
		if n.Instance == "" || n.Draining || n.IdleSince.IsZero() || wanted {
			continue
		}
		idle := s.Now.Sub(n.IdleSince)
		switch {
		case idle < cfg.IdleTimeout:
			continue
		case n.PinnedBy != "":
			p.Reasons = append(p.Reasons, fmt.Sprintf("keep %s: idle %v but pinned: %s", ids.AbbrevHex(n.ID), idle.Round(time.Second), n.PinnedBy))
			continue
		case count[n.Type] <= types[n.Type].Min:
			continue
		case cfg.MinNodes > 0 && total <= cfg.MinNodes:
			continue
		}
		count[n.Type]--
		total--
		term := Termination{Instance: n.Instance, Node: n.ID, Type: n.Type, Drain: n.SoleCopies > 0,
			Reason: fmt.Sprintf("idle for %v (timeout %v)", idle.Round(time.Second), cfg.IdleTimeout)}
		if term.Drain {
			term.Reason += fmt.Sprintf("; drained first: it holds the only copy of %d objects", n.SoleCopies)
		}
		p.Terminate = append(p.Terminate, term)
		p.Reasons = append(p.Reasons, fmt.Sprintf("remove %s (%s): %s", ids.AbbrevHex(n.ID), n.Type, term.Reason))
	}
	return p
}

// place puts r into the first bin it fits (and takes it from there).
func place(bins []Resources, r Resources) bool {
	for i := range bins {
		if r.fits(bins[i]) {
			bins[i] = bins[i].sub(r)
			return true
		}
	}
	return false
}

// weight orders shapes for first fit decreasing: scarce resources first.
func weight(r Resources) float64 {
	w := 0.0
	for k, v := range r {
		switch k {
		case "GPU":
			w += 1000 * v
		case "memory":
			w += v / (1 << 30)
		default:
			w += v
		}
	}
	return w
}

// bestType is the node type that fits r with the least left over that r
// does not use (so CPU-only work does not take GPU nodes).
func bestType(types []NodeType, r Resources) (NodeType, bool) {
	var best NodeType
	bestWaste := -1.0
	for _, t := range types {
		if !r.fits(t.Resources) {
			continue
		}
		waste := 0.0
		for k, v := range t.Resources {
			if r[k] == 0 {
				waste += weight(Resources{k: v})
			}
		}
		if bestWaste < 0 || waste < bestWaste || waste == bestWaste && weight(t.Resources) < weight(best.Resources) {
			best, bestWaste = t, waste
		}
	}
	return best, bestWaste >= 0
}
