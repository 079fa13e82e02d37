package parser

// Inspect walks the tree of n depth first, calling f for each node before
// its children; when f returns false the node's children are skipped. Nil
// children are not visited. TableName and TypeName, which are values, are not
// visited on their own.
func Inspect(n Node, f func(Node) bool) {
	if n == nil || !f(n) {
		return
	}
	walkExprs := func(es []Expr) {
		for _, e := range es {
			Inspect(e, f)
		}
	}
	walkOrder := func(os []*OrderItem) {
		for _, o := range os {
			Inspect(o, f)
		}
	}
	switch n := n.(type) {
	case *Query:
		if n.With != nil {
			Inspect(n.With, f)
		}
		Inspect(n.Body, f)
		walkOrder(n.OrderBy)
		Inspect(n.Limit, f)
		Inspect(n.Offset, f)
	case *With:
		for _, c := range n.CTEs {
			Inspect(c, f)
		}
	case *CTE:
		Inspect(n.Query, f)
	case *Select:
		walkExprs(n.DistinctOn)
		for _, it := range n.Items {
			Inspect(it, f)
		}
		for _, t := range n.From {
			Inspect(t, f)
		}
		Inspect(n.Where, f)
		walkExprs(n.GroupBy)
		Inspect(n.Having, f)
		for _, w := range n.Windows {
			Inspect(w, f)
		}
	case *SelectItem:
		Inspect(n.Expr, f)
	case *SetOp:
		Inspect(n.Left, f)
		Inspect(n.Right, f)
	case *Values:
		for _, row := range n.Rows {
			walkExprs(row)
		}
	case *OrderItem:
		Inspect(n.Expr, f)
	case *NamedWindow:
		Inspect(n.Spec, f)
	case *WindowSpec:
		walkExprs(n.PartitionBy)
		walkOrder(n.OrderBy)
		if n.Frame != nil {
			Inspect(n.Frame, f)
		}
	case *Frame:
		Inspect(n.Start.Offset, f)
		Inspect(n.End.Offset, f)
	case *DerivedTable:
		Inspect(n.Query, f)
	case *TableFunc:
		walkExprs(n.Args)
	case *Join:
		Inspect(n.Left, f)
		Inspect(n.Right, f)
		Inspect(n.On, f)
	case *Unary:
		Inspect(n.X, f)
	case *Binary:
		Inspect(n.Left, f)
		Inspect(n.Right, f)
	case *IsNull:
		Inspect(n.X, f)
	case *IsBool:
		Inspect(n.X, f)
	case *IsDistinctFrom:
		Inspect(n.Left, f)
		Inspect(n.Right, f)
	case *Between:
		walkExprs([]Expr{n.X, n.Low, n.High})
	case *InList:
		Inspect(n.X, f)
		walkExprs(n.List)
	case *InSubquery:
		Inspect(n.X, f)
		Inspect(n.Query, f)
	case *LikeExpr:
		walkExprs([]Expr{n.X, n.Pattern})
		Inspect(n.Escape, f)
	case *Exists:
		Inspect(n.Query, f)
	case *Subquery:
		Inspect(n.Query, f)
	case *Quantified:
		Inspect(n.Left, f)
		Inspect(n.Query, f)
	case *Row:
		walkExprs(n.Items)
	case *Case:
		Inspect(n.Operand, f)
		for _, w := range n.Whens {
			Inspect(w, f)
		}
		Inspect(n.Else, f)
	case *When:
		Inspect(n.Cond, f)
		Inspect(n.Result, f)
	case *Cast:
		Inspect(n.X, f)
	case *Extract:
		Inspect(n.X, f)
	case *FuncCall:
		walkExprs(n.Args)
		walkOrder(n.OrderBy)
		Inspect(n.Filter, f)
		if n.Over != nil {
			Inspect(n.Over, f)
		}
	case *CreateTable:
		for _, c := range n.Columns {
			Inspect(c, f)
		}
		for _, c := range n.Constraints {
			Inspect(c, f)
		}
	case *ColumnDef:
		Inspect(n.Default, f)
	case *CreateTableAs:
		Inspect(n.Query, f)
	case *CreateView:
		Inspect(n.Query, f)
	case *CreateIndex:
		walkOrder(n.Keys)
	case *Insert:
		Inspect(n.Query, f)
	case *Update:
		for _, a := range n.Set {
			Inspect(a, f)
		}
		Inspect(n.Where, f)
	case *Assignment:
		Inspect(n.Value, f)
	case *Delete:
		Inspect(n.Where, f)
	case *Explain:
		Inspect(n.Statement, f)
	}
}
