package optimize

import (
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// reorderJoins orders chains of inner joins so that the most selective
// dimension is joined first: (X ⋈ A) ⋈ B becomes (X ⋈ B) ⋈ A when B joins on
// columns of X alone and B's filters keep a smaller fraction of its rows than
// A's keep of A's (estimated). Intermediate results then shrink as early as
// possible. The output columns keep their order.
func reorderJoins(n plan.Node) plan.Node {
	return bottomUp(n, reorderJoinsNode)
}

func reorderJoinsNode(n plan.Node) plan.Node {
	for i := 0; i < 8; i++ { // bubble the selective joins down, a few steps
		m, changed := swapSelective(n)
		if !changed {
			return n
		}
		n = m
	}
	return n
}

// reduction is the fraction of its base rows a join input is estimated to keep.
func reduction(n plan.Node) float64 {
	base := plan.BaseRows(n)
	if base <= 0 {
		return 1
	}
	return min(1, float64(max(plan.EstimateRows(n), 1))/float64(base))
}

func innerJoin(n plan.Node) (*plan.Join, bool) {
	j, ok := n.(*plan.Join)
	return j, ok && j.Type == hashjoin.Inner
}

func onlyFrom(es []*expr.Expr, s types.Schema) bool {
	for _, e := range es {
		if e == nil {
			continue
		}
		for _, c := range expr.Columns(e) {
			if s.Index(c) < 0 {
				return false
			}
		}
	}
	return true
}

func swapSelective(n plan.Node) (plan.Node, bool) {
	outer, ok := innerJoin(n)
	if !ok {
		return n, false
	}
	inner, ok := innerJoin(outer.Left)
	if !ok {
		return n, false
	}
	x, a, b := inner.Left, inner.Right, outer.Right
	xs := x.Schema()
	// B must join on X's columns alone (and so may any residual of the outer join
	// that mentions the left side).
	var resLeft []*expr.Expr
	for _, c := range expr.Conjuncts(outer.Residual) {
		l, _ := sideOf(c, outer.Left.Schema(), b.Schema())
		if l {
			resLeft = append(resLeft, c)
		}
	}
	if !onlyFrom(outer.LeftKeys, xs) || !onlyFrom(resLeft, append(append(types.Schema{}, xs...), b.Schema()...)) {
		return n, false
	}
	// Only clear wins: the estimates use fixed selectivities, so B must look
	// an order of magnitude more selective than A.
	if reduction(b) >= reduction(a)*0.1 {
		return n, false
	}
	xb := &plan.Join{Left: x, Right: b, Type: hashjoin.Inner, LeftKeys: outer.LeftKeys, RightKeys: outer.RightKeys, Residual: outer.Residual}
	xba := &plan.Join{Left: xb, Right: a, Type: hashjoin.Inner, LeftKeys: inner.LeftKeys, RightKeys: inner.RightKeys, Residual: inner.Residual}
	var cols []*expr.Expr
	for _, f := range n.Schema() {
		c, err := expr.Resolve(expr.Col(f.Name), xba.Schema())
		if err != nil {
			return n, false
		}
		cols = append(cols, c)
	}
	return &plan.Project{Input: xba, Exprs: cols}, true
}

// pushSemiJoins moves each semi- and anti-join below the joins and
// filters of its left input, to the input that has every left column it
// reads (an IN or EXISTS subquery on one table of a join filters that
// table before the join, as a filter would): through an inner join to
// either side, through a left join to its preserved side.
func pushSemiJoins(n plan.Node) plan.Node {
	return bottomUp(n, pushSemiJoinsNode)
}

func pushSemiJoinsNode(n plan.Node) plan.Node {
	j, ok := n.(*plan.Join)
	if !ok || (j.Type != hashjoin.Semi && j.Type != hashjoin.Anti) {
		return n
	}
	ls := j.Left.Schema()
	var cols []string
	for _, k := range j.LeftKeys {
		cols = append(cols, expr.Columns(k)...)
	}
	if j.Residual != nil {
		for _, c := range expr.Columns(j.Residual) {
			if ls.Index(c) >= 0 {
				cols = append(cols, c)
			}
		}
	}
	has := func(s types.Schema) bool {
		for _, c := range cols {
			if s.Index(c) < 0 {
				return false
			}
		}
		return true
	}
	// Only a semi-join by a set smaller than the table it filters moves
	// down: by a larger one (Q21's EXISTS over all of lineitem) it costs
	// less after the joins above have cut the rows it probes.
	right := plan.EstimateRows(j.Right)
	below := func(left plan.Node) plan.Node {
		c := *j
		c.Left = left
		return pushSemiJoins(&c)
	}
	small := func(target plan.Node) bool {
		r := plan.EstimateRows(target)
		return right >= 0 && r >= 0 && right < r
	}
	switch in := j.Left.(type) {
	case *plan.Filter:
		return &plan.Filter{Input: below(in.Input), Pred: in.Pred}
	case *plan.Join:
		switch {
		case (in.Type == hashjoin.Inner || in.Type == hashjoin.Left) && has(in.Left.Schema()) && small(in.Left):
			c := *in
			c.Left = below(in.Left)
			return &c
		case in.Type == hashjoin.Inner && has(in.Right.Schema()) && small(in.Right):
			c := *in
			c.Right = below(in.Right)
			return &c
		}
	}
	return n
}
