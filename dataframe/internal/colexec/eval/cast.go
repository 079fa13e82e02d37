package eval

import (
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecerror"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// compileCast picks the evaluator for a conversion. Numeric conversions are
// typed loops; conversions to and from text go row by row.
func compileCast(from, to types.Type, a Evaluator) Evaluator {
	switch {
	case to.ID == types.String && from.ID != types.String:
		return newRowEval(to, true, []Evaluator{a}, func(r *rowCtx, i int) {
			r.out.Str.Data = appendText(r.out.Str.Data, r.in[0], i)
		})
	case from.ID == types.String && to.ID != types.String:
		return newRowEval(to, true, []Evaluator{a}, func(r *rowCtx, i int) {
			b := r.str(0, i)
			v, err := expr.ParseText(unsafe.String(unsafe.SliceData(b), len(b)), to)
			if err != nil {
				colexecerror.Throw(err)
			}
			setValue(r.out, i, v)
		})
	}
	return &castEval{from: from, to: to, a: a}
}

// appendText appends the text form of row i of v (expr.FormatText).
func appendText(dst []byte, v *coldata.Vec, i int) []byte {
	j := i
	if v.Const {
		j = 0
	}
	switch v.Type.ID {
	case types.Int32:
		return strconv.AppendInt(dst, int64(v.I32[j]), 10)
	case types.Int64:
		return strconv.AppendInt(dst, v.I64[j], 10)
	case types.Bool:
		return strconv.AppendBool(dst, v.Bool[j])
	case types.String:
		return append(dst, v.Bytes(i)...)
	}
	return append(dst, expr.FormatText(ValueAt(v, i))...)
}

// setValue writes a non-null scalar to row i.
func setValue(out *coldata.Vec, i int, v expr.Value) {
	switch out.Type.ID {
	case types.Bool:
		out.Bool[i] = v.B
	case types.Int32, types.Date:
		out.I32[i] = int32(v.I)
	case types.Int64, types.Decimal:
		out.I64[i] = v.I
	case types.Float64:
		out.F64[i] = v.F
	case types.String:
		out.Str.Data = append(out.Str.Data, v.S...)
	}
}

// castEval converts between numbers, and between booleans and integers.
// Conversions that can overflow check every live, non-null row and raise
// ErrOutOfRange with PostgreSQL's message.
type castEval struct {
	from, to types.Type
	a        Evaluator
	out      outBuf
}

func (e *castEval) Eval(b *coldata.Batch) *coldata.Vec {
	x := e.a.Eval(b)
	n := b.N
	if x.Const {
		n = 1
	}
	s := sel(b, n)
	out := e.out.get(e.to, n)
	out.Nulls = x.Nulls
	out.Const = x.Const
	f, t := e.from, e.to
	nl := x.Nulls
	if x.Const {
		nl = nil // a null constant's value is never looked at
		if x.IsNull(0) {
			return out
		}
	}
	switch {
	case f == t:
		return x
	case t.ID == types.Int64 && f.ID == types.Int32:
		convert(out.I64, x.I32, s, n, func(v int32) int64 { return int64(v) })
	case t.ID == types.Int32 && f.ID == types.Int64:
		convertChecked(out.I32, x.I64, nl, s, n, func(v int64) (int32, bool) {
			return int32(v), v >= math.MinInt32 && v <= math.MaxInt32
		}, outOfRange(t))
	case t.ID == types.Float64 && f.ID == types.Int32:
		convert(out.F64, x.I32, s, n, func(v int32) float64 { return float64(v) })
	case t.ID == types.Float64 && f.ID == types.Int64:
		convert(out.F64, x.I64, s, n, func(v int64) float64 { return float64(v) })
	case t.ID == types.Float64 && f.ID == types.Decimal:
		p := float64(types.Pow10[f.Scale])
		convert(out.F64, x.I64, s, n, func(v int64) float64 { return float64(v) / p })
	case t.ID == types.Decimal && f.ID == types.Int32:
		p := types.Pow10[t.Scale]
		convert(out.I64, x.I32, s, n, func(v int32) int64 { return int64(v) * p })
	case t.ID == types.Decimal && f.ID == types.Int64:
		p := types.Pow10[t.Scale]
		convertChecked(out.I64, x.I64, nl, s, n, func(v int64) (int64, bool) {
			return v * p, v <= math.MaxInt64/p && v >= math.MinInt64/p
		}, numericOverflow)
	case t.ID == types.Decimal && f.ID == types.Decimal:
		if t.Scale >= f.Scale {
			p := types.Pow10[t.Scale-f.Scale]
			convertChecked(out.I64, x.I64, nl, s, n, func(v int64) (int64, bool) {
				return v * p, v <= math.MaxInt64/p && v >= math.MinInt64/p
			}, numericOverflow)
		} else {
			p := types.Pow10[f.Scale-t.Scale]
			convert(out.I64, x.I64, s, n, func(v int64) int64 { return roundDiv(v, p) })
		}
	case t.ID == types.Decimal && f.ID == types.Float64:
		p := float64(types.Pow10[t.Scale])
		convertChecked(out.I64, x.F64, nl, s, n, func(v float64) (int64, bool) {
			r := math.Round(v * p)
			return int64(r), r >= -9.2e18 && r <= 9.2e18
		}, numericOverflow)
	case t.IsInteger() && f.ID == types.Float64:
		// PostgreSQL rounds with rint: half to even.
		lo, hi := float64(math.MinInt64), float64(math.MaxInt64)
		if t.ID == types.Int32 {
			lo, hi = math.MinInt32, math.MaxInt32
		}
		conv := func(v float64) (int64, bool) {
			r := math.RoundToEven(v)
			return int64(r), r >= lo && r < hi+1 // NaN fails both
		}
		if t.ID == types.Int64 {
			convertChecked(out.I64, x.F64, nl, s, n, conv, outOfRange(t))
		} else {
			convertChecked(out.I32, x.F64, nl, s, n, func(v float64) (int32, bool) {
				r, ok := conv(v)
				return int32(r), ok
			}, outOfRange(t))
		}
	case t.IsInteger() && f.ID == types.Decimal:
		// Half away from zero, as numeric rounds.
		p := types.Pow10[f.Scale]
		if t.ID == types.Int64 {
			convert(out.I64, x.I64, s, n, func(v int64) int64 { return roundDiv(v, p) })
		} else {
			convertChecked(out.I32, x.I64, nl, s, n, func(v int64) (int32, bool) {
				r := roundDiv(v, p)
				return int32(r), r >= math.MinInt32 && r <= math.MaxInt32
			}, outOfRange(t))
		}
	case t.ID == types.Bool && f.ID == types.Int32:
		convert(out.Bool, x.I32, s, n, func(v int32) bool { return v != 0 })
	case t.ID == types.Bool && f.ID == types.Int64:
		convert(out.Bool, x.I64, s, n, func(v int64) bool { return v != 0 })
	case t.ID == types.Int32 && f.ID == types.Bool:
		convert(out.I32, x.Bool, s, n, func(v bool) int32 { return int32(b2i(v)) })
	case t.ID == types.Int64 && f.ID == types.Bool:
		convert(out.I64, x.Bool, s, n, func(v bool) int64 { return b2i(v) })
	default:
		panic(fmt.Sprintf("cast from %s to %s", f, t))
	}
	return out
}

func b2i(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

func outOfRange(t types.Type) func() {
	name := "bigint"
	if t.ID == types.Int32 {
		name = "integer"
	}
	return func() { raise(expr.ErrOutOfRange, "%s out of range", name) }
}

func numericOverflow() { raise(expr.ErrOutOfRange, "numeric field overflow") }

// roundDiv is v / p rounded half away from zero.
func roundDiv(v, p int64) int64 {
	q, r := v/p, v%p
	if 2*r >= p {
		q++
	} else if 2*r <= -p {
		q--
	}
	return q
}

func convert[F, T any](out []T, in []F, sel []int32, n int, f func(F) T) {
	if sel == nil {
		in = in[:n]
		for i, v := range in {
			out[i] = f(v)
		}
		return
	}
	for _, i := range sel {
		out[i] = f(in[i])
	}
}

// convertChecked is convert for conversions that can fail: the loop only
// notes a failure; fail runs (and raises) if one was at a non-null row.
func convertChecked[F, T any](out []T, in []F, nulls []bool, sel []int32, n int, f func(F) (T, bool), fail func()) {
	bad := false
	if sel == nil {
		in = in[:n]
		for i, v := range in {
			var ok bool
			out[i], ok = f(v)
			bad = bad || !ok
		}
	} else {
		for _, i := range sel {
			var ok bool
			out[i], ok = f(in[i])
			bad = bad || !ok
		}
	}
	if !bad {
		return
	}
	coldata.ForEach(n, sel, func(i int) {
		if _, ok := f(in[i]); !ok && (nulls == nil || !nulls[i]) {
			fail()
		}
	})
}
