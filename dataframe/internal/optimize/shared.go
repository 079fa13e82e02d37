package optimize

import (
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
)

// markShared wraps each subplan that n uses more than once (the same
// canonical text: a WITH query or view read twice, a frame used twice, a
// subquery over the query's own joins) and that is worth computing once in
// a plan.Shared node at every use, largest first. Worth it: a join or an
// aggregate whose rows are estimated at under a quarter of the largest
// table it reads (its rows then cost less to keep than to make again;
// TPC-H Q21 joins 6 M lineitem rows into 75,000 three times).
func markShared(n plan.Node) plan.Node {
	for range 16 {
		counts := map[string]int{}
		seen := map[string]bool{} // shared subplans walked (once each)
		var walk func(x plan.Node)
		walk = func(x plan.Node) {
			if s, ok := x.(*plan.Shared); ok {
				key := plan.Canonical(s.Input)
				if !seen[key] {
					seen[key] = true
					walk(s.Input)
				}
				return
			}
			for _, c := range x.Children() {
				walk(c)
			}
			if worthSharing(x) {
				counts[plan.Canonical(x)]++
			}
		}
		walk(n)
		best := ""
		for key, c := range counts {
			if c >= 2 && len(key) > len(best) {
				best = key
			}
		}
		if best == "" {
			return n
		}
		n = wrapShared(n, best)
	}
	return n
}

// worthSharing reports whether subplan x, used twice, is worth computing
// once (markShared).
func worthSharing(x plan.Node) bool {
	switch x.(type) {
	case *plan.Join, *plan.Aggregate:
	default:
		return false
	}
	var base int64
	for _, c := range x.Children() {
		base = max(base, plan.BaseRows(c))
	}
	rows := plan.EstimateRows(x)
	return rows >= 0 && base > 0 && rows*4 <= base
}

// wrapShared wraps every occurrence of the subplan whose canonical text is
// key in a plan.Shared node.
func wrapShared(n plan.Node, key string) plan.Node {
	if _, ok := n.(*plan.Shared); !ok && worthSharing(n) && plan.Canonical(n) == key {
		return &plan.Shared{Input: n}
	}
	ch := n.Children()
	nc := make([]plan.Node, len(ch))
	for i, c := range ch {
		nc[i] = wrapShared(c, key)
	}
	return n.WithChildren(nc)
}
