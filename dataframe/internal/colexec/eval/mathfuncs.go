package eval

import (
	"math"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// intDivModEval is SQL's integer "/" (truncating toward zero) and "%" (the
// remainder takes the dividend's sign) on int64s and same-scale decimals.
// The loop only notes a zero divisor or MinInt64 / -1; the rows are then
// looked at again to raise for the first one whose operands are not null.
type intDivModEval struct {
	mod   bool
	a, b  Evaluator
	out   outBuf
	nulls []bool
}

func (e *intDivModEval) Eval(b *coldata.Batch) *coldata.Vec {
	x, y := e.a.Eval(b), e.b.Eval(b)
	n := b.N
	if x.Const && y.Const {
		n = 1
	}
	s := sel(b, n)
	out := e.out.get(x.Type, n)
	mergeNulls(out, &e.nulls, n, s, x, y)
	out.Const = x.Const && y.Const
	xs, ys := x.I64, y.I64
	bad := false
	op := func(i, xi, yi int) {
		a, d := xs[xi], ys[yi]
		switch {
		case d == 0:
			bad = true
			out.I64[i] = 0
		case d == -1:
			// MinInt64 / -1 overflows; MinInt64 % -1 is 0.
			bad = bad || !e.mod && a == math.MinInt64
			if e.mod {
				out.I64[i] = 0
			} else {
				out.I64[i] = -a
			}
		case e.mod:
			out.I64[i] = a % d
		default:
			out.I64[i] = a / d
		}
	}
	switch {
	case !x.Const && !y.Const:
		coldata.ForEach(n, s, func(i int) { op(i, i, i) })
	case y.Const:
		coldata.ForEach(n, s, func(i int) { op(i, i, 0) })
	default:
		coldata.ForEach(n, s, func(i int) { op(i, 0, i) })
	}
	if bad {
		coldata.ForEach(n, s, func(i int) {
			if out.Nulls != nil && out.Nulls[i] {
				return
			}
			a, d := ValueAt(x, i).I, ValueAt(y, i).I
			if d == 0 {
				raise(expr.ErrDivisionByZero, "division by zero")
			}
			if !e.mod && d == -1 && a == math.MinInt64 {
				raise(expr.ErrOutOfRange, "bigint out of range")
			}
		})
	}
	return out
}

// compileMath builds the numeric functions (OpMod on floats, OpAbs…OpExp).
func compileMath(e *expr.Expr, args []Evaluator) Evaluator {
	t := e.Args[0].T
	unaryF := func(f func(float64) float64) Evaluator {
		return newRowEval(e.T, true, args, func(r *rowCtx, i int) { r.out.F64[i] = f(r.f64(0, i)) })
	}
	unaryI := func(f func(int64) int64) Evaluator {
		return newRowEval(e.T, true, args, func(r *rowCtx, i int) { r.out.I64[i] = f(r.i64(0, i)) })
	}
	switch e.Op {
	case expr.OpMod:
		return newRowEval(e.T, true, args, func(r *rowCtx, i int) {
			d := r.f64(1, i)
			if d == 0 {
				raise(expr.ErrDivisionByZero, "division by zero")
			}
			r.out.F64[i] = math.Mod(r.f64(0, i), d)
		})
	case expr.OpAbs:
		if t.ID == types.Float64 {
			return unaryF(math.Abs)
		}
		return unaryI(func(v int64) int64 {
			if v == math.MinInt64 {
				raise(expr.ErrOutOfRange, "bigint out of range")
			}
			if v < 0 {
				return -v
			}
			return v
		})
	case expr.OpCeil, expr.OpFloor:
		ceil := e.Op == expr.OpCeil
		switch t.ID {
		case types.Float64:
			if ceil {
				return unaryF(math.Ceil)
			}
			return unaryF(math.Floor)
		case types.Decimal:
			p := types.Pow10[t.Scale]
			return unaryI(func(v int64) int64 {
				q, rem := v/p, v%p
				if ceil && rem > 0 {
					q++
				} else if !ceil && rem < 0 {
					q--
				}
				return q
			})
		}
		return args[0] // integers are whole already
	case expr.OpSign:
		if t.ID == types.Float64 {
			return unaryF(func(v float64) float64 {
				switch {
				case v > 0:
					return 1
				case v < 0:
					return -1
				}
				return v // 0, -0 and NaN
			})
		}
		return unaryI(func(v int64) int64 {
			switch {
			case v > 0:
				return 1
			case v < 0:
				return -1
			}
			return 0
		})
	case expr.OpRound:
		return compileRound(e, args)
	case expr.OpSqrt:
		return unaryF(func(v float64) float64 {
			if v < 0 {
				raise(expr.ErrInvalidArgument, "cannot take square root of a negative number")
			}
			return math.Sqrt(v)
		})
	case expr.OpLn, expr.OpLog10:
		log := math.Log
		if e.Op == expr.OpLog10 {
			log = math.Log10
		}
		return unaryF(func(v float64) float64 {
			if v == 0 {
				raise(expr.ErrInvalidArgument, "cannot take logarithm of zero")
			}
			if v < 0 {
				raise(expr.ErrInvalidArgument, "cannot take logarithm of a negative number")
			}
			return log(v)
		})
	case expr.OpExp:
		return unaryF(func(v float64) float64 {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return math.Max(math.Exp(v), 0)
			}
			return checkFloat(math.Exp(v), true)
		})
	case expr.OpPower:
		return newRowEval(e.T, true, args, func(r *rowCtx, i int) {
			x, y := r.f64(0, i), r.f64(1, i)
			if x == 0 && y < 0 {
				raise(expr.ErrInvalidArgument, "zero raised to a negative power is undefined")
			}
			if x < 0 && y != math.Trunc(y) && !math.IsInf(y, 0) {
				raise(expr.ErrInvalidArgument, "a negative number raised to a non-integer power yields a complex result")
			}
			v := math.Pow(x, y)
			if !math.IsInf(x, 0) && !math.IsInf(y, 0) && !math.IsNaN(x) && !math.IsNaN(y) {
				v = checkFloat(v, x != 0)
			}
			r.out.F64[i] = v
		})
	}
	return nil
}

// checkFloat raises PostgreSQL's overflow error for an infinite result of
// finite operands, and its underflow error for a zero one when zero was not
// an allowed result.
func checkFloat(v float64, nonzero bool) float64 {
	if math.IsInf(v, 0) {
		raise(expr.ErrOutOfRange, "value out of range: overflow")
	}
	if v == 0 && nonzero {
		raise(expr.ErrOutOfRange, "value out of range: underflow")
	}
	return v
}

// compileRound: floats round half to even (PostgreSQL's round(double
// precision) uses rint) or, with a number of places, half away from zero as
// numeric does; decimals round half away from zero to the result's scale.
func compileRound(e *expr.Expr, args []Evaluator) Evaluator {
	x := e.Args[0].T
	places := int64(0)
	if len(e.Args) > 1 {
		places = e.Args[1].Val.I
		args = args[:1]
	}
	if x.ID == types.Float64 {
		if len(e.Args) == 1 {
			return newRowEval(e.T, true, args, func(r *rowCtx, i int) { r.out.F64[i] = math.RoundToEven(r.f64(0, i)) })
		}
		p := math.Pow(10, float64(places))
		return newRowEval(e.T, true, args, func(r *rowCtx, i int) {
			v := r.f64(0, i)
			if rv := math.Round(v*p) / p; !math.IsInf(rv, 0) && !math.IsNaN(rv) {
				v = rv
			}
			r.out.F64[i] = v
		})
	}
	if x.ID != types.Decimal {
		return args[0] // round(integer)
	}
	s, rs := int64(x.Scale), int64(e.T.Scale)
	return newRowEval(e.T, true, args, func(r *rowCtx, i int) {
		v := r.i64(0, i)
		if places >= s {
			r.out.I64[i] = mulChecked(v, rs-s)
			return
		}
		if s-places > 18 {
			r.out.I64[i] = 0
			return
		}
		q := roundDiv(v, types.Pow10[s-places])
		// q counts units of 10^-places; the result's scale is max(places, 0).
		r.out.I64[i] = mulChecked(q, rs-places)
	})
}

// mulChecked is v * 10^k, raising numeric overflow when it does not fit.
func mulChecked(v, k int64) int64 {
	if k == 0 || v == 0 {
		return v
	}
	if k > 18 {
		numericOverflow()
	}
	p := types.Pow10[k]
	if v > math.MaxInt64/p || v < math.MinInt64/p {
		numericOverflow()
	}
	return v * p
}
