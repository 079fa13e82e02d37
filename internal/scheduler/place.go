package scheduler

// Strategy chooses among nodes that fit.
type Strategy int

const (
	// Default prefers the node holding most argument bytes, then the least
	// loaded node.
	Default Strategy = iota
	// Spread prefers the node running the fewest tasks, ignoring locality.
	Spread
	// Pack prefers the node holding most argument bytes, then the most
	// loaded node that still fits, leaving others free.
	Pack
)

// Node is the scheduler's view of one node.
type Node struct {
	Total     Resources
	Committed Resources // held by assigned, unblocked, non-backlog tasks
	Running   int       // tasks assigned and not finished
	Backlog   int       // tasks assigned beyond the node's free resources
	ArgBytes  int64     // bytes of this task's arguments held on the node
	Alive     bool
	// Excluded marks a node this request must not use (for example, one
	// whose executor could not start for the task's job).
	Excluded bool
}

// Request is one task to place.
type Request struct {
	Resources Resources
	Strategy  Strategy
	// Affinity, when >= 0, is the index of the node the task must run on
	// (or should, when AffinitySoft).
	Affinity     int
	AffinitySoft bool
	// MaxBacklog is how many backlogged tasks a node may hold for this
	// request; 0 means the task may not be backlogged.
	MaxBacklog int
	// WaitForLocal: the node holding most of the task's argument bytes is
	// worth waiting for (delay scheduling): while it has no room, the task
	// waits for it (LocalityWait) rather than running elsewhere.
	WaitForLocal bool
}

// Outcome is what Place decided.
type Outcome int

const (
	// Placed: run on Decision.Node now.
	Placed Outcome = iota
	// Backlogged: queue on Decision.Node's executor behind running work.
	Backlogged
	// Wait: a node could run it later, when resources free up.
	Wait
	// Infeasible: no live node could ever run it; wait for one to join.
	Infeasible
	// AffinityUnavailable: the required node is gone.
	AffinityUnavailable
	// LocalityWait: the preferred node is busy; wait for it a little while
	// tasks behind this one are placed.
	LocalityWait
)

// Decision is Place's answer.
type Decision struct {
	Outcome Outcome
	Node    int
}

// Place chooses a node for req among nodes. It is pure: it reads only its
// arguments.
func Place(req Request, nodes []Node) Decision {
	if req.Affinity >= 0 {
		if req.Affinity < len(nodes) {
			n := &nodes[req.Affinity]
			if n.Alive && !n.Excluded && req.Resources.Fits(n.Total) {
				if req.Resources.Fits(n.Total.Sub(n.Committed)) {
					return Decision{Outcome: Placed, Node: req.Affinity}
				}
				if req.MaxBacklog > 0 && req.Resources.OnlyCPU() && n.Backlog < req.MaxBacklog {
					return Decision{Outcome: Backlogged, Node: req.Affinity}
				}
				return Decision{Outcome: Wait, Node: -1}
			}
		}
		if !req.AffinitySoft {
			if req.Affinity < len(nodes) && nodes[req.Affinity].Alive && !nodes[req.Affinity].Excluded {
				return Decision{Outcome: Infeasible, Node: -1}
			}
			return Decision{Outcome: AffinityUnavailable, Node: -1}
		}
	}
	if req.WaitForLocal {
		local := -1
		for i := range nodes {
			n := &nodes[i]
			if n.Alive && !n.Excluded && n.ArgBytes > 0 && req.Resources.Fits(n.Total) && (local < 0 || n.ArgBytes > nodes[local].ArgBytes) {
				local = i
			}
		}
		if local >= 0 {
			n := &nodes[local]
			if req.Resources.Fits(n.Total.Sub(n.Committed)) {
				return Decision{Outcome: Placed, Node: local}
			}
			if req.MaxBacklog > 0 && req.Resources.OnlyCPU() && n.Backlog < req.MaxBacklog {
				return Decision{Outcome: Backlogged, Node: local}
			}
			for i := range nodes {
				if o := &nodes[i]; o.Alive && !o.Excluded && req.Resources.Fits(o.Total.Sub(o.Committed)) {
					// Another node could run it now: wait for the local one.
					return Decision{Outcome: LocalityWait, Node: -1}
				}
			}
			return Decision{Outcome: Wait, Node: -1}
		}
	}
	best, feasible := -1, false
	for i := range nodes {
		n := &nodes[i]
		if !n.Alive || n.Excluded || !req.Resources.Fits(n.Total) {
			continue
		}
		feasible = true
		if !req.Resources.Fits(n.Total.Sub(n.Committed)) {
			continue
		}
		if best < 0 || better(req.Strategy, n, &nodes[best]) {
			best = i
		}
	}
	if best >= 0 {
		return Decision{Outcome: Placed, Node: best}
	}
	if !feasible {
		return Decision{Outcome: Infeasible, Node: -1}
	}
	if req.MaxBacklog > 0 && req.Resources.OnlyCPU() {
		for i := range nodes {
			n := &nodes[i]
			if !n.Alive || n.Excluded || !req.Resources.Fits(n.Total) || n.Backlog >= req.MaxBacklog {
				continue
			}
			if best < 0 || n.Backlog < nodes[best].Backlog || n.Backlog == nodes[best].Backlog && n.ArgBytes > nodes[best].ArgBytes {
				best = i
			}
		}
		if best >= 0 {
			return Decision{Outcome: Backlogged, Node: best}
		}
	}
	return Decision{Outcome: Wait, Node: -1}
}

// better reports whether a is a better choice than b under s; both fit.
func better(s Strategy, a, b *Node) bool {
	switch s {
	case Spread:
		return a.Running < b.Running
	case Pack:
		if a.ArgBytes != b.ArgBytes {
			return a.ArgBytes > b.ArgBytes
		}
		return load(a) > load(b)
	default:
		if a.ArgBytes != b.ArgBytes {
			return a.ArgBytes > b.ArgBytes
		}
		la, lb := load(a), load(b)
		if la != lb {
			return la < lb
		}
		return a.Running < b.Running
	}
}

// load is the committed fraction of a node's CPU (or of its tasks, for a
// node without CPUs), scaled to avoid floats.
func load(n *Node) int64 {
	if n.Total.CPU > 0 {
		return n.Committed.CPU * 1_000_000 / n.Total.CPU
	}
	return int64(n.Running)
}
