package plan

import (
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Window computes window functions over one window: the rows of Input
// with equal PartitionBy values form a partition, ordered by OrderBy;
// each of Funcs (a window function or an aggregate, aliased, without its
// Over) gives every row a value computed over its partition (an
// aggregate over the rows of Frame). The output is Input's columns, then
// one column per function.
type Window struct {
	Input       Node
	PartitionBy []*expr.Expr
	OrderBy     []SortKey
	Frame       expr.Frame
	Funcs       []*expr.Expr
}

// Over is the window the functions are computed over.
func (w *Window) Over() *expr.Over {
	return &expr.Over{PartitionBy: w.PartitionBy, OrderBy: w.OrderBy, Frame: w.Frame}
}

// Schema implements Node.
func (w *Window) Schema() types.Schema {
	s := append(types.Schema{}, w.Input.Schema()...)
	for _, f := range w.Funcs {
		s = append(s, types.Field{Name: f.OutputName(), Type: f.T, Nullable: f.Nullable})
	}
	return s
}

// Children implements Node.
func (w *Window) Children() []Node { return []Node{w.Input} }

// WithChildren implements Node.
func (w *Window) WithChildren(ch []Node) Node {
	c := *w
	c.Input = ch[0]
	return &c
}

// Describe implements Node.
func (w *Window) Describe() string {
	return "Window " + exprList(w.Funcs) + " over (" + w.Over().String() + ")"
}
