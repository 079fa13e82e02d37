package binder

import (
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/sql/parser"
)

// collectWindows finds the window function calls (calls with OVER) of a
// SELECT's list and ORDER BY.
func collectWindows(sel *parser.Select, orderBy []*parser.OrderItem) []*parser.FuncCall {
	var out []*parser.FuncCall
	visit := func(e parser.Expr) {
		walkExpr(e, func(x parser.Expr) bool {
			if f, ok := x.(*parser.FuncCall); ok && f.Over != nil {
				out = append(out, f)
				return false
			}
			return true
		})
	}
	for _, it := range sel.Items {
		visit(it.Expr)
	}
	for _, o := range orderBy {
		visit(o.Expr)
	}
	return out
}

// windows computes the window calls over the rows of c (after grouping
// and HAVING): one plan.Window per distinct window on top of c's plan,
// each call a column that bindExpr then finds in c.win.
func (b *binder) windows(sel *parser.Select, c *ectx, calls []*parser.FuncCall) {
	named := map[string]*parser.WindowSpec{}
	for _, nw := range sel.Windows {
		if named[nw.Name] != nil {
			failAt(nw, "window %q is already defined", nw.Name)
		}
		named[nw.Name] = nw.Spec
	}
	s := (*c.node).Schema()
	var wins []*plan.Window
	byOver := map[string]*plan.Window{}
	c.win = map[*parser.FuncCall]string{}
	for _, f := range calls {
		over := b.bindOver(f, c, named)
		call := b.bindWindowCall(f, c)
		key := over.String()
		w := byOver[key]
		if w == nil {
			w = &plan.Window{PartitionBy: over.PartitionBy, OrderBy: over.OrderBy, Frame: over.Frame}
			byOver[key] = w
			wins = append(wins, w)
		}
		id := b.newID(f.Name)
		c.win[f] = id
		w.Funcs = append(w.Funcs, b.resolve(f, expr.Alias(call, id), s))
	}
	for _, w := range wins {
		w.Input = *c.node
		*c.node = w
	}
}

// bindOver binds a call's window (a WINDOW clause's name, possibly with
// an order and frame of its own).
func (b *binder) bindOver(f *parser.FuncCall, c *ectx, named map[string]*parser.WindowSpec) *expr.Over {
	spec := *f.Over
	if spec.Name != "" {
		base := named[spec.Name]
		if base == nil {
			failAt(f.Over, "window %q does not exist", spec.Name)
		}
		if len(spec.PartitionBy) > 0 {
			failAt(f.Over, "cannot override PARTITION BY clause of window %q", spec.Name)
		}
		if len(spec.OrderBy) > 0 && len(base.OrderBy) > 0 {
			failAt(f.Over, "cannot override ORDER BY clause of window %q", spec.Name)
		}
		spec.PartitionBy = base.PartitionBy
		if len(spec.OrderBy) == 0 {
			spec.OrderBy = base.OrderBy
		}
		if spec.Frame == nil {
			spec.Frame = base.Frame
		}
	}
	out := &expr.Over{}
	for _, p := range spec.PartitionBy {
		out.PartitionBy = append(out.PartitionBy, b.bindExpr(p, c))
	}
	for _, o := range spec.OrderBy {
		out.OrderBy = append(out.OrderBy, sortKey(o, b.bindExpr(o.Expr, c)))
	}
	if fr := spec.Frame; fr != nil {
		switch {
		case fr.Start.Kind != parser.UnboundedPreceding:
			failAt(fr, "window frames starting at %s are not supported (frames start at UNBOUNDED PRECEDING)", boundName(fr.Start.Kind))
		case fr.End.Kind == parser.UnboundedFollowing:
			out.Frame = expr.FramePartition
		case fr.End.Kind == parser.CurrentRow && fr.Unit == parser.Rows:
			out.Frame = expr.FrameRows
		case fr.End.Kind == parser.CurrentRow && fr.Unit == parser.Range:
			out.Frame = expr.FramePeers
		default:
			failAt(fr, "window frame %s … %s is not supported (frames end at CURRENT ROW or UNBOUNDED FOLLOWING; ROWS or RANGE)", fr.Unit, boundName(fr.End.Kind))
		}
	}
	return out
}

func boundName(k parser.BoundKind) string {
	return map[parser.BoundKind]string{parser.UnboundedPreceding: "UNBOUNDED PRECEDING", parser.Preceding: "n PRECEDING",
		parser.CurrentRow: "CURRENT ROW", parser.Following: "n FOLLOWING", parser.UnboundedFollowing: "UNBOUNDED FOLLOWING"}[k]
}

// bindWindowCall binds the function of a window call, its arguments over
// the rows of c.
func (b *binder) bindWindowCall(f *parser.FuncCall, c *ectx) *expr.Expr {
	if f.Name == "string_agg" || f.Name == "any_value" {
		failAt(f, "%s is not supported as a window function; use it with GROUP BY (or over a subquery's groups)", f.Name)
	}
	if f.Filter != nil || len(f.OrderBy) > 0 {
		failAt(f, "FILTER and ORDER BY in window function calls are not supported")
	}
	if f.Distinct {
		failAt(f, "DISTINCT is not implemented for window functions")
	}
	for _, a := range f.Args {
		walkExpr(a, func(x parser.Expr) bool {
			if g, ok := x.(*parser.FuncCall); ok && g.Over != nil {
				failAt(g, "window function calls cannot be nested")
			}
			return true
		})
	}
	args := make([]*expr.Expr, len(f.Args))
	for i, a := range f.Args {
		args[i] = b.bindExpr(a, c)
	}
	arity := func(lo, hi int) {
		switch {
		case f.Star:
			failAt(f, "%s(*) is not a window function; did you mean count(*)?", f.Name)
		case hi == 0 && len(args) > 0:
			failAt(f, "%s takes no arguments", f.Name)
		case len(args) < lo || len(args) > hi:
			failAt(f, "%s takes %d to %d arguments, got %d", f.Name, lo, hi, len(args))
		}
	}
	switch f.Name {
	case "row_number", "rank", "dense_rank":
		arity(0, 0)
		op := map[string]expr.Op{"row_number": expr.OpRowNumber, "rank": expr.OpRank, "dense_rank": expr.OpDenseRank}[f.Name]
		return expr.Call(op)
	case "lag", "lead":
		arity(1, 3)
		call := expr.Call(expr.OpLag, args[0])
		if f.Name == "lead" {
			call.Op = expr.OpLead
		}
		call.N1 = 1
		if len(args) > 1 {
			n, ok := litInt(args[1])
			if !ok || n < 0 {
				failAt(f.Args[1], "the offset of %s must be a constant integer of at least 0", f.Name)
			}
			call.N1 = n
		}
		if len(args) > 2 {
			call.Args = append(call.Args, args[2])
		}
		return call
	case "first_value", "last_value":
		arity(1, 1)
		return expr.Call(map[string]expr.Op{"first_value": expr.OpFirstValue, "last_value": expr.OpLastValue}[f.Name], args[0])
	case "nth_value", "ntile":
		if f.Name == "nth_value" {
			arity(2, 2)
		} else {
			arity(1, 1)
		}
		pos := args[len(args)-1]
		n, ok := litInt(pos)
		if !ok || n < 1 {
			failAt(f.Args[len(args)-1], "the last argument of %s must be a constant integer of at least 1", f.Name)
		}
		call := expr.Call(expr.OpNtile)
		if f.Name == "nth_value" {
			call = expr.Call(expr.OpNthValue, args[0])
		}
		call.N1 = n
		return call
	case "percent_rank", "cume_dist":
		arity(0, 0)
		return expr.Call(map[string]expr.Op{"percent_rank": expr.OpPercentRank, "cume_dist": expr.OpCumeDist}[f.Name])
	case "count":
		if f.Star {
			return expr.Call(expr.OpCountStar)
		}
		fallthrough
	case "sum", "avg", "min", "max":
		arity(1, 1)
		op := map[string]expr.Op{"sum": expr.OpSum, "avg": expr.OpAvg, "min": expr.OpMin, "max": expr.OpMax, "count": expr.OpCount}[f.Name]
		return expr.Call(op, args...)
	}
	if _, ok := scalarFuncs[f.Name]; ok {
		failAt(f, "OVER specified, but %s is not a window function nor an aggregate function", f.Name)
	}
	msg := "function " + f.Name + " is not a window function"
	if sug := suggest(f.Name, []string{"row_number", "rank", "dense_rank", "lag", "lead", "first_value", "last_value", "nth_value",
		"ntile", "percent_rank", "cume_dist", "sum", "avg", "min", "max", "count"}); sug != "" {
		msg += "; did you mean " + sug + "?"
	}
	failAt(f, "%s", msg)
	return nil
}
