package binder

import (
	"fmt"
	"runtime/debug"

	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/sql/parser"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// TypeOf maps a SQL type name to the engine's type.
func TypeOf(t *parser.TypeName) (_ types.Type, err error) {
	defer catch(&err)
	return (&binder{}).typeOf(t), nil
}

// catch turns the binder's failures into *err; any other panic (a bug)
// becomes an error with its stack rather than escaping the public API.
func catch(err *error) {
	if r := recover(); r != nil {
		if bp, ok := r.(bindPanic); ok {
			*err = bp.err
			return
		}
		*err = fmt.Errorf("internal error binding the statement (please report it): %v\n%s", r, debug.Stack())
	}
}

// Convert converts e (of type from) to a table column's type.
func Convert(e *expr.Expr, from, to types.Type) *expr.Expr {
	if from == to {
		return e
	}
	return expr.CastTo(e, to)
}

// Rewrite plans the new contents of table (columns schema) after UPDATE
// (set non-nil) or DELETE, and a one-row count of the rows they change.
func Rewrite(cat Catalog, table, alias string, schema types.Schema, set []*parser.Assignment, where parser.Expr) (contents, count plan.Node, err error) {
	defer catch(&err)
	b := &binder{cat: cat, used: map[string]int{}, resolved: map[*parser.ColumnRef]resolvedRef{}}
	node, ok := cat.Table(table)
	if !ok {
		return nil, nil, fmt.Errorf("table %q does not exist", table)
	}
	if alias == "" {
		alias = table
	}
	rel := b.baseRelation(&parser.Table{}, node)
	for i := range rel.cols {
		rel.cols[i].table = alias
	}
	c := &ectx{sc: &scope{cols: rel.cols}, node: &rel.node}
	hit := b.resolve(where, lit(true), nil)
	if where != nil {
		if hasSubquery(where) {
			failAt(where, "subqueries in UPDATE and DELETE conditions are not supported")
		}
		w := b.bindBool(where, c)
		// WHERE keeps the rows where it is true (not NULL).
		hit = b.resolve(where, expr.Call(expr.OpCase, expr.Call(expr.OpIsNull, w), lit(false), w), rel.node.Schema())
	}
	s := rel.node.Schema()
	cnt := b.resolve(where, expr.Alias(expr.Call(expr.OpCountStar), "count"), s)
	count = &plan.Aggregate{Input: &plan.Filter{Input: rel.node, Pred: hit}, Aggs: []*expr.Expr{cnt}}
	if set == nil {
		keep := b.resolve(where, expr.Call(expr.OpNot, hit), s)
		var es []*expr.Expr
		for i, f := range schema {
			es = append(es, expr.Alias(expr.Col(rel.cols[i].id), f.Name))
		}
		return b.project(where, &plan.Filter{Input: rel.node, Pred: keep}, es), count, nil
	}
	newVal := map[string]*parser.Assignment{}
	for _, a := range set {
		if schema.Index(a.Column) < 0 {
			failAt(a, "column %q of table %s does not exist", a.Column, table)
		}
		newVal[a.Column] = a
	}
	var es []*expr.Expr
	for i, f := range schema {
		old := b.resolve(where, expr.Col(rel.cols[i].id), s)
		a, ok := newVal[f.Name]
		if !ok {
			es = append(es, expr.Alias(old, f.Name))
			continue
		}
		v := b.bindExpr(a.Value, c)
		_, v = b.pair(a, old, v)
		v = b.resolve(a, Convert(v, v.T, f.Type), s)
		es = append(es, expr.Alias(expr.Call(expr.OpCase, hit, v, old), f.Name))
	}
	return b.project(where, rel.node, es), count, nil
}
