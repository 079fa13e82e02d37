package dataframe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe/internal/cluster"
	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/physical"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/runner"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// ErrTypeMismatch is wrapped by errors about expressions whose operand types do not fit.
var ErrTypeMismatch = expr.ErrTypeMismatch

// Errors raised while computing an expression, with PostgreSQL's messages
// (division by zero, invalid input syntax for type integer: "abc", …); each
// reaches Collect's caller as an *EvalError that errors.Is matches against
// one of these.
var (
	ErrDivisionByZero  = expr.ErrDivisionByZero
	ErrOutOfRange      = expr.ErrOutOfRange
	ErrInvalidText     = expr.ErrInvalidText
	ErrInvalidArgument = expr.ErrInvalidArgument
)

// EvalError is an error raised while computing an expression.
type EvalError = expr.EvalError

// ColumnNotFoundError reports a reference to a column the input does not have.
type ColumnNotFoundError = types.ColumnNotFoundError

// DataFrame is a lazy query: building one only records a logical plan and
// checks it; Collect runs it. DataFrames are immutable and safe to share.
type DataFrame struct {
	node plan.Node
	err  error
}

func errFrame(err error) *DataFrame { return &DataFrame{err: err} }

func newFrame(n plan.Node) *DataFrame { return &DataFrame{node: n} }

func sourceFrame(s scan.Source) *DataFrame {
	cols := make([]int, len(s.Schema()))
	for i := range cols {
		cols[i] = i
	}
	return newFrame(&plan.Scan{Source: s, Columns: cols})
}

// Err returns the first error met while building the frame.
func (df *DataFrame) Err() error { return df.err }

// Schema returns the frame's output schema.
func (df *DataFrame) Schema() (Schema, error) {
	if df.err != nil {
		return nil, df.err
	}
	return df.node.Schema(), nil
}

// ReadParquet reads a Parquet file, a directory of *.parquet files, or a glob.
func ReadParquet(path string) *DataFrame {
	s, err := scan.NewParquet(path)
	if err != nil {
		return errFrame(err)
	}
	return sourceFrame(s)
}

// CSVOption configures ReadCSV.
type CSVOption func(*scan.CSVOptions)

// Delimiter sets the field separator (default ',').
func Delimiter(c byte) CSVOption { return func(o *scan.CSVOptions) { o.Delimiter = c } }

// Header says the first line holds column names and is skipped.
func Header(h bool) CSVOption { return func(o *scan.CSVOptions) { o.Header = h } }

// NullString sets the text read as null.
func NullString(s string) CSVOption { return func(o *scan.CSVOptions) { o.NullString = s } }

// ReadCSV reads delimited text: a file, a directory of *.csv files, or a
// glob, all with one schema. A nil schema is inferred from the first
// file: its first line names the columns (Header is implied) and each
// column's type comes from the first 1,000 lines (int64, float64, date
// as YYYY-MM-DD, bool as true/false, else string; an empty field of a
// non-string column is NULL). A delimiter at the end of a line (as in
// TPC-H's .tbl files) is accepted.
func ReadCSV(path string, schema Schema, opts ...CSVOption) *DataFrame {
	o := scan.CSVOptions{Delimiter: ','}
	for _, f := range opts {
		f(&o)
	}
	files, err := listFiles(path, "*.csv")
	if err != nil {
		return errFrame(fmt.Errorf("reading CSV %s: %w", path, err))
	}
	if schema == nil {
		o.Header = true
		if schema, err = inferCSVSchema(files[0], o); err != nil {
			return errFrame(fmt.Errorf("reading CSV %s: %w", files[0], err))
		}
	}
	if err := checkSchema(schema); err != nil {
		return errFrame(fmt.Errorf("reading CSV %s: %w", path, err))
	}
	frames := make([]*DataFrame, len(files))
	for i, f := range files {
		s, err := scan.NewCSV(f, schema, o)
		if err != nil {
			return errFrame(err)
		}
		frames[i] = sourceFrame(s)
	}
	return frames[0].UnionAll(frames[1:]...)
}

// listFiles lists the files path names: itself, the files of a directory
// matching pattern, or the matches of a glob, in name order.
func listFiles(path, pattern string) ([]string, error) {
	if st, err := os.Stat(path); err == nil {
		if !st.IsDir() {
			return []string{path}, nil
		}
		files, err := filepath.Glob(filepath.Join(path, pattern))
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("the directory has no %s files", pattern)
		}
		return files, nil
	}
	files, err := filepath.Glob(path)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no such file, directory or glob match: %w", os.ErrNotExist)
	}
	return files, nil
}

func checkSchema(s Schema) error {
	seen := map[string]bool{}
	for _, f := range s {
		if f.Type.ID == types.Invalid {
			return fmt.Errorf("column %q has no type", f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("column %q appears twice", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// FromArrow makes an in-memory frame from Arrow record batches (copied).
func FromArrow(records ...arrow.RecordBatch) *DataFrame {
	if len(records) == 0 {
		return errFrame(errors.New("FromArrow needs at least one record batch (for the schema)"))
	}
	as := records[0].Schema()
	s := make(Schema, as.NumFields())
	for i, f := range as.Fields() {
		t, err := types.FromArrow(f.Type)
		if err != nil {
			return errFrame(fmt.Errorf("FromArrow: column %q: %w", f.Name, err))
		}
		s[i] = Field{Name: f.Name, Type: t, Nullable: f.Nullable}
	}
	if err := checkSchema(s); err != nil {
		return errFrame(fmt.Errorf("FromArrow: %w", err))
	}
	var chunks []*coldata.Batch
	for k, r := range records {
		if !r.Schema().Equal(as) {
			return errFrame(fmt.Errorf("FromArrow: record %d has schema %s, want %s", k, r.Schema(), as))
		}
		b, err := coldata.FromRecord(s, r)
		if err != nil {
			return errFrame(fmt.Errorf("FromArrow: %w", err))
		}
		chunks = append(chunks, coldata.Compact(b))
	}
	t := scan.NewMemTable(s, chunks)
	t.DictEncode()
	t.ComputeStats()
	return sourceFrame(t)
}

// FromFutures makes a frame over Arrow record batches on a cluster, one
// partition per future (the futures of tasks that return
// arrow.RecordBatch, or of shoal.Put): its partitions stay where they are,
// and a query's first stage runs one task per future, on the node that
// holds it. The schema is read on the cluster from the first batch; every
// batch must have it. ctx is shoal.Init's. The frame's token names each
// future's object, never how it was made: two frames over two futures of
// the same function with the same arguments are different inputs, and a
// result cache never serves one for the other. Releasing a future the
// frame reads makes later queries of the frame fail, saying so.
func FromFutures(ctx context.Context, futures []*shoal.Future[arrow.RecordBatch]) *DataFrame {
	t, err := cluster.NewRecordFutures(ctx, futures)
	if err != nil {
		return errFrame(err)
	}
	return sourceFrame(t)
}

// Repartition hash-partitions the frame on keys (column names or
// expressions) into n partitions (a shuffle; on a cluster, peer to peer
// between the nodes): rows with equal keys land in the same partition.
// Persist keeps the partitions where they are.
func (df *DataFrame) Repartition(n int, keys ...any) *DataFrame {
	if df.err != nil {
		return df
	}
	if n < 1 {
		return errFrame(fmt.Errorf("Repartition into %d partitions: want at least 1", n))
	}
	if len(keys) == 0 {
		return errFrame(errors.New("Repartition needs at least one key"))
	}
	s := df.node.Schema()
	ks := make([]*expr.Expr, len(keys))
	for i, k := range keys {
		e, err := df.resolve(colOrExpr(k), s)
		if err != nil {
			return errFrame(fmt.Errorf("Repartition key %d: %w", i, err))
		}
		ks[i] = e
	}
	return newFrame(&plan.Repartition{Input: df.node, Keys: ks, N: n})
}

func (df *DataFrame) resolve(e Expr, s Schema) (*expr.Expr, error) {
	if e.err != nil {
		return nil, e.err
	}
	if e.e == nil {
		return nil, errors.New("empty expression")
	}
	r, err := expr.Resolve(e.e, s)
	if err != nil {
		return nil, err
	}
	var aggErr error
	expr.Walk(r, func(x *expr.Expr) bool {
		switch {
		case x.Over != nil:
			aggErr = fmt.Errorf("window function %s is only allowed in Select and WithColumn", x)
		case x.Op.IsWindow():
			aggErr = fmt.Errorf("%s needs a window: %s.Over(PartitionBy(...).OrderBy(...))", x, x)
		case x.Op.IsAgg():
			aggErr = fmt.Errorf("aggregate %s is only allowed in GroupBy(...).Agg(...) or over a window (.Over)", x)
		}
		return aggErr == nil
	})
	return r, aggErr
}

// Select computes one output column per column name or expression.
// Window functions (expressions with Over) are computed first, every row
// getting a value.
func (df *DataFrame) Select(cols ...any) *DataFrame {
	if df.err != nil {
		return df
	}
	exprs := make([]Expr, len(cols))
	for i, c := range cols {
		exprs[i] = colOrExpr(c)
	}
	in, exprs, err := df.windows(exprs)
	if err != nil {
		return errFrame(fmt.Errorf("Select: %w", err))
	}
	s := in.Schema()
	out := make([]*expr.Expr, len(exprs))
	for i, e := range exprs {
		r, err := df.resolve(e, s)
		if err != nil {
			return errFrame(fmt.Errorf("Select: %w", err))
		}
		out[i] = r
	}
	if err := uniqueNames(out); err != nil {
		return errFrame(fmt.Errorf("Select: %w", err))
	}
	return newFrame(&plan.Project{Input: in, Exprs: out})
}

func uniqueNames(es []*expr.Expr) error {
	seen := map[string]bool{}
	for _, e := range es {
		n := e.OutputName()
		if seen[n] {
			return fmt.Errorf("output column %q appears twice; name one with As", n)
		}
		seen[n] = true
	}
	return nil
}

// Filter keeps the rows for which pred is true.
func (df *DataFrame) Filter(pred Expr) *DataFrame {
	if df.err != nil {
		return df
	}
	r, err := df.resolve(pred, df.node.Schema())
	if err != nil {
		return errFrame(fmt.Errorf("Filter: %w", err))
	}
	if r.T.ID != types.Bool {
		return errFrame(fmt.Errorf("Filter: %w: predicate %s is %s, not bool", ErrTypeMismatch, r, r.T))
	}
	return newFrame(&plan.Filter{Input: df.node, Pred: r})
}

// Where is Filter.
func (df *DataFrame) Where(pred Expr) *DataFrame { return df.Filter(pred) }

// WithColumn adds (or replaces) column name computed by e.
func (df *DataFrame) WithColumn(name string, e Expr) *DataFrame {
	if df.err != nil {
		return df
	}
	s := df.node.Schema()
	var exprs []any
	replaced := false
	for _, f := range s {
		if f.Name == name {
			exprs = append(exprs, e.As(name))
			replaced = true
		} else {
			exprs = append(exprs, Col(f.Name))
		}
	}
	if !replaced {
		exprs = append(exprs, e.As(name))
	}
	return df.Select(exprs...)
}

// Rename renames columns (old name → new name).
func (df *DataFrame) Rename(names map[string]string) *DataFrame {
	if df.err != nil {
		return df
	}
	var exprs []any
	for old := range names {
		if df.node.Schema().Index(old) < 0 {
			return errFrame(fmt.Errorf("Rename: %w", &types.ColumnNotFoundError{Name: old, Available: df.node.Schema().Names()}))
		}
	}
	for _, f := range df.node.Schema() {
		if n, ok := names[f.Name]; ok {
			exprs = append(exprs, Col(f.Name).As(n))
		} else {
			exprs = append(exprs, Col(f.Name))
		}
	}
	return df.Select(exprs...)
}

// Limit keeps the first n rows.
func (df *DataFrame) Limit(n int64) *DataFrame {
	if df.err != nil {
		return df
	}
	if n < 0 {
		return errFrame(fmt.Errorf("Limit: negative count %d", n))
	}
	return newFrame(&plan.Limit{Input: df.node, N: n})
}

// Sort orders the rows by keys (stable).
func (df *DataFrame) Sort(keys ...SortKey) *DataFrame {
	if df.err != nil {
		return df
	}
	s := df.node.Schema()
	ks := make([]plan.SortKey, len(keys))
	for i, k := range keys {
		r, err := df.resolve(k.e, s)
		if err != nil {
			return errFrame(fmt.Errorf("Sort: %w", err))
		}
		ks[i] = plan.SortKey{Expr: r, Desc: k.desc, NullsFirst: k.nullsFirst}
	}
	return newFrame(&plan.Sort{Input: df.node, Keys: ks})
}

// TopK keeps the first n rows in key order.
func (df *DataFrame) TopK(n int64, keys ...SortKey) *DataFrame { return df.Sort(keys...).Limit(n) }

// Distinct keeps one row per distinct combination of all columns.
func (df *DataFrame) Distinct() *DataFrame {
	if df.err != nil {
		return df
	}
	return df.GroupBy(anys(df.node.Schema().Names())...).Agg()
}

// UnionAll appends the rows of others to df's, in order (SQL's UNION ALL;
// several frames: a concatenation). Columns pair up by position: the
// frames need as many columns, of the same types or all numeric
// (converted to the wider type); the result has df's names.
func (df *DataFrame) UnionAll(others ...*DataFrame) *DataFrame {
	out := df
	for _, o := range others {
		out = out.unionAll(o)
	}
	return out
}

// Union is UnionAll keeping one row of each set of equal rows (SQL's
// UNION).
func (df *DataFrame) Union(others ...*DataFrame) *DataFrame { return df.UnionAll(others...).Distinct() }

// Drop removes columns by name.
func (df *DataFrame) Drop(names ...string) *DataFrame {
	if df.err != nil {
		return df
	}
	s := df.node.Schema()
	drop := map[string]bool{}
	for _, n := range names {
		if s.Index(n) < 0 {
			return errFrame(fmt.Errorf("Drop: %w", &types.ColumnNotFoundError{Name: n, Available: s.Names()}))
		}
		drop[n] = true
	}
	var keep []any
	for _, f := range s {
		if !drop[f.Name] {
			keep = append(keep, f.Name)
		}
	}
	if len(keep) == 0 {
		return errFrame(errors.New("Drop: a frame needs at least one column"))
	}
	return df.Select(keep...)
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func (df *DataFrame) unionAll(other *DataFrame) *DataFrame {
	switch {
	case df.err != nil:
		return df
	case other.err != nil:
		return other
	}
	ls, rs := df.node.Schema(), other.node.Schema()
	if len(ls) != len(rs) {
		return errFrame(fmt.Errorf("UnionAll: the frames have %d and %d columns; select the same number from each", len(ls), len(rs)))
	}
	left, right := make([]*expr.Expr, len(ls)), make([]*expr.Expr, len(ls))
	for i := range ls {
		t, err := expr.CommonType(ls[i].Type, rs[i].Type)
		if err != nil {
			return errFrame(fmt.Errorf("UnionAll: column %d (%s and %s): %w", i+1, ls[i].Name, rs[i].Name, err))
		}
		for _, side := range []struct {
			out *[]*expr.Expr
			s   Schema
		}{{&left, ls}, {&right, rs}} {
			c := expr.Col(side.s[i].Name)
			if side.s[i].Type != t {
				c = expr.CastTo(c, t)
			}
			if (*side.out)[i], err = expr.Resolve(expr.Alias(c, ls[i].Name), side.s); err != nil {
				return errFrame(fmt.Errorf("UnionAll: %w", err))
			}
		}
	}
	return newFrame(&plan.Union{Left: &plan.Project{Input: df.node, Exprs: left}, Right: &plan.Project{Input: other.node, Exprs: right}})
}

// GroupedFrame is a frame grouped by keys, waiting for its aggregates.
type GroupedFrame struct {
	df   *DataFrame
	keys []Expr
}

// GroupBy groups rows by keys: column names or expressions.
func (df *DataFrame) GroupBy(keys ...any) *GroupedFrame {
	ks := make([]Expr, len(keys))
	for i, k := range keys {
		ks[i] = colOrExpr(k)
	}
	return &GroupedFrame{df: df, keys: ks}
}

// Agg computes aggregates per group. Each expression may combine aggregates
// (Sum(x).Div(Sum(y))) and group keys; the output has the keys, then these.
func (g *GroupedFrame) Agg(aggs ...Expr) *DataFrame {
	df := g.df
	if df.err != nil {
		return df
	}
	in := df.node.Schema()
	keys := make([]*expr.Expr, len(g.keys))
	for i, k := range g.keys {
		r, err := df.resolve(k, in)
		if err != nil {
			return errFrame(fmt.Errorf("GroupBy: %w", err))
		}
		keys[i] = r
	}
	var calls []*expr.Expr
	callName := map[string]string{}
	var outs []*expr.Expr
	for _, a := range aggs {
		if a.err != nil {
			return errFrame(fmt.Errorf("Agg: %w", a.err))
		}
		name := a.e.OutputName()
		var err error
		// Replace each aggregate call by a reference to a hidden column.
		rewritten := expr.Rewrite(a.e, func(x *expr.Expr) *expr.Expr {
			if !x.Op.IsAgg() || err != nil {
				return x
			}
			for _, arg := range x.Args {
				expr.Walk(arg, func(y *expr.Expr) bool {
					if y.Op.IsAgg() {
						err = fmt.Errorf("nested aggregate %s", y)
					}
					return err == nil
				})
			}
			r, rerr := expr.Resolve(x, in)
			if rerr != nil {
				err = rerr
				return x
			}
			canon := r.String()
			hidden, ok := callName[canon]
			if !ok {
				hidden = fmt.Sprintf("__agg%d", len(calls))
				callName[canon] = hidden
				calls = append(calls, expr.Alias(r, hidden))
				calls[len(calls)-1].T, calls[len(calls)-1].Nullable = r.T, r.Nullable
			}
			return expr.Col(hidden)
		})
		if err != nil {
			return errFrame(fmt.Errorf("Agg: %w", err))
		}
		if rewritten.Op != expr.OpAlias {
			rewritten = expr.Alias(rewritten, name)
		}
		outs = append(outs, rewritten)
	}
	for i := range calls {
		r, err := expr.Resolve(calls[i], in)
		if err != nil {
			return errFrame(fmt.Errorf("Agg: %w", err))
		}
		calls[i] = r
	}
	agg := &plan.Aggregate{Input: df.node, Keys: keys, Aggs: calls}
	as := agg.Schema()
	var final []*expr.Expr
	for _, k := range keys {
		c, _ := expr.Resolve(expr.Col(k.OutputName()), as)
		final = append(final, c)
	}
	for _, o := range outs {
		r, err := expr.Resolve(o, as)
		if err != nil {
			return errFrame(fmt.Errorf("Agg: %s: %w (outside aggregates only group keys may be used)", o, err))
		}
		final = append(final, r)
	}
	if err := uniqueNames(final); err != nil {
		return errFrame(fmt.Errorf("Agg: %w", err))
	}
	return newFrame(&plan.Project{Input: agg, Exprs: final})
}

// JoinType selects a join's semantics.
type JoinType = hashjoin.Type

// Join types. Semi and Anti keep the left rows that have (have no) match and
// output only the left columns; they implement EXISTS / IN and NOT EXISTS.
const (
	Inner     = hashjoin.Inner
	LeftOuter = hashjoin.Left
	Semi      = hashjoin.Semi
	Anti      = hashjoin.Anti
)

// JoinOn is a join condition: equal keys, and optionally a predicate over both sides.
type JoinOn struct {
	left, right []Expr
	where       *Expr
	err         error
}

// On joins on equal columns, given as pairs: On("l_orderkey", "o_orderkey", ...).
func On(pairs ...string) JoinOn {
	if len(pairs) == 0 || len(pairs)%2 != 0 {
		return JoinOn{err: fmt.Errorf("On needs (left, right) column pairs, got %d names", len(pairs))}
	}
	var j JoinOn
	for i := 0; i < len(pairs); i += 2 {
		j.left = append(j.left, Col(pairs[i]))
		j.right = append(j.right, Col(pairs[i+1]))
	}
	return j
}

// OnExprs joins on equal key expressions (left[i] = right[i]).
func OnExprs(left, right []Expr) JoinOn {
	if len(left) != len(right) {
		return JoinOn{err: fmt.Errorf("OnExprs: %d left keys but %d right keys", len(left), len(right))}
	}
	return JoinOn{left: left, right: right}
}

// Where adds a predicate over both sides that matching pairs must satisfy.
func (j JoinOn) Where(pred Expr) JoinOn { j.where = &pred; return j }

// Join joins df (left) with right. Inner and left joins output the left
// columns then the right ones; column names must not clash (use Rename).
func (df *DataFrame) Join(right *DataFrame, how JoinType, on JoinOn) *DataFrame {
	if df.err != nil {
		return df
	}
	if right.err != nil {
		return right
	}
	if on.err != nil {
		return errFrame(fmt.Errorf("Join: %w", on.err))
	}
	ls, rs := df.node.Schema(), right.node.Schema()
	for _, f := range rs {
		if ls.Index(f.Name) >= 0 {
			return errFrame(fmt.Errorf("Join: column %q is on both sides; rename one side first", f.Name))
		}
	}
	j := &plan.Join{Left: df.node, Right: right.node, Type: how}
	for i := range on.left {
		l, err := df.resolve(on.left[i], ls)
		if err != nil {
			return errFrame(fmt.Errorf("Join: left key: %w", err))
		}
		r, err := df.resolve(on.right[i], rs)
		if err != nil {
			return errFrame(fmt.Errorf("Join: right key: %w", err))
		}
		eq, err := expr.Resolve(expr.Call(expr.OpEq, l, r), append(append(Schema{}, ls...), rs...))
		if err != nil {
			return errFrame(fmt.Errorf("Join: key %s = %s: %w", l, r, err))
		}
		j.LeftKeys = append(j.LeftKeys, eq.Args[0])
		j.RightKeys = append(j.RightKeys, eq.Args[1])
	}
	if on.where != nil {
		w, err := df.resolve(*on.where, append(append(Schema{}, ls...), rs...))
		if err != nil {
			return errFrame(fmt.Errorf("Join: condition: %w", err))
		}
		if w.T.ID != types.Bool {
			return errFrame(fmt.Errorf("Join: %w: condition %s is %s, not bool", ErrTypeMismatch, w, w.T))
		}
		j.Residual = w
	}
	if len(j.LeftKeys) == 0 {
		return errFrame(errors.New("Join: needs at least one pair of equal keys"))
	}
	return newFrame(j)
}

// Explain describes the optimized logical plan and the physical stages.
func (df *DataFrame) Explain(opts ...CollectOption) (string, error) {
	return df.explain(context.Background(), opts)
}

// ExplainOn is Explain for a run with ctx: on a cluster (shoal.Init's
// context), the distributed plan Collect would run there, each stage a set
// of partition tasks placed where their input is, its output exchanged
// through the nodes' stores.
func (df *DataFrame) ExplainOn(ctx context.Context, opts ...CollectOption) (string, error) {
	return df.explain(ctx, opts)
}

func (df *DataFrame) explain(ctx context.Context, opts []CollectOption) (string, error) {
	out, _, err := df.explainRun(ctx, opts, false)
	return out, err
}

// ExplainAnalyze runs the frame and describes its plans as Explain does,
// with what the run did: on this machine, each stage's wall time and each
// operator's rows and time (its own, without its inputs', summed over the
// partitions: CPU time); on a cluster, each stage's tasks and rows. It
// returns the result too.
func (df *DataFrame) ExplainAnalyze(ctx context.Context, opts ...CollectOption) (string, *Result, error) {
	return df.explainRun(ctx, opts, true)
}

func (df *DataFrame) explainRun(ctx context.Context, opts []CollectOption, analyze bool) (string, *Result, error) {
	if df.err != nil {
		return "", nil, df.err
	}
	cfg := newConfig(opts)
	distributed := !cfg.local && cluster.InCluster(ctx)
	var out string
	var res *Result
	err := colexecop.Catch(func() {
		var opt plan.Node
		var phys *physical.Plan
		var err error
		if distributed {
			if opt, phys, err = cfg.distributedPlan(ctx, df.node); errors.Is(err, errLocalSource) {
				distributed = false
			}
		}
		if !distributed {
			opt, phys, err = cfg.plan(df.node, false)
		}
		if err != nil {
			colexecop.Throw(err)
		}
		var sb strings.Builder
		sb.WriteString("== logical plan ==\n")
		sb.WriteString(plan.Explain(df.node))
		sb.WriteString("== optimized ==\n")
		sb.WriteString(plan.Explain(opt))
		if distributed {
			fmt.Fprintf(&sb, "== stages (on the cluster: each stage runs one task per partition, placed where its input is; exchanges go through the nodes' stores, read peer to peer) ==\n")
		} else {
			sb.WriteString("== stages ==\n")
		}
		switch {
		case !analyze:
			sb.WriteString(phys.Explain())
		case distributed:
			sb.WriteString(phys.Explain())
			start := time.Now()
			if res, err = df.Collect(ctx, opts...); err != nil {
				colexecop.Throw(err)
			}
			fmt.Fprintf(&sb, "== analyze ==\n%d rows in %s\n", res.NumRows(), time.Since(start).Round(time.Microsecond))
			for _, s := range res.Stats() {
				fmt.Fprintf(&sb, "stage %d: %d tasks, %d rows in, %d rows out (%s)\n", s.Stage, s.Partitions, s.RowsIn, s.Rows, s.Output)
			}
		default:
			prof := runner.NewProfile()
			ropts := cfg.runnerOptions()
			ropts.Profile = prof
			start := time.Now()
			batches, err := runner.Run(ctx, phys, ropts)
			if err != nil {
				colexecop.Throw(err)
			}
			took := time.Since(start)
			res = newResult(df.node.Schema(), batches, nil)
			sb.WriteString(phys.ExplainWith(func(st *physical.Stage) string {
				return fmt.Sprintf("[%s]", roundDuration(prof.Stage(st.ID)))
			}, func(o *physical.Op) string {
				s, ok := prof.Op(o)
				if !ok {
					return ""
				}
				return fmt.Sprintf("[%d rows, %s]", s.Rows, roundDuration(prof.SelfTime(o)))
			}))
			fmt.Fprintf(&sb, "== analyze ==\n%d rows in %s (operators: rows out, own time summed over partitions)\n", res.NumRows(), roundDuration(took))
		}
		out = sb.String()
	})
	return out, res, err
}

// roundDuration keeps three significant digits or so.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// Token is the deterministic hash of the frame's plan, including the identity
// of every input as it was when the frame was built (a file's path, size and
// content digest; an in-memory table's id) and the options it is read with.
func (df *DataFrame) Token() (string, error) {
	if df.err != nil {
		return "", df.err
	}
	return plan.Token(df.node), nil
}

// Persist runs the frame and returns a frame over its result left where it
// was made: on a cluster (ctx from shoal.Init), one object per result
// partition on the node that computed it, the driver holding only their
// futures (Dask's persist); elsewhere, in memory (Materialize). The result
// lives as long as the returned frame is referenced.
func (df *DataFrame) Persist(ctx context.Context, opts ...CollectOption) (*DataFrame, error) {
	if df.err != nil {
		return nil, df.err
	}
	cfg := newConfig(opts)
	if cfg.local || !cluster.InCluster(ctx) {
		return df.Materialize(ctx, opts...)
	}
	_, phys, err := cfg.distributedPlan(ctx, df.node)
	if errors.Is(err, errLocalSource) {
		return df.Materialize(ctx, opts...)
	}
	if err != nil {
		return nil, err
	}
	t, err := cluster.Persist(ctx, phys, cfg.clusterOptions(df.node))
	if err != nil {
		return nil, err
	}
	return sourceFrame(t), nil
}

// Materialize runs the frame and returns a frame over the result held in memory
// (dictionary-encoding low-cardinality strings), for reuse by several queries.
func (df *DataFrame) Materialize(ctx context.Context, opts ...CollectOption) (*DataFrame, error) {
	res, err := df.Collect(ctx, opts...)
	if err != nil {
		return nil, err
	}
	t := scan.NewMemTable(res.schema, res.batches)
	t.DictEncode()
	t.ComputeStats()
	return sourceFrame(t), nil
}
