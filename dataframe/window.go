package dataframe

import (
	"errors"
	"fmt"

	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
)

// Window says which rows a window function sees: the rows with the
// current row's partition keys (all rows without PartitionBy), in the
// order of the order keys (SQL's OVER (PARTITION BY … ORDER BY …)).
// An aggregate over an ordered window is a running aggregate: from the
// partition's first row to the current row's last peer (the rows equal
// to it in the order), SQL's default frame; over a window without order
// it is the partition's total. Windows are values: each method returns
// a new one.
//
//	w := dataframe.PartitionBy("region").OrderBy(dataframe.Desc("sales"))
//	df.WithColumn("rank", dataframe.Rank().Over(w)).
//		WithColumn("running", dataframe.Sum("sales").Over(w))
type Window struct {
	partition []Expr
	order     []SortKey
	frame     expr.Frame
}

// PartitionBy starts a window partitioned by keys: column names or
// expressions.
func PartitionBy(keys ...any) Window { return Window{}.PartitionBy(keys...) }

// OrderBy starts a window over all rows (one partition) ordered by keys:
// column names or expressions (ascending) or SortKeys (Asc, Desc).
func OrderBy(keys ...any) Window { return Window{}.OrderBy(keys...) }

// PartitionBy adds partition keys.
func (w Window) PartitionBy(keys ...any) Window {
	part := append([]Expr{}, w.partition...)
	for _, k := range keys {
		part = append(part, colOrExpr(k))
	}
	w.partition = part
	return w
}

// OrderBy adds order keys.
func (w Window) OrderBy(keys ...any) Window {
	order := append([]SortKey{}, w.order...)
	for _, k := range keys {
		if sk, ok := k.(SortKey); ok {
			order = append(order, sk)
		} else {
			order = append(order, Asc(k))
		}
	}
	w.order = order
	return w
}

// RowsToCurrent makes aggregates over the window see the rows from the
// partition's first to the current one, not its peers after it (SQL's
// ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW): a running sum that
// differs between rows with equal order keys.
func (w Window) RowsToCurrent() Window { w.frame = expr.FrameRows; return w }

// WholePartition makes aggregates over the window see the whole partition,
// ordered or not (SQL's … AND UNBOUNDED FOLLOWING).
func (w Window) WholePartition() Window { w.frame = expr.FramePartition; return w }

// Over computes x, a window function (RowNumber, Rank, DenseRank, Lag,
// Lead) or an aggregate (Sum, Avg, Min, Max, Count, CountAll), over a
// window: every row gets a value. Select and WithColumn take such
// expressions, alone or inside others (Col("v").Div(Sum("v").Over(w))).
func (x Expr) Over(w Window) Expr {
	if x.err != nil {
		return x
	}
	if x.e == nil {
		return Expr{err: errors.New("Over: empty expression")}
	}
	f := x.e.Unalias()
	if !f.Op.Windowable() {
		return Expr{err: fmt.Errorf("%s cannot be computed over a window: use RowNumber, Rank, DenseRank, Lag, Lead, Sum, Avg, Min, Max, Count or CountAll", x.e)}
	}
	if f.Over != nil {
		return Expr{err: fmt.Errorf("%s already has a window", x.e)}
	}
	over := &expr.Over{Frame: w.frame}
	for _, k := range w.partition {
		if k.err != nil {
			return Expr{err: fmt.Errorf("PartitionBy: %w", k.err)}
		}
		over.PartitionBy = append(over.PartitionBy, k.e)
	}
	for _, k := range w.order {
		if k.e.err != nil {
			return Expr{err: fmt.Errorf("OrderBy: %w", k.e.err)}
		}
		over.OrderBy = append(over.OrderBy, expr.OrderKey{Expr: k.e.e, Desc: k.desc, NullsFirst: k.nullsFirst})
	}
	for _, k := range append(append([]*expr.Expr{}, over.PartitionBy...), keyExprs(over.OrderBy)...) {
		var err error
		expr.Walk(k, func(y *expr.Expr) bool {
			if y.Over != nil || y.Op.IsAgg() || y.Op.IsWindow() {
				err = fmt.Errorf("the window of %s: key %s holds an aggregate or window function", x.e, k)
			}
			return err == nil
		})
		if err != nil {
			return Expr{err: err}
		}
	}
	c := f.Clone()
	c.Over = over
	if x.e.Op == expr.OpAlias {
		c = expr.Alias(c, x.e.Name)
	}
	return Expr{e: c}
}

func keyExprs(ks []expr.OrderKey) []*expr.Expr {
	out := make([]*expr.Expr, len(ks))
	for i, k := range ks {
		out[i] = k.Expr
	}
	return out
}

// RowNumber numbers the rows of each window partition 1, 2, … in the
// window's order (peers in an arbitrary order).
func RowNumber() Expr { return Expr{e: expr.Call(expr.OpRowNumber)} }

// Rank is the row's rank in its window partition: 1 + the number of rows
// before its first peer (ties share a rank, leaving gaps: 1, 1, 3).
func Rank() Expr { return Expr{e: expr.Call(expr.OpRank)} }

// DenseRank is Rank without gaps: 1 + the number of distinct peer groups
// before the row's (1, 1, 2).
func DenseRank() Expr { return Expr{e: expr.Call(expr.OpDenseRank)} }

// FirstValue is x (a column name or expression) of the first row of the
// row's window partition in the window's order (frames start there).
func FirstValue(x any) Expr { return call(expr.OpFirstValue, colOrExpr(x)) }

// LastValue is x of the last row of the row's frame: its last peer by
// default, the row itself with RowsToCurrent, the partition's last row
// with WholePartition.
func LastValue(x any) Expr { return call(expr.OpLastValue, colOrExpr(x)) }

// NthValue is x of the n-th row (from 1) of the row's frame; null when the
// frame ends before it.
func NthValue(x any, n int) Expr {
	if n < 1 {
		return Expr{err: fmt.Errorf("nth_value: position %d, want at least 1", n)}
	}
	e := call(expr.OpNthValue, colOrExpr(x))
	if e.err == nil {
		e.e.N1 = int64(n)
	}
	return e
}

// Ntile divides each window partition, in the window's order, into n
// buckets as equal as can be (the first ones one row larger) and is the
// row's bucket, 1…n.
func Ntile(n int) Expr {
	if n < 1 {
		return Expr{err: fmt.Errorf("ntile: %d buckets, want at least 1", n)}
	}
	e := expr.Call(expr.OpNtile)
	e.N1 = int64(n)
	return Expr{e: e}
}

// PercentRank is (Rank - 1) / (rows of the partition - 1), 0 in a
// partition of one row.
func PercentRank() Expr { return Expr{e: expr.Call(expr.OpPercentRank)} }

// CumeDist is the fraction of the partition's rows up to the row's last
// peer.
func CumeDist() Expr { return Expr{e: expr.Call(expr.OpCumeDist)} }

// Lag is x (a column name or expression) of the row offset rows before
// the current one in its window partition; where there is none, def when
// given, else null.
func Lag(x any, offset int, def ...any) Expr { return shift(expr.OpLag, x, offset, def) }

// Lead is Lag looking offset rows after the current one.
func Lead(x any, offset int, def ...any) Expr { return shift(expr.OpLead, x, offset, def) }

func shift(op expr.Op, x any, offset int, def []any) Expr {
	if offset < 0 {
		return Expr{err: fmt.Errorf("%s: negative offset %d", op, offset)}
	}
	if len(def) > 1 {
		return Expr{err: fmt.Errorf("%s takes at most one default value, got %d", op, len(def))}
	}
	args := []Expr{colOrExpr(x)}
	if len(def) == 1 {
		args = append(args, toExpr(def[0]))
	}
	e := call(op, args...)
	if e.err == nil {
		e.e.N1 = int64(offset)
	}
	return e
}

// windows computes the window calls of es (calls given an Over) as
// columns of plan.Window nodes over df, one node per distinct window, and
// returns es with each call replaced by its column (under the name the
// expression had).
func (df *DataFrame) windows(es []Expr) (plan.Node, []Expr, error) {
	in := df.node.Schema()
	node := df.node
	var wins []*plan.Window
	byOver := map[string]*plan.Window{}
	out := make([]Expr, len(es))
	calls := 0
	for i, e := range es {
		out[i] = e
		if e.err != nil || e.e == nil || !hasWindow(e.e) {
			continue
		}
		var err error
		rewritten := expr.Rewrite(e.e, func(x *expr.Expr) *expr.Expr {
			if x.Over == nil || err != nil {
				return x
			}
			for _, a := range x.Args {
				expr.Walk(a, func(y *expr.Expr) bool {
					if y.Over != nil || y.Op.IsAgg() || y.Op.IsWindow() || (y.Op == expr.OpCol && isWindowColumn(y.Name)) {
						err = fmt.Errorf("%s: the arguments of a window function cannot hold aggregates or window functions", x)
					}
					return err == nil
				})
			}
			r, rerr := expr.Resolve(x, in)
			if err != nil || rerr != nil {
				err = errors.Join(err, rerr)
				return x
			}
			key := r.Over.String()
			w := byOver[key]
			if w == nil {
				w = &plan.Window{PartitionBy: r.Over.PartitionBy, OrderBy: r.Over.OrderBy, Frame: r.Over.Frame}
				byOver[key] = w
				wins = append(wins, w)
			}
			f := r.Clone()
			f.Over = nil
			name := fmt.Sprintf("%s%d", windowColumn, calls)
			calls++
			a, rerr := expr.Resolve(expr.Alias(f, name), in)
			if rerr != nil {
				err = rerr
				return x
			}
			w.Funcs = append(w.Funcs, a)
			return expr.Col(name)
		})
		if err != nil {
			return nil, nil, err
		}
		if rewritten.Op != expr.OpAlias {
			rewritten = expr.Alias(rewritten, e.e.OutputName())
		}
		out[i] = Expr{e: rewritten}
	}
	for _, w := range wins {
		w.Input = node
		node = w
	}
	return node, out, nil
}

// windowColumn prefixes the columns that hold window functions' values
// between a plan.Window and the projection above it.
const windowColumn = "__window"

func isWindowColumn(name string) bool {
	return len(name) > len(windowColumn) && name[:len(windowColumn)] == windowColumn
}

func hasWindow(e *expr.Expr) bool {
	found := false
	expr.Walk(e, func(x *expr.Expr) bool {
		found = found || x.Over != nil
		return !found
	})
	return found
}
