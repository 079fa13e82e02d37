package optimize

import (
	"slices"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Optimize applies every rule in order.
func Optimize(n plan.Node) plan.Node {
	n = mapExprs(n, Fold)
	n = markShared(n)
	n = pushdown(n, nil)
	n = pushSemiJoins(n)
	n = reorderJoins(n)
	n = chooseBuildSides(n)
	n = topK(n)
	n = dependentKeys(n)
	return pruneAll(n)
}

// bottomUp rewrites n's inputs, then n, with f.
func bottomUp(n plan.Node, f func(plan.Node) plan.Node) plan.Node {
	ch := n.Children()
	nc := make([]plan.Node, len(ch))
	for i, c := range ch {
		nc[i] = bottomUp(c, f)
	}
	return f(n.WithChildren(nc))
}

func allNames(s types.Schema) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, f := range s {
		m[f.Name] = true
	}
	return m
}

// mapExprs rewrites every expression of the plan with f.
func mapExprs(n plan.Node, f func(*expr.Expr) *expr.Expr) plan.Node {
	ch := n.Children()
	nc := make([]plan.Node, len(ch))
	for i, c := range ch {
		nc[i] = mapExprs(c, f)
	}
	mapAll := func(es []*expr.Expr) []*expr.Expr {
		out := make([]*expr.Expr, len(es))
		for i, e := range es {
			out[i] = f(e)
		}
		return out
	}
	switch x := n.WithChildren(nc).(type) {
	case *plan.Filter:
		x.Pred = f(x.Pred)
		return x
	case *plan.Project:
		x.Exprs = mapAll(x.Exprs)
		return x
	case *plan.Aggregate:
		x.Keys, x.Aggs = mapAll(x.Keys), mapAll(x.Aggs)
		return x
	case *plan.Join:
		x.LeftKeys, x.RightKeys = mapAll(x.LeftKeys), mapAll(x.RightKeys)
		if x.Residual != nil {
			x.Residual = f(x.Residual)
		}
		return x
	case *plan.Scan:
		if x.Filter != nil {
			x.Filter = f(x.Filter)
		}
		return x
	case *plan.Repartition:
		x.Keys = mapAll(x.Keys)
		return x
	case *plan.Sort:
		x.Keys = mapKeys(x.Keys, f)
		return x
	case *plan.Window:
		x.PartitionBy, x.Funcs, x.OrderBy = mapAll(x.PartitionBy), mapAll(x.Funcs), mapKeys(x.OrderBy, f)
		return x
	default:
		return x
	}
}

func mapKeys(ks []plan.SortKey, f func(*expr.Expr) *expr.Expr) []plan.SortKey {
	out := make([]plan.SortKey, len(ks))
	for i, k := range ks {
		out[i] = k
		out[i].Expr = f(k.Expr)
	}
	return out
}

// Fold replaces constant subexpressions by literals and simplifies boolean
// identities (x AND true, x OR false, …).
func Fold(e *expr.Expr) *expr.Expr {
	return expr.Rewrite(e, func(x *expr.Expr) *expr.Expr {
		switch x.Op {
		case expr.OpCol, expr.OpLit, expr.OpAlias:
			return x
		}
		if x.Op.IsAgg() || x.Op.IsWindow() {
			return x
		}
		if nullIn(x) {
			// A strict operator with a NULL constant operand is NULL
			// whatever the others are, which are then never evaluated
			// (PostgreSQL folds them so: col / 0 = NULL is NULL, no error).
			if r, err := expr.Resolve(expr.Lit(expr.Value{T: x.T, Null: true}), nil); err == nil {
				return r
			}
		}
		allLit := true
		for _, a := range x.Args {
			if a.Op != expr.OpLit {
				allLit = false
			}
		}
		if allLit {
			if v, ok := evalConst(x); ok {
				l := expr.Lit(v)
				r, err := expr.Resolve(l, nil)
				if err == nil {
					return r
				}
			}
		}
		if x.Op == expr.OpAnd || x.Op == expr.OpOr {
			for i, a := range x.Args {
				if a.Op == expr.OpLit && a.Val.T.ID == types.Bool && !a.Val.Null {
					other := x.Args[1-i]
					if x.Op == expr.OpAnd {
						if a.Val.B {
							return other
						}
						return a
					}
					if a.Val.B {
						return a
					}
					return other
				}
			}
		}
		return x
	})
}

// strictOps are the operators whose value is NULL when any operand is;
// the operands of OpIn and OpBetween after the first are not (x BETWEEN
// NULL AND 1 is false for x = 2).
var strictOps = map[expr.Op]bool{
	expr.OpAdd: true, expr.OpSub: true, expr.OpMul: true, expr.OpDiv: true, expr.OpIntDiv: true, expr.OpMod: true,
	expr.OpNeg: true, expr.OpPower: true, expr.OpEq: true, expr.OpNe: true, expr.OpLt: true, expr.OpLe: true,
	expr.OpGt: true, expr.OpGe: true, expr.OpNot: true, expr.OpCast: true, expr.OpConcat: true,
	expr.OpLike: true, expr.OpNotLike: true, expr.OpILike: true, expr.OpNotILike: true,
	expr.OpAbs: true, expr.OpSign: true, expr.OpSqrt: true, expr.OpLn: true, expr.OpLog10: true, expr.OpExp: true,
	expr.OpCeil: true, expr.OpFloor: true, expr.OpUpper: true, expr.OpLower: true, expr.OpLength: true,
	expr.OpLPad: true, expr.OpRPad: true, expr.OpRepeat: true, expr.OpReverse: true, expr.OpSplitPart: true,
	expr.OpMD5: true, expr.OpRegexLike: true, expr.OpRegexReplace: true,
}

// nullIn reports whether x is NULL for a NULL constant operand.
func nullIn(x *expr.Expr) bool {
	isNull := func(a *expr.Expr) bool { return a.Op == expr.OpLit && a.Val.Null }
	switch {
	case strictOps[x.Op]:
		return slices.ContainsFunc(x.Args, isNull)
	case x.Op == expr.OpIn || x.Op == expr.OpBetween:
		return len(x.Args) > 0 && isNull(x.Args[0])
	}
	return false
}

func evalConst(e *expr.Expr) (v expr.Value, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ev, err := eval.Compile(e, nil)
	if err != nil {
		return v, false
	}
	out := ev.Eval(&coldata.Batch{N: 1})
	return eval.ValueAt(out, 0), true
}

// sideOf reports which join inputs a predicate's columns come from.
func sideOf(e *expr.Expr, left, right types.Schema) (l, r bool) {
	for _, c := range expr.Columns(e) {
		if left.Index(c) >= 0 {
			l = true
		} else if right.Index(c) >= 0 {
			r = true
		}
	}
	return
}

// pushdown moves the predicates preds (over n's output) as far down as they go.
func pushdown(n plan.Node, preds []*expr.Expr) plan.Node {
	switch x := n.(type) {
	case *plan.Filter:
		return pushdown(x.Input, append(preds, expr.Conjuncts(x.Pred)...))
	case *plan.Project:
		m := map[string]*expr.Expr{}
		for _, e := range x.Exprs {
			m[e.OutputName()] = e
		}
		var below []*expr.Expr
		for _, p := range preds {
			below = append(below, expr.Substitute(p, m))
		}
		return &plan.Project{Input: pushdown(x.Input, below), Exprs: x.Exprs}
	case *plan.Aggregate:
		keyOf := map[string]*expr.Expr{}
		for _, k := range x.Keys {
			keyOf[k.OutputName()] = k
		}
		var below, above []*expr.Expr
		for _, p := range preds {
			ok := true
			for _, c := range expr.Columns(p) {
				if keyOf[c] == nil {
					ok = false
				}
			}
			if ok {
				below = append(below, expr.Substitute(p, keyOf))
			} else {
				above = append(above, p)
			}
		}
		out := plan.Node(&plan.Aggregate{Input: pushdown(x.Input, below), Keys: x.Keys, Aggs: x.Aggs})
		return wrapFilter(out, above)
	case *plan.Sort:
		if x.Limit > 0 {
			return wrapFilter(&plan.Sort{Input: pushdown(x.Input, nil), Keys: x.Keys, Limit: x.Limit}, preds)
		}
		return &plan.Sort{Input: pushdown(x.Input, preds), Keys: x.Keys}
	case *plan.Limit:
		return wrapFilter(&plan.Limit{Input: pushdown(x.Input, nil), N: x.N, Offset: x.Offset}, preds)
	case *plan.Scan:
		if len(preds) == 0 {
			return x
		}
		c := *x
		c.Filter = expr.And(append(expr.Conjuncts(x.Filter), preds...)...)
		return &c
	case *plan.Join:
		return pushJoin(x, preds)
	case *plan.Repartition:
		// (the same schema above and below: predicates pass unchanged)
		return &plan.Repartition{Input: pushdown(x.Input, preds), Keys: x.Keys, N: x.N}
	case *plan.Union:
		// Both sides have the union's column names: each gets every predicate.
		return &plan.Union{Left: pushdown(x.Left, preds), Right: pushdown(x.Right, preds)}
	case *plan.Window:
		// A predicate on partition key columns alone keeps or drops whole
		// partitions: it filters the input instead.
		keys := map[string]bool{}
		for _, k := range x.PartitionBy {
			if u := k.Unalias(); u.Op == expr.OpCol {
				keys[u.Name] = true
			}
		}
		var below, above []*expr.Expr
		for _, p := range preds {
			cs := expr.Columns(p)
			ok := len(cs) > 0
			for _, c := range cs {
				ok = ok && keys[c]
			}
			if ok {
				below = append(below, p)
			} else {
				above = append(above, p)
			}
		}
		c := *x
		c.Input = pushdown(x.Input, below)
		return wrapFilter(&c, above)
	}
	// Any other node: predicates stay above it, its inputs are still optimized.
	ch := n.Children()
	nc := make([]plan.Node, len(ch))
	for i, c := range ch {
		nc[i] = pushdown(c, nil)
	}
	return wrapFilter(n.WithChildren(nc), preds)
}

func wrapFilter(n plan.Node, preds []*expr.Expr) plan.Node {
	if len(preds) == 0 {
		return n
	}
	return &plan.Filter{Input: n, Pred: expr.And(preds...)}
}

func pushJoin(j *plan.Join, preds []*expr.Expr) plan.Node {
	ls, rs := j.Left.Schema(), j.Right.Schema()
	if j.Type == hashjoin.Left {
		// A condition above that no row padded with NULLs passes makes
		// the outer join an inner one (a scalar subquery compared in WHERE).
		for _, p := range preds {
			if nullRejects(p, rs) {
				c := *j
				c.Type = hashjoin.Inner
				j = &c
				break
			}
		}
	}
	var toLeft, toRight, above, residual []*expr.Expr
	inner := j.Type == hashjoin.Inner
	lk, rk := append([]*expr.Expr(nil), j.LeftKeys...), append([]*expr.Expr(nil), j.RightKeys...)
	for _, p := range preds {
		l, r := sideOf(p, ls, rs)
		switch {
		case l && !r:
			toLeft = append(toLeft, p)
		case r && !l && inner:
			toRight = append(toRight, p)
		case l && r && inner:
			if a, b, ok := equiKeys(p, ls, rs); ok {
				lk, rk = append(lk, a), append(rk, b)
				continue
			}
			residual = append(residual, p)
			dl, dr := deriveSides(p, ls, rs)
			toLeft = append(toLeft, dl...)
			toRight = append(toRight, dr...)
		default:
			above = append(above, p)
		}
	}
	// The join's own condition.
	for _, p := range expr.Conjuncts(j.Residual) {
		l, r := sideOf(p, ls, rs)
		switch {
		case r && !l:
			// A condition on the build side only filters build rows.
			toRight = append(toRight, p)
		case l && !r && (inner || j.Type == hashjoin.Semi):
			toLeft = append(toLeft, p)
		default:
			if a, b, ok := equiKeys(p, ls, rs); ok && inner {
				lk, rk = append(lk, a), append(rk, b)
				continue
			}
			residual = append(residual, p)
			if l && r && (inner || j.Type == hashjoin.Semi) {
				_, dr := deriveSides(p, ls, rs)
				toRight = append(toRight, dr...)
				if inner {
					dl, _ := deriveSides(p, ls, rs)
					toLeft = append(toLeft, dl...)
				}
			}
		}
	}
	out := &plan.Join{Left: pushdown(j.Left, toLeft), Right: pushdown(j.Right, toRight), Type: j.Type,
		LeftKeys: lk, RightKeys: rk, Residual: expr.And(residual...)}
	return wrapFilter(out, above)
}

// nullRejects reports whether p is false or NULL whenever the columns of s
// it reads are NULL: a comparison (LIKE, IN, IS NOT NULL) of expressions
// that are NULL when such a column is, or a conjunction with one.
func nullRejects(p *expr.Expr, s types.Schema) bool {
	switch p.Op {
	case expr.OpAnd:
		return nullRejects(p.Args[0], s) || nullRejects(p.Args[1], s)
	case expr.OpOr:
		return nullRejects(p.Args[0], s) && nullRejects(p.Args[1], s)
	case expr.OpEq, expr.OpNe, expr.OpLt, expr.OpLe, expr.OpGt, expr.OpGe, expr.OpLike, expr.OpNotLike, expr.OpIn, expr.OpIsNotNull:
		for _, a := range p.Args {
			if strictOn(a, s) {
				return true
			}
		}
	}
	return false
}

// strictOn reports whether e is NULL when a column of s it reads is.
func strictOn(e *expr.Expr, s types.Schema) bool {
	switch e.Op {
	case expr.OpCol:
		return s.Index(e.Name) >= 0
	case expr.OpAlias, expr.OpCast, expr.OpNeg, expr.OpAdd, expr.OpSub, expr.OpMul, expr.OpDiv,
		expr.OpSubstr, expr.OpYear, expr.OpAddDays, expr.OpAddMonths:
		for _, a := range e.Args {
			if strictOn(a, s) {
				return true
			}
		}
	}
	return false
}

// equiKeys recognizes l = r between a left and a right expression.
func equiKeys(p *expr.Expr, ls, rs types.Schema) (*expr.Expr, *expr.Expr, bool) {
	if p.Op != expr.OpEq {
		return nil, nil, false
	}
	a, b := p.Args[0], p.Args[1]
	al, ar := sideOf(a, ls, rs)
	bl, br := sideOf(b, ls, rs)
	switch {
	case al && !ar && br && !bl:
		return a, b, true
	case ar && !al && bl && !br:
		return b, a, true
	}
	return nil, nil, false
}

// deriveSides turns OR(branch…) into implied single-side filters: for each side,
// OR over the branches of the branch's conjuncts on that side alone (only when
// every branch has some). The original predicate stays where it was.
func deriveSides(p *expr.Expr, ls, rs types.Schema) (left, right []*expr.Expr) {
	if p.Op != expr.OpOr {
		return nil, nil
	}
	branches := expr.Disjuncts(p)
	derive := func(wantLeft bool) *expr.Expr {
		var ors []*expr.Expr
		for _, b := range branches {
			var mine []*expr.Expr
			for _, c := range expr.Conjuncts(b) {
				l, r := sideOf(c, ls, rs)
				if (wantLeft && l && !r) || (!wantLeft && r && !l) {
					mine = append(mine, c)
				}
			}
			if len(mine) == 0 {
				return nil
			}
			ors = append(ors, expr.And(mine...))
		}
		return expr.Or(ors...)
	}
	if d := derive(true); d != nil {
		left = append(left, d)
	}
	if d := derive(false); d != nil {
		right = append(right, d)
	}
	return
}

// chooseBuildSides makes the smaller input of each inner join its build (right) side.
func chooseBuildSides(n plan.Node) plan.Node {
	return bottomUp(n, chooseBuildSidesNode)
}

func chooseBuildSidesNode(n plan.Node) plan.Node {
	j, ok := n.(*plan.Join)
	if !ok || j.Type != hashjoin.Inner {
		return n
	}
	if plan.EstimateRows(j.Left) >= plan.EstimateRows(j.Right) {
		return n
	}
	swapped := &plan.Join{Left: j.Right, Right: j.Left, Type: hashjoin.Inner, LeftKeys: j.RightKeys,
		RightKeys: j.LeftKeys, Residual: j.Residual}
	// Keep the original column order.
	var cols []*expr.Expr
	for _, f := range j.Schema() {
		c, _ := expr.Resolve(expr.Col(f.Name), swapped.Schema())
		cols = append(cols, c)
	}
	return &plan.Project{Input: swapped, Exprs: cols}
}

// topK folds Limit(Sort) into a Sort with a limit.
func topK(n plan.Node) plan.Node {
	return bottomUp(n, topKNode)
}

func topKNode(n plan.Node) plan.Node {
	l, ok := n.(*plan.Limit)
	if !ok {
		return n
	}
	s, ok := l.Input.(*plan.Sort)
	if !ok || s.Limit > 0 {
		return n
	}
	return &plan.Limit{Input: &plan.Sort{Input: s.Input, Keys: s.Keys, Limit: l.N + l.Offset}, N: l.N, Offset: l.Offset}
}

// pruner prunes the columns nobody needs (prune). shared holds, for each
// subplan used more than once (plan.Shared, by its canonical text), the
// columns some use of it needs: every use computes it with those, so that
// its uses stay one subplan.
type pruner struct {
	shared  map[string]map[string]bool
	changed bool
}

// pruneAll prunes n's columns. A shared subplan's columns are known once
// every use was seen (and those of one inside it once its own are):
// passes repeat while they grow. Were they still growing after the last
// pass, its uses would differ and each be computed on its own: slower, as
// correct.
func pruneAll(n plan.Node) plan.Node {
	p := &pruner{shared: map[string]map[string]bool{}}
	var out plan.Node
	for range 8 {
		p.changed = false
		out = p.prune(n, allNames(n.Schema()))
		if !p.changed {
			break
		}
	}
	return out
}

// prune keeps only the columns that are needed above each node.
func (p *pruner) prune(n plan.Node, need map[string]bool) plan.Node {
	prune := p.prune
	addCols := func(m map[string]bool, es ...*expr.Expr) {
		for _, e := range es {
			if e == nil {
				continue
			}
			for _, c := range expr.Columns(e) {
				m[c] = true
			}
		}
	}
	switch x := n.(type) {
	case *plan.Project:
		var keep []*expr.Expr
		for _, e := range x.Exprs {
			if need[e.OutputName()] {
				keep = append(keep, e)
			}
		}
		child := map[string]bool{}
		addCols(child, keep...)
		in := prune(x.Input, child)
		if plan.IsIdentity(keep, in.Schema()) {
			return in
		}
		return &plan.Project{Input: in, Exprs: keep}
	case *plan.Filter:
		child := copyNeed(need)
		addCols(child, x.Pred)
		return restrict(&plan.Filter{Input: prune(x.Input, child), Pred: x.Pred}, need)
	case *plan.Aggregate:
		child := map[string]bool{}
		addCols(child, x.Keys...)
		addCols(child, x.Aggs...)
		return &plan.Aggregate{Input: prune(x.Input, child), Keys: x.Keys, Aggs: x.Aggs}
	case *plan.Join:
		ls, rs := x.Left.Schema(), x.Right.Schema()
		ln, rn := map[string]bool{}, map[string]bool{}
		for c := range need {
			if ls.Index(c) >= 0 {
				ln[c] = true
			} else if rs.Index(c) >= 0 && x.Type != hashjoin.Semi && x.Type != hashjoin.Anti {
				rn[c] = true
			}
		}
		addCols(ln, x.LeftKeys...)
		addCols(rn, x.RightKeys...)
		if x.Residual != nil {
			for _, c := range expr.Columns(x.Residual) {
				if ls.Index(c) >= 0 {
					ln[c] = true
				} else {
					rn[c] = true
				}
			}
		}
		j := &plan.Join{Left: prune(x.Left, ln), Right: prune(x.Right, rn), Type: x.Type,
			LeftKeys: x.LeftKeys, RightKeys: x.RightKeys, Residual: x.Residual}
		return restrict(j, need)
	case *plan.Sort:
		child := copyNeed(need)
		for _, k := range x.Keys {
			addCols(child, k.Expr)
		}
		return restrict(&plan.Sort{Input: prune(x.Input, child), Keys: x.Keys, Limit: x.Limit}, need)
	case *plan.Limit:
		return &plan.Limit{Input: prune(x.Input, need), N: x.N, Offset: x.Offset}
	case *plan.Repartition:
		// Keys are bound to the input's columns: keep them all below.
		return &plan.Repartition{Input: prune(x.Input, allNames(x.Input.Schema())), Keys: x.Keys, N: x.N}
	case *plan.Union:
		// Both sides keep the same columns, in the union's order.
		return &plan.Union{Left: restrict(prune(x.Left, need), need), Right: restrict(prune(x.Right, need), need)}
	case *plan.SingleRow:
		return &plan.SingleRow{Input: prune(x.Input, need)}
	case *plan.Shared:
		key := plan.Canonical(x.Input)
		all := p.shared[key]
		if all == nil {
			all = map[string]bool{}
			p.shared[key] = all
		}
		for c := range need {
			if !all[c] && x.Schema().Index(c) >= 0 {
				all[c], p.changed = true, true
			}
		}
		if len(all) == 0 { // (its uses count its rows: one column)
			all[x.Schema()[0].Name], p.changed = true, true
		}
		return restrict(&plan.Shared{Input: restrict(prune(x.Input, copyNeed(all)), all)}, need)
	case *plan.Window:
		c := *x
		c.Funcs = nil
		for _, f := range x.Funcs {
			if need[f.OutputName()] {
				c.Funcs = append(c.Funcs, f)
			}
		}
		child := map[string]bool{}
		for _, f := range x.Input.Schema() {
			if need[f.Name] {
				child[f.Name] = true
			}
		}
		if len(c.Funcs) == 0 {
			return restrict(prune(x.Input, child), need)
		}
		addCols(child, c.PartitionBy...)
		addCols(child, c.Funcs...)
		for _, k := range c.OrderBy {
			addCols(child, k.Expr)
		}
		c.Input = prune(x.Input, child)
		return restrict(&c, need)
	case *plan.Scan:
		full := x.Source.Schema()
		want := copyNeed(need)
		addCols(want, x.Filter)
		var cols []int
		for _, c := range x.Columns {
			if want[full[c].Name] {
				cols = append(cols, c)
			}
		}
		s := &plan.Scan{Source: x.Source, Columns: cols, Filter: x.Filter}
		return restrict(s, need)
	}
	return n
}

func copyNeed(m map[string]bool) map[string]bool {
	c := make(map[string]bool, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// restrict adds a projection when n outputs columns nobody needs.
func restrict(n plan.Node, need map[string]bool) plan.Node {
	s := n.Schema()
	var cols []*expr.Expr
	for _, f := range s {
		if need[f.Name] {
			c, _ := expr.Resolve(expr.Col(f.Name), s)
			cols = append(cols, c)
		}
	}
	if len(cols) == len(s) {
		return n
	}
	return &plan.Project{Input: n, Exprs: cols}
}
