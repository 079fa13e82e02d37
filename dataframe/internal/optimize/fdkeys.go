package optimize

import (
	"strconv"

	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
)

// dependentKeys drops from each grouping the keys another key determines:
// where a key is a column its table holds no value twice in (checked
// exactly: scan.Uniquer), the other keys that are columns of the same row
// of that table have one value per group, and are carried through with
// any_value instead of hashed and compared (TPC-H Q10 groups by c_custkey
// and six more columns of customer and nation: five long strings; Q18 by
// c_custkey, c_name, o_orderkey, o_orderdate and o_totalprice). The output
// columns keep their names and order.
func dependentKeys(n plan.Node) plan.Node {
	return bottomUp(n, dependentKeysNode)
}

func dependentKeysNode(n plan.Node) plan.Node {
	a, ok := n.(*plan.Aggregate)
	if !ok || len(a.Keys) < 2 {
		return n
	}
	type from struct {
		scan      *plan.Scan
		col, path string
	}
	froms := make([]from, len(a.Keys))
	for i, k := range a.Keys {
		if u := k.Unalias(); u.Op == expr.OpCol {
			froms[i].scan, froms[i].col, froms[i].path = origin(a.Input, u.Name, "")
		}
	}
	dep := make([]bool, len(a.Keys))
	found := false
	for i, f := range froms {
		if f.scan == nil || dep[i] || !unique(f.scan, f.col) {
			continue
		}
		for j, g := range froms {
			// The same scan reached by the same path: the same row (a
			// table read twice, or a subplan used twice, is not).
			if j != i && !dep[j] && g.scan == f.scan && g.path == f.path && g.col != f.col {
				dep[j], found = true, true
			}
		}
	}
	if !found {
		return n
	}
	out := &plan.Aggregate{Input: a.Input, Aggs: a.Aggs[:len(a.Aggs):len(a.Aggs)]}
	in := a.Input.Schema()
	for i, k := range a.Keys {
		if !dep[i] {
			out.Keys = append(out.Keys, k)
			continue
		}
		v, err := expr.Resolve(expr.Call(expr.OpAnyValue, expr.Col(k.Unalias().Name)), in)
		if err != nil {
			return n
		}
		v.Nullable = k.Nullable // (a group has a row, and the row its value)
		al := expr.Alias(v, k.OutputName())
		al.T, al.Nullable = v.T, v.Nullable
		out.Aggs = append(out.Aggs, al)
	}
	var cols []*expr.Expr
	for _, f := range a.Schema() {
		c, err := expr.Resolve(expr.Col(f.Name), out.Schema())
		if err != nil {
			return n
		}
		cols = append(cols, c)
	}
	return &plan.Project{Input: out, Exprs: cols}
}

// unique reports whether column col of s's source is known to hold no
// null and no value twice.
func unique(s *plan.Scan, col string) bool {
	u, ok := s.Source.(scan.Uniquer)
	if !ok {
		return false
	}
	i := s.Source.Schema().Index(col)
	return i >= 0 && u.Unique(i)
}

// origin follows column col of n down to the scan that reads it, through
// renames, filters, joins, sorts and limits: the scan, the column's name
// there and the path taken (the children's indexes); nil where col is
// computed on the way or comes through another node.
func origin(n plan.Node, col, path string) (*plan.Scan, string, string) {
	switch x := n.(type) {
	case *plan.Scan:
		if x.Schema().Index(col) >= 0 {
			return x, col, path
		}
	case *plan.Project:
		for _, e := range x.Exprs {
			if e.OutputName() == col {
				if u := e.Unalias(); u.Op == expr.OpCol {
					return origin(x.Input, u.Name, path+"0")
				}
				return nil, "", ""
			}
		}
	case *plan.Filter, *plan.Join, *plan.Sort, *plan.Limit, *plan.Repartition:
		if n.Schema().Index(col) < 0 {
			return nil, "", ""
		}
		for i, c := range n.Children() {
			if c.Schema().Index(col) >= 0 {
				return origin(c, col, path+strconv.Itoa(i))
			}
		}
	}
	return nil, "", ""
}
