package binder

import (
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/sql/parser"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Subqueries are decorrelated the general way (Neumann and Kemper,
// "Unnesting Arbitrary Queries"): the distinct values of the outer columns a
// subquery refers to (D) join the subquery's FROM, the subquery is computed
// once per such value (grouped by it when it aggregates), and the outer
// query joins the result on those columns (NULL equal to NULL). In WHERE,
// [NOT] EXISTS and [NOT] IN become semi- and anti-joins; elsewhere a
// subquery is a left join that yields its value.

// sub is a bound subquery: its relation, and the outer columns it is
// correlated on with the subquery's columns that carry them.
type sub struct {
	rel          relation
	outer, inner []column
}

// subplan binds q as a subquery of the context c.
func (b *binder) subplan(q *parser.Query, c *ectx) sub {
	if c.node == nil {
		failAt(q, "subqueries are not allowed here")
	}
	refs := b.probe(q, c).refs
	if len(refs) == 0 {
		return sub{rel: b.bindQuery(q, c.sc, nil)}
	}
	s := (*c.node).Schema()
	var es []*expr.Expr
	var inner []column
	for _, r := range refs {
		if s.Index(r.id) < 0 {
			failAt(q, "a subquery may refer to columns of the query just around it only (%s is further out)", r.name)
		}
		id := b.newID(r.name)
		es = append(es, expr.Alias(expr.Col(r.id), id))
		inner = append(inner, column{table: r.table, name: r.name, id: id, t: r.t, hidden: true})
	}
	d := relation{node: distinct(b.project(q, outerValues(*c.node, c.bases, refs), es)), cols: inner}
	rel := b.bindQuery(q, &scope{parent: c.sc}, &d)
	return sub{rel: rel, outer: refs, inner: inner}
}

// probe binds q once to learn which outer columns it uses (and, in
// b.resolved, where each of its names resolves); the plan is dropped.
func (b *binder) probe(q *parser.Query, c *ectx) *correlation {
	mid := &scope{parent: c.sc, corr: &correlation{}}
	b.probing++
	savedProbe := b.probeCols
	b.bindQuery(q, mid, nil)
	b.probing--
	b.probeCols = savedProbe
	return mid.corr
}

// outerValues is the plan D's values are taken from: the outer rows, or,
// when every outer column the subquery uses comes from one FROM relation
// whose own filtered rows are not many more (at most twice as many), that
// relation alone. Its values are a superset of those in the outer rows,
// which is safe (the outer query joins the subquery's results on them: a
// value no outer row has matches nothing) and avoids computing the joins
// of the outer query twice (TPC-H Q17: D is the chosen parts, not the
// parts' lineitems).
func outerValues(node plan.Node, bases []plan.Node, refs []column) plan.Node {
	for _, base := range bases {
		s := base.Schema()
		all := true
		for _, r := range refs {
			if s.Index(r.id) < 0 {
				all = false
				break
			}
		}
		if !all {
			continue
		}
		if b, n := plan.EstimateRows(base), plan.EstimateRows(node); b >= 0 && n >= 0 && b <= 2*n {
			return base
		}
	}
	return node
}

// value is the one visible column of a subquery used as a value.
func (b *binder) value(n parser.Node, s sub) column {
	v := visible(s.rel)
	if len(v) != 1 {
		failAt(n, "subquery must return only one column, not %d", len(v))
	}
	return v[0]
}

// joinSub joins s to the plan of c on the correlation columns plus extra
// key pairs (outer, inner) and a residual.
func (b *binder) joinSub(n parser.Node, c *ectx, s sub, typ hashjoin.Type, lk, rk []*expr.Expr, residual *expr.Expr) {
	ls, rs := (*c.node).Schema(), s.rel.node.Schema()
	if len(s.outer) > 0 {
		l, r := nullSafeKeys(b, n, s.outer, s.inner, ls, rs)
		lk, rk = append(lk, l...), append(rk, r...)
	}
	if len(lk) == 0 {
		one := b.resolve(n, expr.Lit(expr.Value{T: types.Int64Type, I: 1}), nil)
		lk, rk = []*expr.Expr{one}, []*expr.Expr{one}
	}
	*c.node = &plan.Join{Left: *c.node, Right: s.rel.node, Type: typ, LeftKeys: lk, RightKeys: rk, Residual: residual}
}

// applyPredicate applies a WHERE conjunct that has a subquery: EXISTS,
// IN and ANY as semi-/anti-joins, anything else as a filter over the
// subqueries' values.
func (b *binder) applyPredicate(e parser.Expr, c *ectx) {
	neg := false
	inner := e
	if u, ok := e.(*parser.Unary); ok && u.Op == parser.Not {
		neg, inner = true, u.X
	}
	typ := hashjoin.Semi
	if neg {
		typ = hashjoin.Anti
	}
	switch x := inner.(type) {
	case *parser.Exists:
		if d, ok := b.direct(x.Query, c); ok {
			b.joinDirect(x, c, d, typ, nil, nil)
			return
		}
		s := b.subplan(x.Query, c)
		b.joinSub(x, c, s, typ, nil, nil, nil)
		return
	case *parser.InSubquery:
		if _, row := x.X.(*parser.Row); row {
			break
		}
		notIn := neg != x.Not
		v := b.bindExpr(x.X, c)
		if d, ok := b.direct(x.Query, c); ok {
			col := b.value(x, sub{rel: d.rel})
			l, r := b.keyPair(x, v, (*c.node).Schema(), col, sub{rel: d.rel})
			if !notIn {
				b.joinDirect(x, c, d, hashjoin.Semi, []*expr.Expr{l}, []*expr.Expr{r})
				return
			}
			if !l.Nullable && !r.Nullable {
				b.joinDirect(x, c, d, hashjoin.Anti, []*expr.Expr{l}, []*expr.Expr{r})
				return
			}
		}
		s := b.subplan(x.Query, c)
		col := b.value(x, s)
		l, r := b.keyPair(x, v, (*c.node).Schema(), col, s)
		if !notIn {
			b.joinSub(x, c, s, hashjoin.Semi, []*expr.Expr{l}, []*expr.Expr{r}, nil)
			return
		}
		if !l.Nullable && !r.Nullable {
			b.joinSub(x, c, s, hashjoin.Anti, []*expr.Expr{l}, []*expr.Expr{r}, nil)
			return
		}
		// NOT IN with NULLs: false when there is a match, NULL (so not kept)
		// when x or a value is NULL, true otherwise.
		*c.node = &plan.Filter{Input: *c.node, Pred: b.resolve(x, expr.Call(expr.OpNot, b.inMark(x, c, v, s, col)), (*c.node).Schema())}
		return
	case *parser.Quantified:
		v := b.bindExpr(x.Left, c)
		s := b.subplan(x.Query, c)
		col := b.value(x, s)
		l, r := b.keyPair(x, v, (*c.node).Schema(), col, s)
		if x.Op == parser.Eq && !x.All && !neg {
			b.joinSub(x, c, s, hashjoin.Semi, []*expr.Expr{l}, []*expr.Expr{r}, nil)
			return
		}
		ops := map[parser.BinaryOp]expr.Op{parser.Eq: expr.OpEq, parser.Ne: expr.OpNe, parser.Lt: expr.OpLt, parser.Le: expr.OpLe, parser.Gt: expr.OpGt, parser.Ge: expr.OpGe}
		all := append(append(types.Schema{}, (*c.node).Schema()...), s.rel.node.Schema()...)
		cmp := expr.Call(ops[x.Op], l, r)
		isNull := expr.Call(expr.OpIsNull, cmp)
		var typ hashjoin.Type
		var res *expr.Expr
		switch {
		case !x.All && !neg: // some comparison is true
			typ, res = hashjoin.Semi, cmp
		case !x.All && neg: // NOT ANY: every comparison false (none true or NULL)
			typ, res = hashjoin.Anti, expr.Call(expr.OpCase, isNull, lit(true), cmp)
		case x.All && !neg: // ALL: none false or NULL
			typ, res = hashjoin.Anti, expr.Call(expr.OpCase, isNull, lit(true), expr.Call(expr.OpNot, cmp))
		default: // NOT ALL: some comparison false
			typ, res = hashjoin.Semi, expr.Call(expr.OpNot, cmp)
		}
		b.joinSub(x, c, s, typ, nil, nil, b.resolve(x, res, all))
		return
	}
	p := b.bindBool(e, c)
	*c.node = &plan.Filter{Input: *c.node, Pred: p}
}

// keyPair gives the outer value and the subquery's column one type.
func (b *binder) keyPair(n parser.Node, v *expr.Expr, outer types.Schema, col column, s sub) (*expr.Expr, *expr.Expr) {
	r := b.resolve(n, expr.Col(col.id), s.rel.node.Schema())
	v, r = b.pair(n, v, r)
	if v.T != r.T {
		t, err := expr.CommonType(v.T, r.T)
		if err != nil {
			failAt(n, "cannot compare %s with the subquery's %s", v.T, r.T)
		}
		v = b.resolve(n, expr.CastTo(v, t), outer)
		r = b.resolve(n, expr.CastTo(r, t), s.rel.node.Schema())
	}
	return v, r
}

// scalarSubquery joins a subquery's value in: a left join, so that no row
// gives NULL (or, for an aggregate over no rows, its value: count is 0).
func (b *binder) scalarSubquery(x *parser.Subquery, c *ectx) *expr.Expr {
	s := b.subplan(x.Query, c)
	col := b.value(x, s)
	if len(s.outer) == 0 {
		s.rel.node = &plan.SingleRow{Input: s.rel.node}
		b.joinSub(x, c, s, hashjoin.Left, nil, nil, nil)
		return b.resolve(x, expr.Col(col.id), (*c.node).Schema())
	}
	empty := emptyValue(x.Query)
	if empty == nil {
		b.joinSub(x, c, s, hashjoin.Left, nil, nil, nil)
		return b.resolve(x, expr.Col(col.id), (*c.node).Schema())
	}
	// A marker tells the groups that exist from those that do not.
	mark := b.newID("matched")
	var es []*expr.Expr
	for _, f := range s.rel.node.Schema() {
		es = append(es, expr.Col(f.Name))
	}
	es = append(es, expr.Alias(lit(true), mark))
	s.rel.node = b.project(x, s.rel.node, es)
	b.joinSub(x, c, s, hashjoin.Left, nil, nil, nil)
	sch := (*c.node).Schema()
	v := b.resolve(x, expr.Col(col.id), sch)
	ev := b.resolve(x, expr.CastTo(expr.Lit(*empty), v.T), nil)
	return b.resolve(x, expr.Call(expr.OpCase, expr.Call(expr.OpIsNull, expr.Col(mark)), ev, v), sch)
}

// emptyValue is the value of a correlated aggregate subquery over no rows
// when it is not NULL: count(...) alone gives 0.
func emptyValue(q *parser.Query) *expr.Value {
	sel, ok := q.Body.(*parser.Select)
	if !ok || len(sel.Items) != 1 || len(sel.GroupBy) > 0 {
		return nil
	}
	if f, ok := sel.Items[0].Expr.(*parser.FuncCall); ok && f.Name == "count" && f.Over == nil {
		return &expr.Value{T: types.Int64Type}
	}
	return nil
}

// existsValue is EXISTS as a value: a left join to the distinct
// correlation values that have rows.
func (b *binder) existsValue(x *parser.Exists, c *ectx) *expr.Expr {
	s := b.subplan(x.Query, c)
	mark := b.newID("exists")
	var es []*expr.Expr
	for _, in := range s.inner {
		es = append(es, expr.Col(in.id))
	}
	es = append(es, expr.Alias(lit(true), mark))
	node := b.project(x, s.rel.node, es)
	if len(s.outer) == 0 {
		node = &plan.Limit{Input: node, N: 1}
	}
	s.rel.node = distinct(node)
	b.joinSub(x, c, s, hashjoin.Left, nil, nil, nil)
	return b.resolve(x, expr.Call(expr.OpIsNotNull, expr.Col(mark)), (*c.node).Schema())
}

// inValue is x IN (subquery) as a value, with SQL's NULLs.
func (b *binder) inValue(x *parser.InSubquery, c *ectx) *expr.Expr {
	v := b.bindExpr(x.X, c)
	s := b.subplan(x.Query, c)
	out := b.inMark(x, c, v, s, b.value(x, s))
	if x.Not {
		out = expr.Call(expr.OpNot, out)
	}
	return b.resolve(x, out, (*c.node).Schema())
}

// inMark joins what x IN s needs and returns its value: TRUE with a
// match; else FALSE when s is empty (for this row's correlation values),
// NULL when x is NULL or s has a NULL, FALSE otherwise.
func (b *binder) inMark(n parser.Node, c *ectx, v *expr.Expr, s sub, col column) *expr.Expr {
	// Counts of the values, and of the non-NULL ones, per correlation value.
	cnt, cntNN := b.newID("cnt"), b.newID("cnt_nn")
	rs := s.rel.node.Schema()
	var keys []*expr.Expr
	for _, in := range s.inner {
		keys = append(keys, b.resolve(n, expr.Col(in.id), rs))
	}
	counts := sub{rel: relation{node: &plan.Aggregate{Input: s.rel.node, Keys: keys, Aggs: []*expr.Expr{
		b.resolve(n, expr.Alias(expr.Call(expr.OpCountStar), cnt), rs),
		b.resolve(n, expr.Alias(expr.Call(expr.OpCount, expr.Col(col.id)), cntNN), rs),
	}}}, outer: s.outer, inner: s.inner}
	if len(s.outer) == 0 {
		// One row even over no rows (counts of zero).
		counts.rel.node = &plan.SingleRow{Input: counts.rel.node}
	}
	b.joinSub(n, c, counts, hashjoin.Left, nil, nil, nil)
	// The matches: distinct (correlation, value) pairs with a marker.
	mark := b.newID("in")
	var es []*expr.Expr
	for _, in := range s.inner {
		es = append(es, expr.Col(in.id))
	}
	es = append(es, expr.Col(col.id), expr.Alias(lit(true), mark))
	m := s
	m.rel.node = distinct(b.project(n, s.rel.node, es))
	// Fresh ids for the second copy of the subquery's correlation columns.
	var ren []*expr.Expr
	var inner []column
	for _, in := range s.inner {
		id := b.newID(in.name)
		ren = append(ren, expr.Alias(expr.Col(in.id), id))
		c2 := in
		c2.id = id
		inner = append(inner, c2)
	}
	vid := b.newID(col.name)
	ren = append(ren, expr.Alias(expr.Col(col.id), vid), expr.Col(mark))
	m.rel.node = b.project(n, m.rel.node, ren)
	m.inner = inner
	l, r := b.keyPair(n, v, (*c.node).Schema(), column{id: vid, t: col.t}, m)
	b.joinSub(n, c, m, hashjoin.Left, []*expr.Expr{l}, []*expr.Expr{r}, nil)
	sch := (*c.node).Schema()
	null := expr.Lit(expr.Value{T: types.BoolType, Null: true})
	zero := expr.Lit(expr.Value{T: types.Int64Type})
	out := expr.Call(expr.OpCase,
		expr.Call(expr.OpIsNotNull, expr.Col(mark)), lit(true),
		expr.Call(expr.OpOr, expr.Call(expr.OpIsNull, expr.Col(cnt)), expr.Call(expr.OpEq, expr.Col(cnt), zero)), lit(false),
		expr.Call(expr.OpOr, expr.Call(expr.OpIsNull, v), expr.Call(expr.OpLt, expr.Col(cntNN), expr.Col(cnt))), null,
		lit(false))
	return b.resolve(n, out, sch)
}

// directSub is a subquery joined without D: its correlated conditions
// (each in a WHERE conjunct of its own, over the outer query's and the
// subquery's columns) become the join's keys and residual.
type directSub struct {
	rel   relation
	preds []*expr.Expr // over the outer plan's and rel's columns
}

// direct binds a subquery used by a semi- or anti-join without D when it
// is a plain SELECT (no grouping, aggregates, DISTINCT or LIMIT) whose
// outer references are all in WHERE conjuncts without subqueries: EXISTS
// (SELECT … WHERE inner.k = outer.k AND inner.x <> outer.x) is then one
// semi-join on k with a residual, with no pass to find the outer keys.
func (b *binder) direct(q *parser.Query, c *ectx) (directSub, bool) {
	sel, ok := q.Body.(*parser.Select)
	if !ok || q.With != nil || len(q.OrderBy) > 0 || q.Limit != nil || q.Offset != nil ||
		len(sel.GroupBy) > 0 || sel.GroupAll || sel.Having != nil || sel.Distinct || len(collectAggs(sel, nil)) > 0 || sel.Where == nil {
		return directSub{}, false
	}
	if len(b.probe(q, c).refs) == 0 {
		return directSub{}, false
	}
	outerScopes := map[*scope]bool{}
	for sc := c.sc; sc != nil; sc = sc.parent {
		outerScopes[sc] = true
	}
	isOuter := func(r *parser.ColumnRef) bool { return outerScopes[b.resolved[r].sc] }
	var plain, corr []parser.Expr
	covered := 0
	for _, cj := range splitAnd(sel.Where) {
		n := 0
		walkExpr(cj, func(x parser.Expr) bool {
			if r, ok := x.(*parser.ColumnRef); ok && isOuter(r) {
				n++
			}
			return true
		})
		if n == 0 {
			plain = append(plain, cj)
			continue
		}
		if hasSubquery(cj) {
			return directSub{}, false
		}
		covered += n
		corr = append(corr, cj)
	}
	total := 0
	parser.Inspect(q, func(n parser.Node) bool {
		if r, ok := n.(*parser.ColumnRef); ok && isOuter(r) {
			total++
		}
		return true
	})
	if total != covered {
		return directSub{}, false // outer names elsewhere (select list, ON, nested subqueries)
	}
	// The subquery without its correlated conjuncts, passing on the inner
	// columns they read.
	inner := map[string]column{} // inner column id -> column
	var order []string
	var extra []*parser.SelectItem
	for _, cj := range corr {
		walkExpr(cj, func(x parser.Expr) bool {
			if r, ok := x.(*parser.ColumnRef); ok && !isOuter(r) {
				col := b.resolved[r].col
				if _, seen := inner[col.id]; !seen {
					inner[col.id] = col
					order = append(order, col.id)
					extra = append(extra, &parser.SelectItem{Span: r.Span, Expr: r})
				}
			}
			return true
		})
	}
	var where parser.Expr
	for _, p := range plain {
		if where == nil {
			where = p
		} else {
			where = &parser.Binary{Span: p.SourceSpan(), Op: parser.And, Left: where, Right: p}
		}
	}
	mod := *sel
	mod.Where = where
	mod.Items = append(append([]*parser.SelectItem{}, sel.Items...), extra...)
	if len(sel.Items) == 1 {
		if _, star := sel.Items[0].Expr.(*parser.Star); star {
			// EXISTS (SELECT * …): the rows' existence is all that counts.
			mod.Items = extra
		}
	}
	rel := b.bindQuery(&parser.Query{Span: q.Span, Body: &mod}, c.sc, nil)
	// The extra items are the last len(extra) columns.
	synth := &scope{parent: c.sc}
	k := len(rel.cols) - len(extra)
	for i, id := range order {
		col := inner[id]
		rel.cols[k+i].hidden = true
		synth.cols = append(synth.cols, column{table: col.table, name: col.name, id: rel.cols[k+i].id, t: col.t})
	}
	all := append(append(types.Schema{}, (*c.node).Schema()...), rel.node.Schema()...)
	var preds []*expr.Expr
	for _, cj := range corr {
		preds = append(preds, expr.Conjuncts(b.bindBool(cj, &ectx{sc: synth, schema: all}))...)
	}
	return directSub{rel: rel, preds: preds}, true
}

// joinDirect semi- or anti-joins a direct subquery on its conditions plus
// extra key pairs.
func (b *binder) joinDirect(n parser.Node, c *ectx, d directSub, typ hashjoin.Type, lk, rk []*expr.Expr) {
	ls, rs := (*c.node).Schema(), d.rel.node.Schema()
	l2, r2, res := splitKeys(d.preds, ls, rs)
	if len(lk) > 0 && len(l2) == 1 && l2[0].Op == expr.OpLit {
		l2, r2 = nil, nil // (splitKeys' constant key when it found none)
	}
	lk, rk = append(lk, l2...), append(rk, r2...)
	*c.node = &plan.Join{Left: *c.node, Right: d.rel.node, Type: typ, LeftKeys: lk, RightKeys: rk, Residual: res}
}
