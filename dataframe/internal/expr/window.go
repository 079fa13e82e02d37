package expr

import (
	"fmt"
	"strings"

	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Frame is the set of rows of a window that an aggregate computed over
// it sees, relative to the current row. Ranking functions, lag and lead
// do not depend on it.
type Frame uint8

// Frames.
const (
	// FramePeers runs from the partition's first row to the current row's
	// last peer (the rows equal to it in the window's order): SQL's
	// default, RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW. Without
	// an order every row of the partition is a peer.
	FramePeers Frame = iota
	// FrameRows runs from the partition's first row to the current row
	// (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW): a running
	// aggregate in which peers differ.
	FrameRows
	// FramePartition is the whole partition (… AND UNBOUNDED FOLLOWING).
	FramePartition
)

var frameNames = [...]string{FramePeers: "range unbounded preceding", FrameRows: "rows unbounded preceding",
	FramePartition: "rows between unbounded preceding and unbounded following"}

func (f Frame) String() string {
	if int(f) < len(frameNames) {
		return frameNames[f]
	}
	return fmt.Sprintf("frame(%d)", int(f))
}

// Direction is how a key orders rows: ascending unless Desc, nulls last
// unless NullsFirst.
type Direction struct {
	Desc       bool
	NullsFirst bool
}

// OrderKey orders rows by an expression.
type OrderKey struct {
	Expr       *Expr
	Desc       bool
	NullsFirst bool
}

func (k OrderKey) String() string {
	s := k.Expr.String()
	if k.Desc {
		s += " desc"
	}
	if k.NullsFirst {
		s += " nulls first"
	}
	return s
}

// Over is a window: the rows with the current row's PartitionBy values,
// in OrderBy order, of which an aggregate sees Frame.
type Over struct {
	PartitionBy []*Expr
	OrderBy     []OrderKey
	Frame       Frame
}

// String is the window's canonical form; equal windows are one
// plan.Window.
func (o *Over) String() string {
	var parts []string
	if len(o.PartitionBy) > 0 {
		ks := make([]string, len(o.PartitionBy))
		for i, k := range o.PartitionBy {
			ks[i] = k.String()
		}
		parts = append(parts, "partition by "+strings.Join(ks, ", "))
	}
	if len(o.OrderBy) > 0 {
		ks := make([]string, len(o.OrderBy))
		for i, k := range o.OrderBy {
			ks[i] = k.String()
		}
		parts = append(parts, "order by "+strings.Join(ks, ", "))
	}
	if o.Frame != FramePeers {
		parts = append(parts, o.Frame.String())
	}
	return strings.Join(parts, " ")
}

// Resolve returns the window with its expressions resolved against s.
func (o *Over) Resolve(s types.Schema) (*Over, error) {
	out := &Over{Frame: o.Frame, PartitionBy: make([]*Expr, len(o.PartitionBy)), OrderBy: make([]OrderKey, len(o.OrderBy))}
	for i, k := range o.PartitionBy {
		r, err := Resolve(k, s)
		if err != nil {
			return nil, fmt.Errorf("PARTITION BY %s: %w", k, err)
		}
		out.PartitionBy[i] = r
	}
	for i, k := range o.OrderBy {
		r, err := Resolve(k.Expr, s)
		if err != nil {
			return nil, fmt.Errorf("window ORDER BY %s: %w", k.Expr, err)
		}
		out.OrderBy[i] = OrderKey{Expr: r, Desc: k.Desc, NullsFirst: k.NullsFirst}
	}
	return out, nil
}

// typecheckWindow types a window function (OpRowNumber…OpCumeDist).
func (c *Expr) typecheckWindow() error {
	switch c.Op {
	case OpRowNumber, OpRank, OpDenseRank:
		if len(c.Args) != 0 {
			return mismatch(c, "%s takes no arguments", c.Op)
		}
		c.T, c.Nullable = types.Int64Type, false
	case OpLag, OpLead:
		if err := c.wantArgs(1, 2); err != nil {
			return err
		}
		if c.N1 < 0 {
			return mismatch(c, "%s needs an offset of at least 0, got %d", c.Op, c.N1)
		}
		t, err := c.unifyArgs(nil)
		if err != nil {
			return err
		}
		for i := range c.Args {
			c.Args[i] = castTo(c.Args[i], t)
		}
		c.T = t
		// Rows without a row at the offset take the default, else null.
		c.Nullable = len(c.Args) == 1 || c.Args[0].Nullable || c.Args[1].Nullable
	case OpFirstValue, OpLastValue, OpNthValue:
		if err := c.wantArgs(1, 1); err != nil {
			return err
		}
		if c.Op == OpNthValue && c.N1 < 1 {
			return mismatch(c, "nth_value needs a position of at least 1, got %d", c.N1)
		}
		c.T, c.Nullable = c.Args[0].T, c.Args[0].Nullable || c.Op == OpNthValue
	case OpNtile:
		if len(c.Args) != 0 {
			return mismatch(c, "ntile takes its bucket count as a constant")
		}
		if c.N1 < 1 {
			return mismatch(c, "ntile needs at least 1 bucket, got %d", c.N1)
		}
		c.T, c.Nullable = types.Int64Type, false
	case OpPercentRank, OpCumeDist:
		if len(c.Args) != 0 {
			return mismatch(c, "%s takes no arguments", c.Op)
		}
		c.T, c.Nullable = types.Float64Type, false
	}
	return nil
}
