package colexecop

import (
	"context"
	"errors"
	"fmt"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecerror"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Operator produces the batches of one partition of a stream.
//
// Init is called once, before the first Next, and initializes the inputs too.
// Next returns the next batch; a batch with Len() == 0 (or nil) means the stream
// is done, and later calls keep returning an empty batch. A returned batch and
// its vecs are valid only until the next call to Next: an operator that keeps
// rows must copy them (coldata.Compact). Errors are raised with Throw and caught
// by the runner with Catch, which keeps `if err != nil` out of the hot loops.
// Close releases resources (spill files, hash tables) and closes the inputs.
type Operator interface {
	Init(ctx context.Context)
	Next() *coldata.Batch
	Close() error
}

// Throw aborts the current pipeline with err (see colexecerror).
func Throw(err error) { colexecerror.Throw(err) }

// Throwf aborts the current pipeline with a formatted error.
func Throwf(format string, args ...any) { Throw(fmt.Errorf(format, args...)) }

// ErrInternal wraps panics that were not raised by Throw.
var ErrInternal = colexecerror.ErrInternal

// Catch runs f and turns a panic raised inside it (by Throw here or by an
// expression's evaluation) into an error; other panics are ErrInternal.
func Catch(f func()) error { return colexecerror.Catch(f) }

// CheckCtx throws the context's error if it is done.
func CheckCtx(ctx context.Context) {
	if err := ctx.Err(); err != nil {
		Throw(err)
	}
}

// Drain runs op to completion and returns owned copies of its batches.
func Drain(ctx context.Context, op Operator) []*coldata.Batch {
	var out []*coldata.Batch
	for {
		CheckCtx(ctx)
		b := op.Next()
		if b.Len() == 0 {
			return out
		}
		out = append(out, coldata.Compact(b))
	}
}

// Filter passes on the rows of its input for which a predicate holds.
type Filter struct {
	Input  Operator
	Pred   *expr.Expr
	Schema types.Schema
	sel    eval.Selector
}

// Init implements Operator.
func (f *Filter) Init(ctx context.Context) {
	f.Input.Init(ctx)
	s, err := eval.CompileFilter(f.Pred, f.Schema)
	if err != nil {
		Throw(err)
	}
	f.sel = s
}

// Next implements Operator.
func (f *Filter) Next() *coldata.Batch {
	for {
		b := f.Input.Next()
		if b.Len() == 0 {
			return b
		}
		s := f.sel.Select(b, b.Sel)
		if len(s) == 0 {
			continue
		}
		return &coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: s}
	}
}

// Close implements Operator.
func (f *Filter) Close() error { return f.Input.Close() }

// Project computes one expression per output column.
type Project struct {
	Input  Operator
	Exprs  []*expr.Expr
	Schema types.Schema // input schema
	evals  []eval.Evaluator
	out    coldata.Batch
}

// Init implements Operator.
func (p *Project) Init(ctx context.Context) {
	p.Input.Init(ctx)
	p.evals = make([]eval.Evaluator, len(p.Exprs))
	for i, e := range p.Exprs {
		ev, err := eval.Compile(e, p.Schema)
		if err != nil {
			Throw(err)
		}
		p.evals[i] = ev
	}
	p.out.Vecs = make([]*coldata.Vec, len(p.Exprs))
}

// Next implements Operator.
func (p *Project) Next() *coldata.Batch {
	b := p.Input.Next()
	if b.Len() == 0 {
		return b
	}
	out := &coldata.Batch{N: b.N, Sel: b.Sel, Vecs: make([]*coldata.Vec, len(p.evals))}
	for i, ev := range p.evals {
		v := ev.Eval(b)
		if v.Const {
			v = coldata.Gather(v, make([]int32, b.N))
		}
		out.Vecs[i] = v
	}
	return out
}

// Close implements Operator.
func (p *Project) Close() error { return p.Input.Close() }

// Limit passes on the first N live rows after skipping Offset.
type Limit struct {
	Input  Operator
	N      int64
	Offset int64
	seen   int64
}

// Init implements Operator.
func (l *Limit) Init(ctx context.Context) { l.Input.Init(ctx) }

// Next implements Operator.
func (l *Limit) Next() *coldata.Batch {
	for {
		if l.seen >= l.Offset+l.N {
			return &coldata.Batch{}
		}
		b := l.Input.Next()
		n := int64(b.Len())
		if n == 0 {
			return b
		}
		start, end := l.seen, l.seen+n
		l.seen = end
		lo := max(l.Offset-start, 0)
		hi := min(l.Offset+l.N-start, n)
		if lo >= hi {
			continue
		}
		if lo == 0 && hi == n {
			return b
		}
		sel := b.Sel
		if sel == nil {
			sel = coldata.Iota(b.N)
		}
		return &coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: sel[lo:hi]}
	}
}

// Close implements Operator.
func (l *Limit) Close() error { return l.Input.Close() }

// Batches replays owned batches, optionally sliced to a maximum batch size.
type Batches struct {
	Data      []*coldata.Batch
	BatchSize int
	i, off    int
}

// Init implements Operator.
func (s *Batches) Init(context.Context) {}

// Next implements Operator.
func (s *Batches) Next() *coldata.Batch {
	for s.i < len(s.Data) {
		b := s.Data[s.i]
		if b.Sel != nil || s.BatchSize <= 0 || b.N <= s.BatchSize {
			s.i++
			if b.Len() == 0 {
				continue
			}
			return b
		}
		lo := s.off
		hi := min(lo+s.BatchSize, b.N)
		s.off = hi
		if hi >= b.N {
			s.i++
			s.off = 0
		}
		out := &coldata.Batch{N: hi - lo, Vecs: make([]*coldata.Vec, len(b.Vecs))}
		for c, v := range b.Vecs {
			out.Vecs[c] = v.Slice(lo, hi)
		}
		return out
	}
	return &coldata.Batch{}
}

// Close implements Operator.
func (s *Batches) Close() error { return nil }

// Func adapts a function to an Operator (used by sources and tests).
type Func struct {
	OnInit  func(ctx context.Context)
	OnNext  func() *coldata.Batch
	OnClose func() error
}

// Init implements Operator.
func (f *Func) Init(ctx context.Context) {
	if f.OnInit != nil {
		f.OnInit(ctx)
	}
}

// Next implements Operator.
func (f *Func) Next() *coldata.Batch { return f.OnNext() }

// Close implements Operator.
func (f *Func) Close() error {
	if f.OnClose != nil {
		return f.OnClose()
	}
	return nil
}

// Concat passes on every batch of each input in turn (UNION ALL).
type Concat struct {
	Inputs []Operator
	cur    int
}

// Init implements Operator.
func (c *Concat) Init(ctx context.Context) {
	for _, in := range c.Inputs {
		in.Init(ctx)
	}
}

// Next implements Operator.
func (c *Concat) Next() *coldata.Batch {
	for c.cur < len(c.Inputs) {
		if b := c.Inputs[c.cur].Next(); b.Len() > 0 {
			return b
		}
		c.cur++
	}
	return &coldata.Batch{}
}

// Close implements Operator.
func (c *Concat) Close() error {
	var err error
	for _, in := range c.Inputs {
		err = errors.Join(err, in.Close())
	}
	return err
}

// ErrMoreThanOneRow is the error of a scalar subquery that returned more
// than one row.
var ErrMoreThanOneRow = errors.New("more than one row returned by a subquery used as an expression")

// SingleRow passes on its input's rows and fails with ErrMoreThanOneRow
// past the first.
type SingleRow struct {
	Input Operator
	seen  int
}

// Init implements Operator.
func (s *SingleRow) Init(ctx context.Context) { s.Input.Init(ctx) }

// Next implements Operator.
func (s *SingleRow) Next() *coldata.Batch {
	b := s.Input.Next()
	s.seen += b.Len()
	if s.seen > 1 {
		Throw(ErrMoreThanOneRow)
	}
	return b
}

// Close implements Operator.
func (s *SingleRow) Close() error { return s.Input.Close() }
