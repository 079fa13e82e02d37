package eval

import (
	"bytes"
	"fmt"

	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// compileFunc builds the scalar functions OpIntDiv…OpExtract.
func compileFunc(e *expr.Expr, s types.Schema, args []Evaluator) (Evaluator, error) {
	switch e.Op {
	case expr.OpIntDiv:
		if e.T.ID == types.Float64 {
			return newDivEval(e, args, true), nil
		}
		return &intDivModEval{a: args[0], b: args[1]}, nil
	case expr.OpMod:
		if e.T.ID != types.Float64 {
			return &intDivModEval{mod: true, a: args[0], b: args[1]}, nil
		}
		return compileMath(e, args), nil
	case expr.OpAbs, expr.OpRound, expr.OpCeil, expr.OpFloor, expr.OpSign, expr.OpSqrt,
		expr.OpPower, expr.OpLn, expr.OpLog10, expr.OpExp:
		return compileMath(e, args), nil
	case expr.OpConcat, expr.OpConcatFn, expr.OpUpper, expr.OpLower, expr.OpLength, expr.OpTrim,
		expr.OpLTrim, expr.OpRTrim, expr.OpReplace, expr.OpStrpos, expr.OpLeft, expr.OpRight,
		expr.OpStartsWith, expr.OpLPad, expr.OpRPad, expr.OpRepeat, expr.OpReverse, expr.OpSplitPart, expr.OpConcatWs,
		expr.OpMD5:
		return compileString(e, args), nil
	case expr.OpRegexLike, expr.OpRegexReplace:
		return compileRegex(e, args)
	case expr.OpILike, expr.OpNotILike:
		return compileSelBool(e, s, args)
	case expr.OpCoalesce:
		// CASE WHEN a1 IS NOT NULL THEN a1 … ELSE an END: each argument is
		// evaluated only on the rows the ones before left null.
		c := &caseEval{t: e.T}
		n := len(e.Args)
		for k, a := range e.Args[:n-1] {
			cond, err := compileSelector(&expr.Expr{Op: expr.OpIsNotNull, Args: []*expr.Expr{a}, T: types.BoolType}, s)
			if err != nil {
				return nil, err
			}
			c.conds = append(c.conds, cond)
			c.vals = append(c.vals, args[k])
		}
		c.els = args[n-1]
		return c, nil
	case expr.OpNullIf:
		// CASE WHEN a = b THEN NULL ELSE a END.
		cond, err := compileSelector(&expr.Expr{Op: expr.OpEq, Args: e.Args, T: types.BoolType}, s)
		if err != nil {
			return nil, err
		}
		null := &constEval{v: ConstVec(expr.Value{T: e.T, Null: true})}
		return &caseEval{t: e.T, conds: []Selector{cond}, vals: []Evaluator{null}, els: args[0]}, nil
	case expr.OpGreatest, expr.OpLeast:
		return compileGreatest(e, args), nil
	case expr.OpExtract:
		f, err := extractField(e.Name)
		if err != nil {
			return nil, err
		}
		return newRowEval(e.T, true, args, func(r *rowCtx, i int) { r.out.I32[i] = f(r.i32(0, i)) }), nil
	}
	return nil, fmt.Errorf("no evaluator for %s", e)
}

// compileGreatest: the largest (smallest) non-null argument, null when all are.
func compileGreatest(e *expr.Expr, args []Evaluator) Evaluator {
	want := 1
	if e.Op == expr.OpLeast {
		want = -1
	}
	t := e.T
	return newRowEval(t, false, args, func(r *rowCtx, i int) {
		best := -1
		for k := range r.in {
			if r.null(k, i) {
				continue
			}
			if best < 0 || compareRows(t, r, k, best, i) == want {
				best = k
			}
		}
		if best < 0 {
			r.setNull(i)
			return
		}
		switch t.ID {
		case types.Bool:
			r.out.Bool[i] = r.bool(best, i)
		case types.Int32, types.Date:
			r.out.I32[i] = r.i32(best, i)
		case types.Int64, types.Decimal:
			r.out.I64[i] = r.i64(best, i)
		case types.Float64:
			r.out.F64[i] = r.f64(best, i)
		case types.String:
			r.appendStr(r.str(best, i))
		}
	})
}

// compareRows compares row i of arguments a and b (-1, 0, 1). Floats order
// NaN above every number, as PostgreSQL does.
func compareRows(t types.Type, r *rowCtx, a, b, i int) int {
	switch t.ID {
	case types.Bool:
		return cmp3(b2i(r.bool(a, i)), b2i(r.bool(b, i)))
	case types.Int32, types.Date:
		return cmp3(r.i32(a, i), r.i32(b, i))
	case types.Int64, types.Decimal:
		return cmp3(r.i64(a, i), r.i64(b, i))
	case types.Float64:
		x, y := r.f64(a, i), r.f64(b, i)
		switch {
		case x != x || y != y: // NaN
			return cmp3(b2i(x != x), b2i(y != y))
		}
		return cmp3(x, y)
	case types.String:
		return bytes.Compare(r.str(a, i), r.str(b, i))
	}
	panic(fmt.Sprintf("comparison on %s", t))
}

func cmp3[T int32 | int64 | float64](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// extractField returns the function computing a date field from days since
// the epoch.
func extractField(name string) (func(int32) int32, error) {
	switch name {
	case "year":
		return yearOf, nil
	case "month":
		return func(d int32) int32 { _, m, _ := expr.CivilFromDays(d); return int32(m) }, nil
	case "day":
		return func(d int32) int32 { _, _, dd := expr.CivilFromDays(d); return int32(dd) }, nil
	case "quarter":
		return func(d int32) int32 { _, m, _ := expr.CivilFromDays(d); return int32((m-1)/3 + 1) }, nil
	case "dow":
		return dayOfWeek, nil
	case "isodow":
		return func(d int32) int32 {
			if w := dayOfWeek(d); w != 0 {
				return w
			}
			return 7
		}, nil
	case "doy":
		return func(d int32) int32 {
			y, _, _ := expr.CivilFromDays(d)
			return d - expr.DaysFromCivil(y, 1, 1) + 1
		}, nil
	case "week":
		return isoWeek, nil
	}
	return nil, fmt.Errorf("extract: unknown field %q", name)
}

// dayOfWeek is 0 for Sunday … 6 for Saturday (1970-01-01 was a Thursday).
func dayOfWeek(d int32) int32 {
	w := (d + 4) % 7
	if w < 0 {
		w += 7
	}
	return w
}

// isoWeek is the ISO 8601 week number: weeks start on Monday and week 1 holds
// the year's first Thursday.
func isoWeek(d int32) int32 {
	iso := (dayOfWeek(d)+6)%7 + 1 // Monday 1 … Sunday 7
	thursday := d - iso + 4
	y, _, _ := expr.CivilFromDays(thursday)
	return (thursday-expr.DaysFromCivil(y, 1, 1))/7 + 1
}

// compileDateArith builds date + integer, integer + date, date - integer and
// date - date.
func compileDateArith(e *expr.Expr, args []Evaluator) Evaluator {
	a, b := e.Args[0].T, e.Args[1].T
	switch {
	case a.ID == types.Date && b.ID == types.Date:
		return newRowEval(e.T, true, args, func(r *rowCtx, i int) { r.out.I64[i] = int64(r.i32(0, i)) - int64(r.i32(1, i)) })
	case a.ID == types.Date && e.Op == expr.OpSub:
		return newRowEval(e.T, true, args, func(r *rowCtx, i int) { r.out.I32[i] = addDays(r.i32(0, i), -r.i64(1, i)) })
	case a.ID == types.Date:
		return newRowEval(e.T, true, args, func(r *rowCtx, i int) { r.out.I32[i] = addDays(r.i32(0, i), r.i64(1, i)) })
	}
	return newRowEval(e.T, true, args, func(r *rowCtx, i int) { r.out.I32[i] = addDays(r.i32(1, i), r.i64(0, i)) })
}

// addDays raises "date out of range" beyond the int32 day count.
func addDays(d int32, n int64) int32 {
	v := int64(d) + n
	if v != int64(int32(v)) {
		raise(expr.ErrOutOfRange, "date out of range")
	}
	return int32(v)
}
