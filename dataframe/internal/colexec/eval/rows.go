package eval

import (
	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecerror"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// raise aborts evaluation with err; the pipeline's colexecerror.Catch returns
// it. Kernels call it only for live rows whose operands are not null.
func raise(kind error, format string, args ...any) {
	colexecerror.Throw(expr.Errorf(kind, format, args...))
}

// rowFn computes row i of a function's result from r.in into r.out.
type rowFn func(r *rowCtx, i int)

// rowEval evaluates a scalar function row by row: the arguments are evaluated
// as vecs, then fn runs once per live row. It serves the functions whose cost
// is in the per-value work (strings, math library calls, parsing) rather than
// in the loop, so one loop shape serves them all. When strict, a row with a
// null argument is null and fn does not see it.
type rowEval struct {
	t      types.Type
	strict bool
	args   []Evaluator
	fn     rowFn
	ctx    rowCtx
	out    outBuf
	nulls  []bool
}

// rowCtx is what fn reads its arguments from and writes its result to.
type rowCtx struct {
	in    []*coldata.Vec
	out   *coldata.Vec
	nulls *[]bool
	n     int
	buf   []byte // scratch for string functions
}

func newRowEval(t types.Type, strict bool, args []Evaluator, fn rowFn) *rowEval {
	return &rowEval{t: t, strict: strict, args: args, fn: fn}
}

func (e *rowEval) Eval(b *coldata.Batch) *coldata.Vec {
	in := e.ctx.in[:0]
	allConst := len(e.args) > 0
	for _, a := range e.args {
		v := a.Eval(b)
		in = append(in, v)
		allConst = allConst && v.Const
	}
	n := b.N
	if allConst {
		n = 1
	}
	s := sel(b, n)
	out := e.out.get(e.t, n)
	if e.strict {
		mergeNulls(out, &e.nulls, n, s, in...)
	}
	r := &e.ctx
	r.in, r.out, r.nulls, r.n = in, out, &e.nulls, n
	nulls := out.Nulls
	if e.t.ID == types.String {
		out.Str.Data = out.Str.Data[:0]
		if cap(out.Str.Offs) < n+1 {
			out.Str.Offs = make([]int32, n+1)
		}
		out.Str.Offs = out.Str.Offs[:n+1]
		out.Str.Offs[0] = 0
		k := 0
		for i := 0; i < n; i++ {
			live := s == nil || k < len(s) && int(s[k]) == i
			if live && s != nil {
				k++
			}
			if live && (nulls == nil || !nulls[i]) {
				e.fn(r, i)
			}
			out.Str.Offs[i+1] = int32(len(out.Str.Data))
		}
	} else if nulls == nil {
		coldata.ForEach(n, s, func(i int) { e.fn(r, i) })
	} else {
		coldata.ForEach(n, s, func(i int) {
			if !nulls[i] {
				e.fn(r, i)
			}
		})
	}
	out.Const = allConst
	return out
}

// setNull makes row i of the result null.
func (r *rowCtx) setNull(i int) {
	if r.out.Nulls == nil {
		if cap(*r.nulls) < r.n {
			*r.nulls = make([]bool, r.n)
		}
		r.out.Nulls = (*r.nulls)[:r.n]
		clear(r.out.Nulls)
	}
	r.out.Nulls[i] = true
}

func (r *rowCtx) null(k, i int) bool { return r.in[k].IsNull(i) }

func (r *rowCtx) i64(k, i int) int64   { return at(r.in[k], r.in[k].I64, i) }
func (r *rowCtx) i32(k, i int) int32   { return at(r.in[k], r.in[k].I32, i) }
func (r *rowCtx) f64(k, i int) float64 { return at(r.in[k], r.in[k].F64, i) }
func (r *rowCtx) bool(k, i int) bool   { return at(r.in[k], r.in[k].Bool, i) }

// at reads row i of v's values s (row 0 of a Const vec).
func at[T any](v *coldata.Vec, s []T, i int) T {
	if v.Const {
		i = 0
	}
	return s[i]
}

func (r *rowCtx) str(k, i int) []byte { return r.in[k].Bytes(i) }

// appendStr adds to the string result of the current row.
func (r *rowCtx) appendStr(b []byte) { r.out.Str.Data = append(r.out.Str.Data, b...) }
