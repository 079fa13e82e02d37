package binder

import (
	"math"
	"math/bits"
	"slices"

	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// maxDPRelations is the most relations ordered by dynamic programming over
// every connected subset; beyond it a greedy order (the smallest result
// next) is used.
const maxDPRelations = 10

// joinPred is a conjunct of the inner joins' conditions, with the set of
// relations it reads (a bit per relation).
type joinPred struct {
	e    *expr.Expr
	rels uint64
	// For an equality between one relation set and another: the two sides.
	l, r         *expr.Expr
	lrels, rrels uint64
}

// orderJoins joins rels (inner joins) under the conjuncts preds (resolved
// against the relations' schemas together), choosing the order that
// minimizes the sum of the estimated intermediate result sizes: every
// connected subset by dynamic programming up to maxDPRelations relations,
// greedily beyond. Single-relation predicates filter their relation first,
// equalities between two sides become hash join keys, the rest are checked
// as soon as every relation they read is joined. Relations no predicate
// connects are joined last, by a cross product.
func orderJoins(rels []plan.Node, preds []*expr.Expr) plan.Node {
	n, _ := orderJoinsBases(rels, preds)
	return n
}

// orderJoinsBases is orderJoins, also returning each relation with its own
// filters.
func orderJoinsBases(rels []plan.Node, preds []*expr.Expr) (plan.Node, []plan.Node) {
	n := len(rels)
	schemas := make([]types.Schema, n)
	for i, r := range rels {
		schemas[i] = r.Schema()
	}
	relsOf := func(e *expr.Expr) uint64 {
		var m uint64
		for _, c := range expr.Columns(e) {
			for i, s := range schemas {
				if s.Index(c) >= 0 {
					m |= 1 << i
				}
			}
		}
		return m
	}
	var multi []joinPred
	filters := make([][]*expr.Expr, n)
	var constant []*expr.Expr
	for _, p := range preds {
		m := relsOf(p)
		switch bits.OnesCount64(m) {
		case 0:
			constant = append(constant, p)
			continue
		case 1:
			i := bits.TrailingZeros64(m)
			filters[i] = append(filters[i], p)
			continue
		}
		// An OR over several relations implies, for each relation every
		// branch has conditions on, the OR of those: a filter of its own
		// (TPC-H Q7's (n1 = FRANCE and n2 = GERMANY) or (n1 = GERMANY and
		// n2 = FRANCE) keeps two nations of each), known before ordering.
		for i := 0; i < n; i++ {
			if d := impliedFilter(p, func(e *expr.Expr) bool { return relsOf(e) == 1<<i }); d != nil {
				filters[i] = append(filters[i], d)
			}
		}
		jp := joinPred{e: p, rels: m}
		if p.Op == expr.OpEq {
			a, b := relsOf(p.Args[0]), relsOf(p.Args[1])
			if a != 0 && b != 0 && a&b == 0 {
				jp.l, jp.r, jp.lrels, jp.rrels = p.Args[0], p.Args[1], a, b
			}
		}
		multi = append(multi, jp)
	}
	base := make([]plan.Node, n)
	for i, r := range rels {
		base[i] = wrap(r, filters[i])
	}
	var out plan.Node
	if n <= maxDPRelations {
		out = dpOrder(base, multi)
	} else {
		out = greedyOrder(base, multi)
	}
	return wrap(out, constant), base
}

// impliedFilter is, for an OR, the OR over its branches of each branch's
// conjuncts that mine accepts, when every branch has some; else nil.
func impliedFilter(p *expr.Expr, mine func(*expr.Expr) bool) *expr.Expr {
	if p.Op != expr.OpOr {
		return nil
	}
	var ors []*expr.Expr
	for _, br := range expr.Disjuncts(p) {
		var own []*expr.Expr
		for _, c := range expr.Conjuncts(br) {
			if mine(c) {
				own = append(own, c)
			}
		}
		if len(own) == 0 {
			return nil
		}
		ors = append(ors, expr.And(own...))
	}
	return expr.Or(ors...)
}

func wrap(n plan.Node, preds []*expr.Expr) plan.Node {
	if len(preds) == 0 {
		return n
	}
	return &plan.Filter{Input: n, Pred: expr.And(preds...)}
}

// join joins the plans of the relation sets a and b with every predicate
// that becomes checkable, and whether any of them is an equality key.
func join(a, b plan.Node, am, bm uint64, preds []joinPred) (*plan.Join, bool) {
	j := &plan.Join{Left: a, Right: b, Type: hashjoin.Inner}
	var residual []*expr.Expr
	for _, p := range preds {
		all := am | bm
		if p.rels&all != p.rels || p.rels&am == p.rels || p.rels&bm == p.rels {
			continue // not checkable yet, or checked inside one side already
		}
		switch {
		case p.l != nil && p.lrels&am == p.lrels && p.rrels&bm == p.rrels:
			j.LeftKeys, j.RightKeys = append(j.LeftKeys, p.l), append(j.RightKeys, p.r)
		case p.l != nil && p.lrels&bm == p.lrels && p.rrels&am == p.rrels:
			j.LeftKeys, j.RightKeys = append(j.LeftKeys, p.r), append(j.RightKeys, p.l)
		default:
			residual = append(residual, p.e)
		}
	}
	keyed := len(j.LeftKeys) > 0
	if !keyed {
		one := expr.Lit(expr.Value{T: types.Int64Type, I: 1})
		r, _ := expr.Resolve(one, nil)
		j.LeftKeys, j.RightKeys = []*expr.Expr{r}, []*expr.Expr{r}
	}
	if len(residual) > 0 {
		j.Residual = expr.And(residual...)
	}
	return j, keyed
}

// buildWeight is the cost of building a hash table row, in rows made.
const buildWeight = 2

// probeWeight is the cost of probing a hash table of build rows with one
// row, in rows made: a table that stays in the core's cache (up to 32k
// rows, 0.1) costs a fifth of one that does not (256k rows and more: two
// cache misses a probe, 0.5), in between as the logarithm of its size. In
// TPC-H Q5 at SF1, 6M lineitem rows probed the 240k orders of a year at
// 12.5 ns a row, and the 2,000 suppliers of a region at about 2 ns.
func probeWeight(build int64) float64 {
	const small, large = 32 << 10, 256 << 10
	switch {
	case build <= small:
		return 0.1
	case build >= large:
		return 0.5
	}
	return 0.1 + 0.4*math.Log2(float64(build)/small)/math.Log2(large/small)
}

// dpEntry is the best plan found for a set of relations: its estimated
// rows, the rows of its largest base relation, and the cost of its joins
// (see dpOrder).
type dpEntry struct {
	node       plan.Node
	rows, base int64
	cost       float64
}

// joinRows estimates a join's rows from its sides' cached figures: from
// the keys' distinct counts when known (plan.JoinRowsFromDistinct); else as
// plan.EstimateRows does (a
// key/foreign-key join: the larger side survives, reduced by the filters on
// the smaller one).
func joinRows(l, r dpEntry, j *plan.Join) (rows, base int64) {
	if rows, ok := plan.JoinRowsFromDistinct(l.node, r.node, l.rows, r.rows, j.LeftKeys, j.RightKeys); ok {
		return rows, max(l.base, r.base)
	}
	big, small := l, r
	if l.rows < r.rows {
		big, small = r, l
	}
	f := 1.0
	if small.base > 0 {
		f = min(1, float64(small.rows)/float64(small.base))
	}
	return max(1, int64(float64(big.rows)*f)), max(l.base, r.base)
}

func dpOrder(base []plan.Node, preds []joinPred) plan.Node {
	n := len(base)
	full := uint64(1)<<n - 1
	best := make(map[uint64]dpEntry, 1<<n)
	for i, b := range base {
		best[1<<i] = dpEntry{node: b, rows: plan.EstimateRows(b), base: plan.BaseRows(b)}
	}
	// Subsets in order of size, so that both halves are done first.
	subsets := make([]uint64, 0, 1<<n)
	for m := uint64(1); m <= full; m++ {
		if bits.OnesCount64(m) > 1 {
			subsets = append(subsets, m)
		}
	}
	slices.SortFunc(subsets, func(a, b uint64) int { return bits.OnesCount64(a) - bits.OnesCount64(b) })
	for _, m := range subsets {
		var cur dpEntry
		found := false
		// Every split of m into two non-empty halves, each once.
		for s := (m - 1) & m; s > 0; s = (s - 1) & m {
			o := m &^ s
			if s < o {
				continue
			}
			l, lok := best[s]
			r, rok := best[o]
			if !lok || !rok {
				continue
			}
			j, keyed := join(l.node, r.node, s, o, preds)
			if !keyed {
				continue
			}
			rows, b := joinRows(l, r, j)
			// The cost: the rows each join makes, its hash table (built
			// on the smaller side), a row of which costs about two made,
			// and the probes of the larger side into it.
			build, probe := min(l.rows, r.rows), max(l.rows, r.rows)
			c := l.cost + r.cost + float64(rows) + buildWeight*float64(build) + probeWeight(build)*float64(probe)
			if !found || c < cur.cost {
				cur, found = dpEntry{node: j, rows: rows, base: b, cost: c}, true
			}
		}
		if found {
			best[m] = cur
		}
	}
	if e, ok := best[full]; ok {
		return e.node
	}
	// Not connected: join the largest connected pieces by cross products,
	// smallest first.
	var pieces []uint64
	left := full
	for left != 0 {
		var pick uint64
		for m := range best {
			if m&left == m && bits.OnesCount64(m) > bits.OnesCount64(pick) {
				pick = m
			}
		}
		pieces = append(pieces, pick)
		left &^= pick
	}
	slices.SortFunc(pieces, func(a, b uint64) int { return int(best[a].rows - best[b].rows) })
	acc, accM := best[pieces[0]].node, pieces[0]
	for _, p := range pieces[1:] {
		j, _ := join(acc, best[p].node, accM, p, preds)
		acc, accM = j, accM|p
	}
	return acc
}

// greedyOrder starts from the smallest relation and joins, at each step,
// the relation (connected if any is) that gives the smallest result.
func greedyOrder(base []plan.Node, preds []joinPred) plan.Node {
	n := len(base)
	start := 0
	for i := range base {
		if plan.EstimateRows(base[i]) < plan.EstimateRows(base[start]) {
			start = i
		}
	}
	acc, accM := base[start], uint64(1)<<start
	for bits.OnesCount64(accM) < n {
		var bestJ *plan.Join
		var bestM uint64
		bestKeyed := false
		var bestRows int64
		for i := range base {
			m := uint64(1) << i
			if accM&m != 0 {
				continue
			}
			j, keyed := join(acc, base[i], accM, m, preds)
			rows := plan.EstimateRows(j)
			if bestJ == nil || (keyed && !bestKeyed) || (keyed == bestKeyed && rows < bestRows) {
				bestJ, bestM, bestKeyed, bestRows = j, m, keyed, rows
			}
		}
		acc, accM = bestJ, accM|bestM
	}
	return acc
}
