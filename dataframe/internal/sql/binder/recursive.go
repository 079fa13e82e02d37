package binder

import (
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/sql/parser"
)

// maxRecursion bounds the iterations of a WITH RECURSIVE query (PostgreSQL
// has no bound and loops for ever; an error that says so is kinder).
const maxRecursion = 10_000

// refersTo reports whether the query body names the table name (unqualified).
func refersTo(n parser.Node, name string) bool {
	found := false
	parser.Inspect(n, func(n parser.Node) bool {
		if t, ok := n.(*parser.Table); ok && t.Name.Schema == "" && t.Name.Name == name {
			found = true
		}
		return !found
	})
	return found
}

// bindRecursive binds a WITH RECURSIVE query that refers to itself: a
// non-recursive term UNION [ALL] a recursive term. It runs as PostgreSQL
// evaluates it: the non-recursive term's rows are the first working table;
// the recursive term runs over the working table (its reference to the WITH
// name) and its new rows become the next one, until one is empty. UNION
// keeps only rows not produced before. Each working table is materialized
// (Catalog.Materialize); the result is the union of them all.
func (b *binder) bindRecursive(c *parser.CTE, d *cteDef) {
	q := c.Query
	op, ok := q.Body.(*parser.SetOp)
	if !ok || op.Op != parser.Union || refersTo(op.Left, c.Name) || q.With != nil || len(q.OrderBy) > 0 || q.Limit != nil || q.Offset != nil {
		failAt(c, "recursive query %q must be a non-recursive term UNION [ALL] a recursive term, with no ORDER BY, LIMIT or WITH of its own", c.Name)
	}
	anchor := renameCols(c, b.bindBody(op.Left, &scope{}), c.Columns)
	cols := visible(anchor)
	es := make([]*expr.Expr, len(cols))
	for i, col := range cols {
		es[i] = expr.Col(col.id)
	}
	work, _ := b.materialize(c, relation{node: b.project(c, anchor.node, es), cols: cols})
	acc := work
	for iter := 0; ; iter++ {
		if iter == maxRecursion {
			failAt(c, "recursive query %q did not end after %d iterations", c.Name, maxRecursion)
		}
		d.rel = &work
		step := b.bindBody(op.Right, &scope{})
		sc := visible(step)
		if len(sc) != len(cols) {
			failAt(op, "each term of recursive query %q must have the same number of columns (%d and %d)", c.Name, len(cols), len(sc))
		}
		out := make([]*expr.Expr, len(cols))
		for i, col := range cols {
			t, err := expr.CommonType(col.t, sc[i].t)
			if err != nil || t != col.t {
				failAt(op, "recursive query %q column %d has type %s in its non-recursive term but %s in its recursive term", c.Name, i+1, col.t, sc[i].t)
			}
			out[i] = expr.Alias(expr.CastTo(expr.Col(sc[i].id), col.t), col.id)
		}
		next := relation{node: b.project(op, step.node, out), cols: cols}
		if !op.All {
			next.node = b.setJoin(op, distinct(next.node), acc.node, cols, hashjoin.Anti)
		}
		next, rows := b.materialize(c, next)
		if rows == 0 {
			break
		}
		acc = relation{node: &plan.Union{Left: acc.node, Right: next.node}, cols: cols}
		work = next
	}
	d.rel = &acc
}

// materialize runs rel's plan (the columns of rel, in order) and returns
// its rows as a relation of their own.
func (b *binder) materialize(n parser.Node, rel relation) (relation, int64) {
	node, rows, err := b.cat.Materialize(rel.node)
	if err != nil {
		fail(errAt(n, "%v", err))
	}
	return relation{node: node, cols: rel.cols}, rows
}

// setJoin is the rows of l (whose columns are cols) with (typ Semi) or
// without (Anti) an equal row in r (the same columns), NULL equal to NULL.
func (b *binder) setJoin(n parser.Node, l, r plan.Node, cols []column, typ hashjoin.Type) plan.Node {
	rcols := make([]column, len(cols))
	re := make([]*expr.Expr, len(cols))
	for i, c := range cols {
		rcols[i] = c
		rcols[i].id = b.newID(c.name)
		re[i] = expr.Alias(expr.Col(c.id), rcols[i].id)
	}
	r = b.project(n, r, re)
	lk, rk := nullSafeKeys(b, n, cols, rcols, l.Schema(), r.Schema())
	return &plan.Join{Left: l, Right: r, Type: typ, LeftKeys: lk, RightKeys: rk}
}
