package binder

import (
	"slices"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/sql/parser"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// ectx is where an expression is bound: the names it sees, the plan that
// scalar subqueries join into (nil where none may appear), and the
// aggregation it is above, if any.
type ectx struct {
	sc     *scope
	node   *plan.Node
	schema types.Schema
	agg    *aggCtx
	// win maps the window function calls computed below (binder.windows)
	// to their columns.
	win map[*parser.FuncCall]string
	// bases are the FROM's relations with their own filters (before the
	// joins): a correlated subquery takes its outer values from one of
	// them when that is cheaper than from the joined rows.
	bases []plan.Node
}

// aggCtx maps, above an aggregation, the group keys and aggregate calls to
// the aggregation's output columns.
type aggCtx struct {
	pre     *ectx             // the context below the aggregation
	keyOf   map[string]string // bound group key (String) -> column id
	aggOf   map[*parser.FuncCall]string
	aggs    []*expr.Expr
	keyCols map[string]bool
}

func (c *ectx) sch(b *binder) types.Schema {
	if c.node != nil {
		return (*c.node).Schema()
	}
	return c.schema
}

func (b *binder) bindSelect(sel *parser.Select, outer *scope, extra *relation, orderBy []*parser.OrderItem) relation {
	var rels []relation
	var conds []parser.Expr
	for _, te := range sel.From {
		b.bindFrom(te, outer, &rels, &conds)
	}
	if len(sel.From) == 0 {
		rels = append(rels, relation{node: b.cat.One()})
	}
	sc := &scope{parent: outer}
	for _, r := range rels {
		sc.cols = append(sc.cols, r.cols...)
	}
	if extra != nil {
		rels = append(rels, *extra)
		sc.corrCols = extra.cols
	}
	var all types.Schema
	for _, r := range rels {
		all = append(all, r.node.Schema()...)
	}
	if sel.Where != nil {
		conds = append(conds, splitAnd(sel.Where)...)
	}
	var plain []*expr.Expr
	var subs []parser.Expr
	pre := &ectx{sc: sc, schema: all}
	for _, c := range conds {
		if hasSubquery(c) {
			subs = append(subs, c)
			continue
		}
		plain = append(plain, expr.Conjuncts(factorOr(b.bindBool(c, pre)))...)
	}
	nodes := make([]plan.Node, len(rels))
	for i, r := range rels {
		nodes[i] = r.node
	}
	node, bases := orderJoinsBases(nodes, plain)
	pre = &ectx{sc: sc, node: &node, bases: bases}
	for _, c := range subs {
		b.applyPredicate(c, pre)
	}

	// Aggregation.
	aggCalls := collectAggs(sel, orderBy)
	cur := pre
	if len(sel.GroupBy) > 0 || len(aggCalls) > 0 || sel.Having != nil || sel.GroupAll {
		cur = b.aggregate(sel, pre, aggCalls, extra)
		if sel.Having != nil {
			p := b.bindBool(sel.Having, cur)
			*cur.node = &plan.Filter{Input: *cur.node, Pred: p}
		}
	}

	// Window functions, over the grouped rows.
	if calls := collectWindows(sel, orderBy); len(calls) > 0 {
		b.windows(sel, cur, calls)
	}

	// The select list.
	var items []*expr.Expr
	var cols []column
	for _, it := range sel.Items {
		if st, ok := it.Expr.(*parser.Star); ok {
			for _, c := range b.star(st, sc, rels, extra) {
				if cur.agg != nil && !cur.agg.keyCols[c.id] {
					failAt(st, "column %q must appear in the GROUP BY clause or be used in an aggregate function", c.name)
				}
				id := b.newID(c.name)
				items = append(items, expr.Alias(expr.Col(c.id), id))
				cols = append(cols, column{table: c.table, name: c.name, id: id, t: c.t})
			}
			continue
		}
		e := b.bindExpr(it.Expr, cur)
		name := it.Alias
		if name == "" {
			name = defaultName(it.Expr)
		}
		id := b.newID(name)
		items = append(items, expr.Alias(e, id))
		cols = append(cols, column{name: name, id: id, t: e.T})
	}
	if extra != nil {
		for _, c := range extra.cols {
			items = append(items, expr.Col(c.id))
			cols = append(cols, c)
		}
	}

	// ORDER BY: output names and positions, else expressions of the input
	// (computed before the projection).
	var keys []plan.SortKey
	var hiddenSort []*expr.Expr
	for _, it := range orderBy {
		key, e := b.selectItemFor("ORDER BY", it.Expr, sel, items, cols, cur)
		if key == nil {
			if sel.Distinct {
				failAt(it, "for SELECT DISTINCT, ORDER BY expressions must appear in the select list")
			}
			id := b.newID("sort")
			key = expr.Alias(e, id)
			hiddenSort = append(hiddenSort, key)
		}
		keys = append(keys, sortKey(it, expr.Col(key.OutputName())))
	}
	// DISTINCT ON: the select items its expressions name, else
	// expressions of the input computed beside the select list.
	var hiddenOn []*expr.Expr
	var onCols []string
	for _, on := range sel.DistinctOn {
		item, e := b.selectItemFor("DISTINCT ON", on, sel, items, cols, cur)
		if item == nil {
			item = expr.Alias(e, b.newID("distinct_on"))
			hiddenOn = append(hiddenOn, item)
		}
		onCols = append(onCols, item.OutputName())
	}
	node = *cur.node
	proj := append(append(append([]*expr.Expr{}, items...), hiddenSort...), hiddenOn...)
	node = b.project(sel, node, proj)
	if sel.Distinct {
		node = distinct(node)
	}
	if len(sel.DistinctOn) > 0 {
		node = b.firstOfEach(sel, node, onCols, keys)
	}
	if len(keys) > 0 {
		s := node.Schema()
		for i := range keys {
			keys[i].Expr = b.resolve(sel, keys[i].Expr, s)
		}
		node = &plan.Sort{Input: node, Keys: keys}
	}
	if len(hiddenSort) > 0 || len(hiddenOn) > 0 {
		var keep []*expr.Expr
		for _, c := range cols {
			keep = append(keep, expr.Col(c.id))
		}
		node = b.project(sel, node, keep)
	}
	return relation{node: node, cols: cols}
}

// selectItemFor finds the select item an expression x of an ORDER BY or
// DISTINCT ON clause names: by position, by output name, or by being equal to
// it. When none does, item is nil and e is x bound over the input.
func (b *binder) selectItemFor(clause string, x parser.Expr, sel *parser.Select, items []*expr.Expr, cols []column, cur *ectx) (item, e *expr.Expr) {
	switch x := x.(type) {
	case *parser.Literal:
		if x.Kind == parser.LitInteger {
			k, _ := strconv.Atoi(x.Value)
			if k < 1 || k > len(sel.Items) || len(items) < k {
				failAt(x, "%s position %d is not in the select list", clause, k)
			}
			return items[k-1], nil
		}
	case *parser.ColumnRef:
		if len(x.Parts) == 1 {
			for i, c := range cols {
				if c.name == x.Parts[0] && !c.hidden {
					return items[i], nil
				}
			}
		}
	}
	e = b.bindExpr(x, cur)
	for _, it := range items {
		if it.Unalias().String() == e.String() {
			item = it // (the last of several equal ones)
		}
	}
	return item, e
}

// firstOfEach keeps, of the rows of node, the first of each value of the
// columns on in the order keys (output columns of node): SELECT DISTINCT
// ON, as row_number() OVER (PARTITION BY on ORDER BY keys) = 1.
func (b *binder) firstOfEach(sel *parser.Select, node plan.Node, on []string, keys []plan.SortKey) plan.Node {
	s := node.Schema()
	w := &plan.Window{Input: node, Frame: expr.FrameRows}
	for _, c := range on {
		w.PartitionBy = append(w.PartitionBy, b.resolve(sel, expr.Col(c), s))
	}
	for _, k := range keys {
		k.Expr = b.resolve(sel, k.Expr, s)
		w.OrderBy = append(w.OrderBy, k)
	}
	rn := b.newID("row_number")
	w.Funcs = []*expr.Expr{b.resolve(sel, expr.Alias(expr.Call(expr.OpRowNumber), rn), s)}
	first := b.resolve(sel, expr.Call(expr.OpEq, expr.Col(rn), expr.Lit(expr.Value{T: types.Int64Type, I: 1})), w.Schema())
	keep := make([]*expr.Expr, len(s))
	for i, f := range s {
		keep[i] = expr.Col(f.Name)
	}
	return b.project(sel, &plan.Filter{Input: w, Pred: first}, keep)
}

// star expands * or t.* to the visible columns.
func (b *binder) star(st *parser.Star, sc *scope, rels []relation, extra *relation) []column {
	var out []column
	qual := ""
	if len(st.Table) > 0 {
		qual = st.Table[len(st.Table)-1]
	}
	for _, c := range sc.cols {
		if c.hidden || c.merged && qual == "" {
			continue
		}
		if qual == "" || c.table == qual {
			out = append(out, c)
		}
	}
	if qual != "" && len(out) == 0 {
		failAt(st, "no table %q in FROM for %s.*", qual, qual)
	}
	return out
}

// defaultName names an unaliased select item as PostgreSQL does: a
// column's name, a function's name, else ?column?.
func defaultName(e parser.Expr) string {
	switch x := e.(type) {
	case *parser.ColumnRef:
		return x.Parts[len(x.Parts)-1]
	case *parser.FuncCall:
		return x.Name
	case *parser.Cast:
		return defaultName(x.X)
	case *parser.Extract:
		return "extract"
	case *parser.Case:
		return "case"
	case *parser.Exists:
		return "exists"
	case *parser.Subquery:
		if sel, ok := x.Query.Body.(*parser.Select); ok && len(sel.Items) == 1 && sel.Items[0].Alias != "" {
			return sel.Items[0].Alias
		}
		if sel, ok := x.Query.Body.(*parser.Select); ok && len(sel.Items) == 1 {
			return defaultName(sel.Items[0].Expr)
		}
	}
	return "?column?"
}

func splitAnd(e parser.Expr) []parser.Expr {
	if x, ok := e.(*parser.Binary); ok && x.Op == parser.And {
		return append(splitAnd(x.Left), splitAnd(x.Right)...)
	}
	return []parser.Expr{e}
}

// factorOr pulls the conjuncts every branch of an OR has out of it:
// (a AND b) OR (a AND c) is a AND (b OR c), so a join key inside an OR
// (TPC-H Q19) is found.
func factorOr(e *expr.Expr) *expr.Expr {
	if e.Op != expr.OpOr {
		return e
	}
	branches := expr.Disjuncts(e)
	common := map[string]*expr.Expr{}
	for i, br := range branches {
		seen := map[string]*expr.Expr{}
		for _, c := range expr.Conjuncts(br) {
			if i == 0 || common[c.String()] != nil {
				seen[c.String()] = c
			}
		}
		common = seen
	}
	if len(common) == 0 {
		return e
	}
	var out []*expr.Expr
	var rest []*expr.Expr
	for _, c := range expr.Conjuncts(branches[0]) {
		if common[c.String()] != nil {
			out = append(out, c)
		}
	}
	for _, br := range branches {
		var keep []*expr.Expr
		for _, c := range expr.Conjuncts(br) {
			if common[c.String()] == nil {
				keep = append(keep, c)
			}
		}
		if len(keep) == 0 {
			return expr.And(out...) // one branch is just the common part
		}
		rest = append(rest, expr.And(keep...))
	}
	return expr.And(append(out, expr.Or(rest...))...)
}

// hasSubquery reports whether e contains a subquery (outside nested ones).
func hasSubquery(e parser.Expr) bool {
	found := false
	walkExpr(e, func(x parser.Expr) bool {
		switch x.(type) {
		case *parser.Exists, *parser.InSubquery, *parser.Subquery, *parser.Quantified:
			found = true
		}
		return !found
	})
	return found
}

// walkExpr visits e and its subexpressions (not into subqueries) while f
// returns true.
func walkExpr(e parser.Expr, f func(parser.Expr) bool) {
	if e == nil || !f(e) {
		return
	}
	var kids []parser.Expr
	switch x := e.(type) {
	case *parser.Unary:
		kids = []parser.Expr{x.X}
	case *parser.Binary:
		kids = []parser.Expr{x.Left, x.Right}
	case *parser.IsNull:
		kids = []parser.Expr{x.X}
	case *parser.IsBool:
		kids = []parser.Expr{x.X}
	case *parser.IsDistinctFrom:
		kids = []parser.Expr{x.Left, x.Right}
	case *parser.Between:
		kids = []parser.Expr{x.X, x.Low, x.High}
	case *parser.InList:
		kids = append([]parser.Expr{x.X}, x.List...)
	case *parser.InSubquery:
		kids = []parser.Expr{x.X}
	case *parser.LikeExpr:
		kids = []parser.Expr{x.X, x.Pattern, x.Escape}
	case *parser.Quantified:
		kids = []parser.Expr{x.Left}
	case *parser.Row:
		kids = x.Items
	case *parser.Case:
		kids = []parser.Expr{x.Operand, x.Else}
		for _, w := range x.Whens {
			kids = append(kids, w.Cond, w.Result)
		}
	case *parser.Cast:
		kids = []parser.Expr{x.X}
	case *parser.Extract:
		kids = []parser.Expr{x.X}
	case *parser.FuncCall:
		kids = append(kids, x.Args...)
		for _, o := range x.OrderBy {
			kids = append(kids, o.Expr)
		}
		kids = append(kids, x.Filter)
		kids = append(kids, windowExprs(x.Over)...)
	}
	for _, k := range kids {
		walkExpr(k, f)
	}
}

var aggregateFuncs = map[string]bool{"sum": true, "avg": true, "min": true, "max": true, "count": true, "any_value": true,
	"string_agg": true}

func isAggregate(f *parser.FuncCall) bool { return aggregateFuncs[f.Name] && f.Over == nil }

// derivedAggregates are the aggregates computed from sum, count, min and
// max (expandAggregate).
var derivedAggregates = map[string]bool{"stddev": true, "stddev_samp": true, "stddev_pop": true, "variance": true,
	"var_samp": true, "var_pop": true, "bool_and": true, "every": true, "bool_or": true}

// expandAggregate rewrites a call of a derived aggregate, in place, into
// the plain aggregates it is made of:
//
//	var_samp(x)  abs(CASE WHEN count(x) > 1 THEN (sum(d*d) - sum(d)*sum(d)/count(x)) / (count(x) - 1) END)
//	var_pop(x)   the same over count(x), when count(x) > 0
//	stddev_*(x)  sqrt(var_*(x))
//	bool_and(x)  coalesce(min(CASE WHEN x THEN 1 WHEN NOT x THEN 0 END) = 1)   (bool_or: max)
//
// with d = CAST(x AS double precision) (abs: rounding may leave a tiny
// negative). Sums of squares lose precision when the mean dwarfs the
// spread (PostgreSQL computes exactly); the results are doubles.
func expandAggregate(f *parser.FuncCall) {
	if !derivedAggregates[f.Name] || f.Over != nil {
		return
	}
	if f.Star || len(f.Args) != 1 {
		failAt(f, "%s takes one argument", f.Name)
	}
	if f.Distinct || len(f.OrderBy) > 0 {
		failAt(f, "DISTINCT and ORDER BY are not supported in %s", f.Name)
	}
	x, sp := f.Args[0], f.Span
	agg := func(name string, arg parser.Expr) *parser.FuncCall {
		return &parser.FuncCall{Span: sp, Name: name, Args: []parser.Expr{arg}, Filter: f.Filter}
	}
	bin := func(op parser.BinaryOp, l, r parser.Expr) parser.Expr {
		return &parser.Binary{Span: sp, Op: op, Left: l, Right: r}
	}
	num := func(v string) parser.Expr { return &parser.Literal{Span: sp, Kind: parser.LitInteger, Value: v} }
	switch f.Name {
	case "bool_and", "every", "bool_or":
		bit := &parser.Case{Span: sp, Whens: []*parser.When{{Span: sp, Cond: x, Result: num("1")},
			{Span: sp, Cond: &parser.Unary{Span: sp, Op: parser.Not, X: x}, Result: num("0")}}}
		m := "min"
		if f.Name == "bool_or" {
			m = "max"
		}
		*f = parser.FuncCall{Span: sp, Name: "coalesce", Args: []parser.Expr{bin(parser.Eq, agg(m, bit), num("1"))}}
		return
	}
	d := &parser.Cast{Span: sp, X: x, Type: parser.TypeName{Span: sp, Name: "double"}}
	n := agg("count", x)
	sq := bin(parser.Sub, agg("sum", bin(parser.Mul, d, d)), bin(parser.Div, bin(parser.Mul, agg("sum", d), agg("sum", d)), n))
	over, least := parser.Expr(bin(parser.Sub, n, num("1"))), "1"
	if strings.HasSuffix(f.Name, "_pop") {
		over, least = n, "0"
	}
	v := &parser.FuncCall{Span: sp, Name: "abs", Args: []parser.Expr{&parser.Case{Span: sp,
		Whens: []*parser.When{{Span: sp, Cond: bin(parser.Gt, n, num(least)), Result: bin(parser.Div, sq, over)}}}}}
	if strings.HasPrefix(f.Name, "stddev") {
		*f = parser.FuncCall{Span: sp, Name: "sqrt", Args: []parser.Expr{v}}
		return
	}
	*f = *v
}

// collectAggs finds the aggregate calls of a SELECT's list, HAVING and
// ORDER BY (derived ones expanded first: expandAggregate).
func collectAggs(sel *parser.Select, orderBy []*parser.OrderItem) []*parser.FuncCall {
	var out []*parser.FuncCall
	visit := func(e parser.Expr) {
		walkExpr(e, func(x parser.Expr) bool {
			if f, ok := x.(*parser.FuncCall); ok {
				if expandAggregate(f); isAggregate(f) {
					out = append(out, f)
					return false
				}
			}
			return true
		})
	}
	for _, it := range sel.Items {
		visit(it.Expr)
	}
	visit(sel.Having)
	for _, o := range orderBy {
		visit(o.Expr)
	}
	for _, w := range sel.Windows {
		for _, e := range windowExprs(w.Spec) {
			visit(e)
		}
	}
	return out
}

// windowExprs are the partition and order expressions of a window.
func windowExprs(w *parser.WindowSpec) []parser.Expr {
	if w == nil {
		return nil
	}
	out := append([]parser.Expr{}, w.PartitionBy...)
	for _, o := range w.OrderBy {
		out = append(out, o.Expr)
	}
	return out
}

// aggregate groups the rows of pre and returns the context above.
func (b *binder) aggregate(sel *parser.Select, pre *ectx, calls []*parser.FuncCall, extra *relation) *ectx {
	ac := &aggCtx{pre: pre, keyOf: map[string]string{}, aggOf: map[*parser.FuncCall]string{}, keyCols: map[string]bool{}}
	var keys []*expr.Expr
	addKey := func(e *expr.Expr) {
		u := e.Unalias()
		if _, dup := ac.keyOf[u.String()]; dup {
			return
		}
		id := ""
		if u.Op == expr.OpCol {
			id = u.Name
		} else {
			id = b.newID("group")
		}
		ac.keyOf[u.String()] = id
		ac.keyCols[id] = true
		keys = append(keys, b.resolve(sel, expr.Alias(u, id), (*pre.node).Schema()))
	}
	for _, g := range sel.GroupBy {
		// An integer is a position in the select list; a name may be a
		// select item's alias (when no input column has it).
		if l, ok := g.(*parser.Literal); ok && l.Kind == parser.LitInteger {
			k, _ := strconv.Atoi(l.Value)
			if k < 1 || k > len(sel.Items) {
				failAt(l, "GROUP BY position %d is not in the select list (1 to %d)", k, len(sel.Items))
			}
			g = sel.Items[k-1].Expr
		} else if cr, ok := g.(*parser.ColumnRef); ok && len(cr.Parts) == 1 && !b.visibleName(pre.sc, cr.Parts[0]) {
			for _, it := range sel.Items {
				if it.Alias == cr.Parts[0] {
					g = it.Expr
				}
			}
		}
		addKey(b.bindExpr(g, pre))
	}
	if extra != nil {
		for _, c := range extra.cols {
			addKey(b.resolve(sel, expr.Col(c.id), (*pre.node).Schema()))
		}
	}
	for _, f := range calls {
		a := b.bindAggregate(f, pre)
		id := b.newID(f.Name)
		ac.aggOf[f] = id
		ac.aggs = append(ac.aggs, b.resolve(f, expr.Alias(a, id), (*pre.node).Schema()))
	}
	node := plan.Node(&plan.Aggregate{Input: *pre.node, Keys: keys, Aggs: ac.aggs})
	return &ectx{sc: pre.sc, node: &node, agg: ac}
}

func (b *binder) visibleName(sc *scope, name string) bool {
	for _, c := range sc.cols {
		if c.name == name {
			return true
		}
	}
	return false
}

// bindAggregate binds an aggregate call's arguments below the aggregation.
func (b *binder) bindAggregate(f *parser.FuncCall, pre *ectx) *expr.Expr {
	s := (*pre.node).Schema()
	if f.Star && f.Name != "count" {
		failAt(f, "%s(*) is not an aggregate; did you mean count(*)?", f.Name)
	}
	if f.Star && f.Filter == nil {
		return b.resolve(f, expr.Call(expr.OpCountStar), s)
	}
	args := f.Args
	if f.Star {
		args = []parser.Expr{&parser.Literal{Span: f.Span, Kind: parser.LitInteger, Value: "1"}}
	}
	switch {
	case f.Name == "string_agg" && len(args) != 2:
		failAt(f, "string_agg takes a value and a delimiter, got %d arguments", len(args))
	case f.Name != "string_agg" && len(args) != 1:
		failAt(f, "%s takes one argument, got %d", f.Name, len(args))
	}
	var inner []*parser.FuncCall
	for _, e := range append(append([]parser.Expr{f.Filter}, args...), orderExprs(f)...) {
		walkExpr(e, func(x parser.Expr) bool {
			if g, ok := x.(*parser.FuncCall); ok && isAggregate(g) {
				inner = append(inner, g)
			}
			return true
		})
	}
	if len(inner) > 0 {
		failAt(inner[0], "aggregate function calls cannot be nested")
	}
	below := &ectx{sc: pre.sc, node: pre.node}
	value := args[0]
	if f.Filter != nil {
		// agg(x) FILTER (WHERE p) is agg(CASE WHEN p THEN x END): the
		// aggregates skip NULLs (count(*) counts the 1s).
		value = &parser.Case{Span: f.Span, Whens: []*parser.When{{Span: f.Span, Cond: f.Filter, Result: value}}}
	}
	bound := []*expr.Expr{b.bindExpr(value, below)}
	for _, a := range args[1:] {
		bound = append(bound, b.bindExpr(a, below))
	}
	keys, dirs := b.bindAggregateOrder(f, below)
	if f.Name == "string_agg" {
		op := expr.OpStringAgg
		if f.Distinct {
			op = expr.OpStringAggDistinct
		}
		call := expr.Call(op, append(bound, keys...)...)
		call.Order = dirs
		return b.resolve(f, call, s)
	}
	// (The other aggregates do not depend on the order of their rows:
	// ORDER BY, checked, changes nothing.)
	op := map[string]expr.Op{"sum": expr.OpSum, "avg": expr.OpAvg, "min": expr.OpMin, "max": expr.OpMax, "count": expr.OpCount, "any_value": expr.OpAnyValue}[f.Name]
	if f.Distinct {
		// (min and max of the distinct values are the plain ones)
		switch f.Name {
		case "count":
			op = expr.OpCountDistinct
		case "sum":
			op = expr.OpSumDistinct
		case "avg":
			op = expr.OpAvgDistinct
		}
	}
	return b.resolve(f, expr.Call(op, bound[0]), s)
}

// orderExprs are the expressions of an aggregate call's ORDER BY.
func orderExprs(f *parser.FuncCall) []parser.Expr {
	var out []parser.Expr
	for _, o := range f.OrderBy {
		out = append(out, o.Expr)
	}
	return out
}

// bindAggregateOrder binds the ORDER BY of an aggregate call over the rows
// below the aggregation (an integer is a constant there, not a position).
// With DISTINCT each key must be one of the arguments, as PostgreSQL
// requires.
func (b *binder) bindAggregateOrder(f *parser.FuncCall, below *ectx) ([]*expr.Expr, []expr.Direction) {
	var keys []*expr.Expr
	var dirs []expr.Direction
	for _, o := range f.OrderBy {
		if f.Distinct && !slices.ContainsFunc(f.Args, func(a parser.Expr) bool { return a.String() == o.Expr.String() }) {
			failAt(o, "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list")
		}
		k := sortKey(o, b.bindExpr(o.Expr, below))
		keys = append(keys, k.Expr)
		dirs = append(dirs, expr.Direction{Desc: k.Desc, NullsFirst: k.NullsFirst})
	}
	return keys, dirs
}

// bindFrom binds a FROM item, adding inner-joined relations to rels and
// their ON conditions to conds; an outer join becomes one relation.
func (b *binder) bindFrom(te parser.TableExpr, outer *scope, rels *[]relation, conds *[]parser.Expr) {
	switch x := te.(type) {
	case *parser.Join:
		if (x.Kind == parser.InnerJoin || x.Kind == parser.CrossJoin) && !x.Natural && x.Using == nil {
			b.bindFrom(x.Left, outer, rels, conds)
			b.bindFrom(x.Right, outer, rels, conds)
			if x.On != nil {
				*conds = append(*conds, splitAnd(x.On)...)
			}
			return
		}
		*rels = append(*rels, b.bindJoin(x, outer))
	default:
		*rels = append(*rels, b.bindTableExpr(te, outer))
	}
}

func (b *binder) bindTableExpr(te parser.TableExpr, outer *scope) relation {
	switch x := te.(type) {
	case *parser.Table:
		return b.bindTableName(x, outer)
	case *parser.DerivedTable:
		rel := b.bindQuery(x.Query, outer, nil)
		rel = renameCols(x, rel, x.Alias.Columns)
		for i := range rel.cols {
			rel.cols[i].table = x.Alias.Name
		}
		return rel
	case *parser.TableFunc:
		if x.Name == "generate_series" {
			return b.generateSeries(x, outer)
		}
		var args []string
		for _, a := range x.Args {
			l, ok := a.(*parser.Literal)
			if !ok || l.Kind != parser.LitString {
				failAt(a, "%s takes string arguments", x.Name)
			}
			args = append(args, l.Value)
		}
		node, err := b.cat.TableFunc(x.Name, args)
		if err != nil {
			failAt(x, "%s: %v", x.Name, err)
		}
		return tableFuncRelation(x, b.baseRelation(x, node))
	case *parser.Join:
		var rels []relation
		var conds []parser.Expr
		b.bindFrom(x, outer, &rels, &conds)
		return b.joinAll(x, outer, rels, conds)
	}
	failAt(te, "unsupported FROM item %T", te)
	return relation{}
}

// tableFuncRelation names the columns of a table function's relation
// rel as x's alias says (the function's name by default).
func tableFuncRelation(x *parser.TableFunc, rel relation) relation {
	rel = renameCols(x, rel, x.Alias.Columns)
	alias := x.Alias.Name
	if alias == "" {
		alias = x.Name
	}
	for i := range rel.cols {
		rel.cols[i].table = alias
	}
	return rel
}

// joinAll inner-joins relations under conditions (a parenthesized join).
func (b *binder) joinAll(n parser.Node, outer *scope, rels []relation, conds []parser.Expr) relation {
	sc := &scope{parent: outer}
	var all types.Schema
	nodes := make([]plan.Node, len(rels))
	for i, r := range rels {
		sc.cols = append(sc.cols, r.cols...)
		all = append(all, r.node.Schema()...)
		nodes[i] = r.node
	}
	var preds []*expr.Expr
	for _, c := range conds {
		if hasSubquery(c) {
			failAt(c, "subqueries in JOIN conditions are not supported")
		}
		preds = append(preds, expr.Conjuncts(factorOr(b.bindBool(c, &ectx{sc: sc, schema: all})))...)
	}
	return relation{node: orderJoins(nodes, preds), cols: sc.cols}
}

// bindJoin binds an outer join (or a join with USING / NATURAL).
func (b *binder) bindJoin(x *parser.Join, outer *scope) relation {
	l := b.bindTableExpr(x.Left, outer)
	r := b.bindTableExpr(x.Right, outer)
	kind := x.Kind
	if kind == parser.RightJoin {
		l, r = r, l
		kind = parser.LeftJoin
	}
	sc := &scope{parent: outer, cols: append(append([]column{}, l.cols...), r.cols...)}
	all := append(append(types.Schema{}, l.node.Schema()...), r.node.Schema()...)
	var conds []*expr.Expr
	using := x.Using
	if x.Natural {
		for _, lc := range visible(l) {
			for _, rc := range visible(r) {
				if lc.name == rc.name {
					using = append(using, lc.name)
				}
			}
		}
	}
	cols := sc.cols
	for _, name := range using {
		lc, rc := findCol(x, l, name), findCol(x, r, name)
		cond := b.resolve(x, expr.Call(expr.OpEq, expr.Col(lc.id), expr.Col(rc.id)), all)
		conds = append(conds, cond)
		for i := range cols {
			if cols[i].id == rc.id {
				cols[i].merged = true
			}
		}
	}
	if x.On != nil {
		if hasSubquery(x.On) {
			failAt(x.On, "subqueries in JOIN conditions are not supported")
		}
		conds = append(conds, expr.Conjuncts(factorOr(b.bindBool(x.On, &ectx{sc: sc, schema: all})))...)
	}
	switch kind {
	case parser.InnerJoin, parser.CrossJoin:
		return relation{node: orderJoins([]plan.Node{l.node, r.node}, conds), cols: cols}
	case parser.LeftJoin:
		return relation{node: outerJoin(l.node, r.node, conds), cols: cols}
	case parser.FullJoin:
		// FULL = LEFT JOIN, plus the right rows that match nothing with
		// NULLs for the left columns.
		left := outerJoin(l.node, r.node, conds)
		unmatched := plan.Node(&plan.Join{Left: r.node, Right: l.node, Type: hashjoin.Anti})
		lk, rk, res := splitKeys(conds, r.node.Schema(), l.node.Schema())
		unmatched.(*plan.Join).LeftKeys, unmatched.(*plan.Join).RightKeys, unmatched.(*plan.Join).Residual = lk, rk, res
		var es []*expr.Expr
		for _, f := range l.node.Schema() {
			es = append(es, expr.Alias(expr.Lit(expr.Value{T: f.Type, Null: true}), f.Name))
		}
		for _, f := range r.node.Schema() {
			es = append(es, expr.Col(f.Name))
		}
		unmatched = b.project(x, unmatched, es)
		return relation{node: &plan.Union{Left: left, Right: unmatched}, cols: cols}
	}
	failAt(x, "unsupported join %s", x.Kind)
	return relation{}
}

func findCol(n parser.Node, rel relation, name string) column {
	for _, c := range rel.cols {
		if c.name == name && !c.hidden {
			return c
		}
	}
	failAt(n, "column %q named in USING is not on both sides of the join", name)
	return column{}
}

// splitKeys splits join conditions into equality keys between the two
// sides and a residual.
func splitKeys(conds []*expr.Expr, ls, rs types.Schema) (lk, rk []*expr.Expr, residual *expr.Expr) {
	var rest []*expr.Expr
	side := func(e *expr.Expr, s types.Schema) bool {
		cs := expr.Columns(e)
		for _, c := range cs {
			if s.Index(c) < 0 {
				return false
			}
		}
		return len(cs) > 0
	}
	for _, c := range conds {
		if c.Op == expr.OpEq {
			a, bb := c.Args[0], c.Args[1]
			switch {
			case side(a, ls) && side(bb, rs):
				lk, rk = append(lk, a), append(rk, bb)
				continue
			case side(a, rs) && side(bb, ls):
				lk, rk = append(lk, bb), append(rk, a)
				continue
			}
		}
		rest = append(rest, c)
	}
	if len(lk) == 0 {
		one, _ := expr.Resolve(expr.Lit(expr.Value{T: types.Int64Type, I: 1}), nil)
		lk, rk = []*expr.Expr{one}, []*expr.Expr{one}
	}
	if len(rest) > 0 {
		residual = expr.And(rest...)
	}
	return lk, rk, residual
}

// outerJoin left-joins r to l on conds; conditions on the right side alone
// filter it first.
func outerJoin(l, r plan.Node, conds []*expr.Expr) plan.Node {
	ls, rs := l.Schema(), r.Schema()
	var rightOnly, rest []*expr.Expr
	for _, c := range conds {
		onlyRight := true
		cs := expr.Columns(c)
		for _, name := range cs {
			if rs.Index(name) < 0 {
				onlyRight = false
			}
		}
		if onlyRight && len(cs) > 0 {
			rightOnly = append(rightOnly, c)
		} else {
			rest = append(rest, c)
		}
	}
	r = wrap(r, rightOnly)
	lk, rk, res := splitKeys(rest, ls, rs)
	return &plan.Join{Left: l, Right: r, Type: hashjoin.Left, LeftKeys: lk, RightKeys: rk, Residual: res}
}
