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
	// Held: an older task waits for this node's resources (a Wait
	// decision's Node). No task may queue behind running work there
	// (backlog): each would start as a slot freed, before the waiting task
	// could have it, and a stream of short tasks would keep it waiting.
	Held  bool
	Alive bool
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
	// Wait: a node could run it later, when resources free up. Decision.Node
	// is the node to hold for it (Node.Held) until they do: the node it
	// must or prefers to run on, else the one that lacks least of what it
	// asks for; -1 when none could be held or it lacks more than CPUs
	// there (holding helps only against backlogs, which take CPUs).
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
				if n.fitsNow(req.Resources) {
					return Decision{Outcome: Placed, Node: req.Affinity}
				}
				if n.mayBacklog(req) {
					return Decision{Outcome: Backlogged, Node: req.Affinity}
				}
				return Decision{Outcome: Wait, Node: holdIf(n.lacksOnlyCPU(req.Resources), req.Affinity)}
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
			if n.fitsNow(req.Resources) {
				return Decision{Outcome: Placed, Node: local}
			}
			if n.mayBacklog(req) {
				return Decision{Outcome: Backlogged, Node: local}
			}
			for i := range nodes {
				if o := &nodes[i]; o.Alive && !o.Excluded && o.fitsNow(req.Resources) {
					// Another node could run it now: wait for the local one.
					return Decision{Outcome: LocalityWait, Node: -1}
				}
			}
			return Decision{Outcome: Wait, Node: holdIf(n.lacksOnlyCPU(req.Resources), local)}
		}
	}
	best, feasible := -1, false
	for i := range nodes {
		n := &nodes[i]
		if !n.Alive || n.Excluded || !req.Resources.Fits(n.Total) {
			continue
		}
		feasible = true
		if !n.fitsNow(req.Resources) {
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
			if !n.Alive || n.Excluded || !req.Resources.Fits(n.Total) || !n.mayBacklog(req) {
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
	return Decision{Outcome: Wait, Node: nodeToHold(req.Resources, nodes)}
}

// fitsNow reports whether r fits n's free resources (total less
// committed).
func (n *Node) fitsNow(r Resources) bool { return r.Fits(n.Total.Sub(n.Committed)) }

// mayBacklog reports whether req may queue on n behind running work: a
// short CPU-only task, within its backlog limit, on a node no older task
// waits for.
func (n *Node) mayBacklog(req Request) bool {
	return req.MaxBacklog > 0 && req.Resources.OnlyCPU() && n.Backlog < req.MaxBacklog && !n.Held
}

// lacksOnlyCPU reports whether all n lacks of r is CPUs: only then does
// holding n help a task asking for r. Backlogged tasks take only CPUs: a
// task that lacks something else there (a busy GPU) loses nothing to them,
// and holding the node would only keep short tasks from queuing on it.
func (n *Node) lacksOnlyCPU(r Resources) bool {
	want, free := r, n.Total.Sub(n.Committed)
	want.CPU, free.CPU = 0, 0
	return want.Fits(free)
}

// holdIf is i when hold, else -1 (a Wait decision's Node).
func holdIf(hold bool, i int) int {
	if hold {
		return i
	}
	return -1
}

// nodeToHold picks the node to hold for a task asking for r that fits no
// node now: among the live ones that could run it and lack only CPUs for
// it, the one whose free resources lack least of r (summed over
// what r asks for, as fractions of the node's totals), then the one
// running fewest tasks. -1 when none.
func nodeToHold(r Resources, nodes []Node) int {
	best, bestLack := -1, 0.0
	for i := range nodes {
		n := &nodes[i]
		if !n.Alive || n.Excluded || !r.Fits(n.Total) || !n.lacksOnlyCPU(r) {
			continue
		}
		lack := n.lack(r)
		if best < 0 || lack < bestLack || lack == bestLack && n.Running < nodes[best].Running {
			best, bestLack = i, lack
		}
	}
	return best
}

// lack is how far n's free resources fall short of r: for each resource r
// asks for, the missing amount as a fraction of n's total, summed.
func (n *Node) lack(r Resources) float64 {
	free := n.Total.Sub(n.Committed)
	sum := 0.0
	add := func(want, have, total int64) {
		if want > have && total > 0 {
			sum += float64(want-have) / float64(total)
		}
	}
	add(r.CPU, free.CPU, n.Total.CPU)
	add(r.GPU, free.GPU, n.Total.GPU)
	add(r.Memory, free.Memory, n.Total.Memory)
	for k, v := range r.Custom {
		add(v, free.Custom[k], n.Total.Custom[k])
	}
	return sum
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
