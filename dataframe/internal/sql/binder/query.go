package binder

import (
	"strconv"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/optimize"

	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/sql/parser"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// bindQuery binds q with outer as the scope of enclosing queries. extra,
// when set, joins the FROM of q's SELECT: the distinct values of the outer
// columns a correlated subquery refers to, passed on to the output (as
// hidden columns) so that the enclosing query can join on them.
func (b *binder) bindQuery(q *parser.Query, outer *scope, extra *relation) relation {
	if q.With != nil {
		defs := map[string]*cteDef{}
		b.ctes = append(b.ctes, defs)
		defer func() { b.ctes = b.ctes[:len(b.ctes)-1] }()
		for _, c := range q.With.CTEs {
			d := &cteDef{q: c.Query, cols: c.Columns}
			if q.With.Recursive && refersTo(c.Query, c.Name) {
				defs[c.Name] = d
				b.bindRecursive(c, d)
				continue
			}
			defs[c.Name] = d
		}
	}
	var rel relation
	if sel, ok := q.Body.(*parser.Select); ok {
		rel = b.bindSelect(sel, outer, extra, q.OrderBy)
	} else {
		if extra != nil {
			failAt(q, "a correlated subquery must be a single SELECT")
		}
		rel = b.bindBody(q.Body, outer)
		if len(q.OrderBy) > 0 {
			rel = b.orderByOutput(q.OrderBy, rel)
		}
	}
	if q.Limit != nil || q.Offset != nil {
		if extra != nil {
			failAt(q, "LIMIT and OFFSET in a correlated subquery are not supported")
		}
		n, off := int64(1<<62), int64(0)
		if q.Limit != nil {
			n = b.constInt(q.Limit, "LIMIT")
		}
		if q.Offset != nil {
			off = b.constInt(q.Offset, "OFFSET")
		}
		rel.node = &plan.Limit{Input: rel.node, N: n, Offset: off}
	}
	return rel
}

func (b *binder) constInt(e parser.Expr, what string) int64 {
	l, ok := e.(*parser.Literal)
	if !ok || l.Kind != parser.LitInteger {
		failAt(e, "%s must be an integer constant", what)
	}
	n, err := strconv.ParseInt(l.Value, 10, 64)
	if err != nil || n < 0 {
		failAt(e, "%s must be a non-negative integer, got %s", what, l.Value)
	}
	return n
}

// bindBody binds a query body without ORDER BY.
func (b *binder) bindBody(body parser.QueryBody, outer *scope) relation {
	switch x := body.(type) {
	case *parser.Select:
		return b.bindSelect(x, outer, nil, nil)
	case *parser.Query:
		return b.bindQuery(x, outer, nil)
	case *parser.Values:
		return b.bindValues(x, outer)
	case *parser.SetOp:
		return b.bindSetOp(x, outer)
	}
	failAt(body, "unsupported query %T", body)
	return relation{}
}

// visible returns rel's visible columns.
func visible(rel relation) []column {
	var out []column
	for _, c := range rel.cols {
		if !c.hidden {
			out = append(out, c)
		}
	}
	return out
}

// unionInputs converts both sides to the same column ids and types.
func (b *binder) unionInputs(n parser.Node, l, r relation) (plan.Node, plan.Node, []column) {
	lc, rc := visible(l), visible(r)
	if len(lc) != len(rc) {
		failAt(n, "each side of %s must have the same number of columns (%d and %d)", n.(*parser.SetOp).Op, len(lc), len(rc))
	}
	var le, re []*expr.Expr
	var cols []column
	for i := range lc {
		t, err := expr.CommonType(lc[i].t, rc[i].t)
		if err != nil {
			t, err = nullCommon(lc[i].t, rc[i].t, l, r, lc[i].id, rc[i].id)
			if err != nil {
				failAt(n, "column %d of %s: %v", i+1, n.(*parser.SetOp).Op, err)
			}
		}
		id := b.newID(lc[i].name)
		side := func(rel relation, c column) *expr.Expr {
			if c.t != t && isNullColumn(rel.node, c.id) {
				return expr.Alias(expr.Lit(expr.Value{T: t, Null: true}), id)
			}
			return expr.Alias(expr.CastTo(expr.Col(c.id), t), id)
		}
		le = append(le, side(l, lc[i]))
		re = append(re, side(r, rc[i]))
		cols = append(cols, column{name: lc[i].name, id: id, t: t})
	}
	return b.project(n, l.node, le), b.project(n, r.node, re), cols
}

// nullCommon lets a column that is all NULL literals take the other side's type.
func nullCommon(a, bt types.Type, l, r relation, lid, rid string) (types.Type, error) {
	if isNullColumn(l.node, lid) {
		return bt, nil
	}
	if isNullColumn(r.node, rid) {
		return a, nil
	}
	_, err := expr.CommonType(a, bt)
	return types.Type{}, err
}

func isNullColumn(n plan.Node, id string) bool {
	p, ok := n.(*plan.Project)
	if !ok {
		return false
	}
	for _, e := range p.Exprs {
		if e.OutputName() == id {
			u := e.Unalias()
			return u.Op == expr.OpLit && u.Val.Null
		}
	}
	return false
}

func (b *binder) bindSetOp(x *parser.SetOp, outer *scope) relation {
	l := b.bindBody(x.Left, outer)
	r := b.bindBody(x.Right, outer)
	ln, rn, cols := b.unionInputs(x, l, r)
	switch x.Op {
	case parser.Union:
		rel := relation{node: &plan.Union{Left: ln, Right: rn}, cols: cols}
		if !x.All {
			rel.node = distinct(rel.node)
		}
		return rel
	case parser.Intersect, parser.Except:
		if x.All {
			failAt(x, "%s ALL is not supported; use %s", x.Op, x.Op)
		}
		// Set semantics: distinct left rows with (or without) an equal row
		// on the right, NULLs equal to NULLs.
		typ := hashjoin.Semi
		if x.Op == parser.Except {
			typ = hashjoin.Anti
		}
		return relation{node: b.setJoin(x, distinct(ln), rn, cols, typ), cols: cols}
	}
	failAt(x, "unsupported set operation")
	return relation{}
}

// nullSafeKeys are join keys on which NULL equals NULL: for each nullable
// column, (x IS NULL) and CASE WHEN x IS NULL THEN zero ELSE x END.
func nullSafeKeys(b *binder, n parser.Node, l, r []column, ls, rs types.Schema) (lk, rk []*expr.Expr) {
	for i := range l {
		lc, rc := b.resolve(n, expr.Col(l[i].id), ls), b.resolve(n, expr.Col(r[i].id), rs)
		if !lc.Nullable || !rc.Nullable {
			// A side without NULLs has none to match: the plain values.
			lk, rk = append(lk, lc), append(rk, rc)
			continue
		}
		for side, c := range []column{l[i], r[i]} {
			s := ls
			if side == 1 {
				s = rs
			}
			isNull := b.resolve(n, expr.Call(expr.OpIsNull, expr.Col(c.id)), s)
			val := b.resolve(n, expr.Call(expr.OpCase, expr.Call(expr.OpIsNull, expr.Col(c.id)), expr.Lit(zeroValue(c.t)), expr.Col(c.id)), s)
			if side == 0 {
				lk = append(lk, isNull, val)
			} else {
				rk = append(rk, isNull, val)
			}
		}
	}
	return lk, rk
}

func zeroValue(t types.Type) expr.Value {
	v := expr.Value{T: t}
	if t.ID == types.String {
		v.S = ""
	}
	return v
}

// distinct keeps one row per distinct combination of n's columns.
func distinct(n plan.Node) plan.Node {
	s := n.Schema()
	keys := make([]*expr.Expr, len(s))
	for i, f := range s {
		k, _ := expr.Resolve(expr.Col(f.Name), s)
		keys[i] = k
	}
	return &plan.Aggregate{Input: n, Keys: keys}
}

func (b *binder) bindValues(x *parser.Values, outer *scope) relation {
	rows := make([][]*expr.Expr, len(x.Rows))
	constant := true
	for i, row := range x.Rows {
		one := b.cat.One()
		c := &ectx{sc: &scope{parent: outer}, node: &one}
		for _, v := range row {
			e := optimize.Fold(b.bindExpr(v, c))
			rows[i] = append(rows[i], e)
			if e.Unalias().Op != expr.OpLit {
				constant = false
			}
		}
	}
	if constant {
		return b.valuesTable(x, rows)
	}
	var rel relation
	for i, row := range rows {
		one := b.cat.One()
		var es []*expr.Expr
		var cols []column
		for j, e := range row {
			id := b.newID("column" + strconv.Itoa(j+1))
			es = append(es, expr.Alias(e, id))
			cols = append(cols, column{name: "column" + strconv.Itoa(j+1), id: id, t: e.T})
		}
		r := relation{node: b.project(x, one, es), cols: cols}
		if i == 0 {
			rel = r
			continue
		}
		ln, rn, cs := b.unionInputs(&parser.SetOp{Span: x.Span, Op: parser.Union, All: true}, rel, r)
		rel = relation{node: &plan.Union{Left: ln, Right: rn}, cols: cs}
	}
	return rel
}

// valuesTable makes an in-memory table of VALUES rows of constants (one
// scan, however many rows: an INSERT of thousands of rows stays cheap).
func (b *binder) valuesTable(x *parser.Values, rows [][]*expr.Expr) relation {
	width := len(rows[0])
	schema := make(types.Schema, width)
	var cols []column
	for j := 0; j < width; j++ {
		var t types.Type
		for _, row := range rows {
			l := row[j].Unalias()
			if l.Val.Null {
				continue
			}
			if t.ID == types.Invalid {
				t = l.T
				continue
			}
			ct, err := expr.CommonType(t, l.T)
			if err != nil {
				failAt(x, "VALUES column %d has values of types %s and %s", j+1, t, l.T)
			}
			t = ct
		}
		if t.ID == types.Invalid {
			t = types.StringType // all NULL: PostgreSQL's unknown is text
		}
		id := b.newID("column" + strconv.Itoa(j+1))
		schema[j] = types.Field{Name: id, Type: t, Nullable: true}
		cols = append(cols, column{name: "column" + strconv.Itoa(j+1), id: id, t: t})
	}
	vecs := make([]*coldata.Vec, width)
	for j, f := range schema {
		v := coldata.NewVec(f.Type, 0)
		for _, row := range rows {
			lit := row[j].Unalias()
			val := lit.Val
			if !val.Null && lit.T != f.Type {
				c := optimize.Fold(b.resolve(x, expr.CastTo(lit, f.Type), nil))
				if c.Op != expr.OpLit {
					failAt(x, "VALUES column %d: cannot convert %s to %s", j+1, lit, f.Type)
				}
				val = c.Val
			}
			appendValue(v, val)
		}
		vecs[j] = v
	}
	t := scan.NewMemTable(schema, []*coldata.Batch{{N: len(rows), Vecs: vecs}})
	all := make([]int, width)
	for j := range all {
		all[j] = j
	}
	return relation{node: &plan.Scan{Source: t, Columns: all}, cols: cols}
}

// appendValue adds one value to a vec being built.
func appendValue(v *coldata.Vec, x expr.Value) {
	n := v.Len()
	if x.Null {
		for len(v.Nulls) < n {
			v.Nulls = append(v.Nulls, false)
		}
		v.Nulls = append(v.Nulls, true)
	} else if v.Nulls != nil {
		v.Nulls = append(v.Nulls, false)
	}
	switch v.Type.ID {
	case types.Bool:
		v.Bool = append(v.Bool, x.B)
	case types.Int32, types.Date:
		v.I32 = append(v.I32, int32(x.I))
	case types.Int64, types.Decimal:
		v.I64 = append(v.I64, x.I)
	case types.Float64:
		v.F64 = append(v.F64, x.F)
	case types.String:
		v.Str.AppendString(x.S)
	}
}

// orderByOutput sorts a set operation's result by output names or ordinals.
func (b *binder) orderByOutput(items []*parser.OrderItem, rel relation) relation {
	vis := visible(rel)
	s := rel.node.Schema()
	var keys []plan.SortKey
	for _, it := range items {
		var c *column
		switch x := it.Expr.(type) {
		case *parser.Literal:
			if x.Kind == parser.LitInteger {
				k, _ := strconv.Atoi(x.Value)
				if k < 1 || k > len(vis) {
					failAt(x, "ORDER BY position %d is not in the select list (1 to %d)", k, len(vis))
				}
				c = &vis[k-1]
			}
		case *parser.ColumnRef:
			for i := range vis {
				if vis[i].name == x.Parts[len(x.Parts)-1] {
					c = &vis[i]
					break
				}
			}
		}
		if c == nil {
			failAt(it, "ORDER BY of a set operation takes output column names or positions")
		}
		keys = append(keys, sortKey(it, b.resolve(it, expr.Col(c.id), s)))
	}
	return relation{node: &plan.Sort{Input: rel.node, Keys: keys}, cols: rel.cols}
}

// sortKey applies PostgreSQL's default: NULLs sort as larger than any
// value (last ascending, first descending).
func sortKey(it *parser.OrderItem, e *expr.Expr) plan.SortKey {
	nullsFirst := it.Desc
	switch it.Nulls {
	case parser.NullsFirst:
		nullsFirst = true
	case parser.NullsLast:
		nullsFirst = false
	}
	return plan.SortKey{Expr: e, Desc: it.Desc, NullsFirst: nullsFirst}
}

// maxSeries bounds the rows generate_series makes (held in memory).
const maxSeries = 50_000_000

// generateSeries binds generate_series(start, stop [, step]) over integer
// constants: a one-column table (named generate_series) of start, start +
// step, … up to stop (down to it for a negative step), as PostgreSQL's.
func (b *binder) generateSeries(x *parser.TableFunc, outer *scope) relation {
	if len(x.Args) < 2 || len(x.Args) > 3 {
		failAt(x, "generate_series takes start, stop and an optional step, got %d arguments", len(x.Args))
	}
	vals := []int64{0, 0, 1}
	for i, a := range x.Args {
		one := b.cat.One()
		e := optimize.Fold(b.bindExpr(a, &ectx{sc: &scope{parent: outer}, node: &one}))
		n, ok := litInt(e)
		if !ok {
			failAt(a, "generate_series takes integer constants (dates and timestamps are not supported)")
		}
		vals[i] = n
	}
	start, stop, step := vals[0], vals[1], vals[2]
	if step == 0 {
		failAt(x.Args[2], "generate_series: step size cannot equal zero")
	}
	var rows uint64
	switch {
	case step > 0 && stop >= start:
		rows = (uint64(stop)-uint64(start))/uint64(step) + 1 // (unsigned: the difference may pass MaxInt64)
	case step < 0 && stop <= start:
		rows = (uint64(start)-uint64(stop))/(uint64(-(step+1))+1) + 1
	}
	if rows > maxSeries {
		failAt(x, "generate_series: %d rows, more than the %d it makes", rows, maxSeries)
	}
	v := coldata.NewVec(types.Int64Type, int(rows))
	for i := range v.I64 {
		v.I64[i] = start + int64(i)*step // (wraps past the range in between, not at the values)
	}
	id := b.newID("generate_series")
	t := scan.NewMemTable(types.Schema{{Name: id, Type: types.Int64Type}}, []*coldata.Batch{{N: int(rows), Vecs: []*coldata.Vec{v}}})
	return tableFuncRelation(x, relation{node: &plan.Scan{Source: t, Columns: []int{0}}, cols: []column{{name: "generate_series", id: id, t: types.Int64Type}}})
}
