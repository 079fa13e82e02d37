package eval

//go:generate go run ./gen

import (
	"fmt"
	"math"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

type arithOp uint8

const (
	arithAdd arithOp = iota
	arithSub
	arithMul
)

type cmpOp uint8

const (
	cmpEq cmpOp = iota
	cmpNe
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

func toCmp(op expr.Op) cmpOp {
	return cmpOp(op - expr.OpEq)
}

// mirror returns the operator with swapped operands (a < b == b > a).
func (o cmpOp) mirror() cmpOp {
	switch o {
	case cmpLt:
		return cmpGt
	case cmpLe:
		return cmpGe
	case cmpGt:
		return cmpLt
	case cmpGe:
		return cmpLe
	}
	return o
}

// Evaluator computes an expression over a batch. The returned vec has the
// batch's physical length (or is Const) and is valid at the batch's live rows
// until the next call.
type Evaluator interface {
	Eval(b *coldata.Batch) *coldata.Vec
}

// Compile builds an evaluator for a resolved expression over input schema s.
func Compile(e *expr.Expr, s types.Schema) (ev Evaluator, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("compiling %s: %v", e, r)
		}
	}()
	return compile(e, s)
}

func compile(e *expr.Expr, s types.Schema) (Evaluator, error) {
	switch e.Op {
	case expr.OpAlias:
		return compile(e.Args[0], s)
	case expr.OpCol:
		i := s.Index(e.Name)
		if i < 0 {
			return nil, &types.ColumnNotFoundError{Name: e.Name, Available: s.Names()}
		}
		return &colEval{idx: i}, nil
	case expr.OpLit:
		return &constEval{v: ConstVec(e.Val)}, nil
	}
	args := make([]Evaluator, len(e.Args))
	for i, a := range e.Args {
		if e.Op == expr.OpCase {
			break
		}
		ev, err := compile(a, s)
		if err != nil {
			return nil, err
		}
		args[i] = ev
	}
	switch e.Op {
	case expr.OpAdd, expr.OpSub, expr.OpMul:
		if e.Args[0].T.ID == types.Date || e.Args[1].T.ID == types.Date {
			return compileDateArith(e, args), nil
		}
		return &arithEval{op: arithOp(e.Op - expr.OpAdd), t: e.T, a: args[0], b: args[1]}, nil
	case expr.OpDiv:
		return newDivEval(e, args, false), nil
	case expr.OpNeg:
		return &negEval{t: e.T, a: args[0]}, nil
	case expr.OpCast:
		return compileCast(e.Args[0].T, e.To, args[0]), nil
	case expr.OpYear:
		return &yearEval{a: args[0]}, nil
	case expr.OpAddMonths, expr.OpAddDays:
		return &dateAddEval{months: e.Op == expr.OpAddMonths, n: e.N1, a: args[0]}, nil
	case expr.OpSubstr:
		if len(e.Args) == 1 {
			return &substrEval{start: e.N1, length: e.N2, a: args[0]}, nil
		}
		return compileString(e, args), nil
	case expr.OpIsNull, expr.OpIsNotNull:
		return &isNullEval{not: e.Op == expr.OpIsNotNull, a: args[0]}, nil
	case expr.OpCase:
		return compileCase(e, s)
	case expr.OpAnd, expr.OpOr:
		return &logicEval{or: e.Op == expr.OpOr, a: args[0], b: args[1]}, nil
	case expr.OpNot:
		return &notEval{a: args[0]}, nil
	case expr.OpEq, expr.OpNe, expr.OpLt, expr.OpLe, expr.OpGt, expr.OpGe:
		switch e.Args[0].T.ID {
		case types.String:
			return compileSelBool(e, s, args)
		case types.Bool:
			op := toCmp(e.Op)
			return newRowEval(types.BoolType, true, args, func(r *rowCtx, i int) {
				r.out.Bool[i] = cmpResult(op, cmp3(b2i(r.bool(0, i)), b2i(r.bool(1, i))))
			}), nil
		}
		return &cmpEval{op: toCmp(e.Op), t: e.Args[0].T, a: args[0], b: args[1]}, nil
	case expr.OpIn, expr.OpLike, expr.OpNotLike:
		return compileSelBool(e, s, args)
	}
	if e.Op >= expr.OpIntDiv && e.Op <= expr.OpExtract {
		return compileFunc(e, s, args)
	}
	if e.Op.IsAgg() {
		return nil, fmt.Errorf("aggregate %s used outside an aggregation", e)
	}
	return nil, fmt.Errorf("no evaluator for %s", e)
}

// ConstVec makes a one-value Const vec.
func ConstVec(v expr.Value) *coldata.Vec {
	out := &coldata.Vec{Type: v.T, Const: true}
	if v.Null {
		out.Nulls = []bool{true}
	}
	switch v.T.ID {
	case types.Bool:
		out.Bool = []bool{v.B}
	case types.Int32, types.Date:
		out.I32 = []int32{int32(v.I)}
	case types.Int64, types.Decimal:
		out.I64 = []int64{v.I}
	case types.Float64:
		out.F64 = []float64{v.F}
	case types.String:
		out.Str.AppendString(v.S)
	}
	return out
}

// ValueAt reads row i of v as a scalar.
func ValueAt(v *coldata.Vec, i int) expr.Value {
	if v.Const {
		i = 0
	}
	out := expr.Value{T: v.Type}
	if v.IsNull(i) {
		out.Null = true
		return out
	}
	switch v.Type.ID {
	case types.Bool:
		out.B = v.Bool[i]
	case types.Int32, types.Date:
		out.I = int64(v.I32[i])
	case types.Int64, types.Decimal:
		out.I = v.I64[i]
	case types.Float64:
		out.F = v.F64[i]
	case types.String:
		out.S = string(v.Bytes(i))
	}
	return out
}

type colEval struct{ idx int }

func (c *colEval) Eval(b *coldata.Batch) *coldata.Vec { return b.Vecs[c.idx] }

type constEval struct{ v *coldata.Vec }

func (c *constEval) Eval(*coldata.Batch) *coldata.Vec { return c.v }

// outBuf is a reusable output vec.
type outBuf struct{ v coldata.Vec }

func (o *outBuf) get(t types.Type, n int) *coldata.Vec {
	v := &o.v
	v.Type = t
	v.Const = false
	v.Nulls = nil
	v.Dict = nil
	switch t.ID {
	case types.Bool:
		if cap(v.Bool) < n {
			v.Bool = make([]bool, n)
		}
		v.Bool = v.Bool[:n]
	case types.Int32, types.Date:
		if cap(v.I32) < n {
			v.I32 = make([]int32, n)
		}
		v.I32 = v.I32[:n]
	case types.Int64, types.Decimal:
		if cap(v.I64) < n {
			v.I64 = make([]int64, n)
		}
		v.I64 = v.I64[:n]
	case types.Float64:
		if cap(v.F64) < n {
			v.F64 = make([]float64, n)
		}
		v.F64 = v.F64[:n]
	}
	return v
}

var nullsPool = struct{}{}

// mergeNulls sets out.Nulls to the union of the inputs' nulls.
func mergeNulls(out *coldata.Vec, buf *[]bool, n int, sel []int32, ins ...*coldata.Vec) {
	any := false
	for _, in := range ins {
		if in.Nulls != nil {
			any = true
		}
	}
	if !any {
		return
	}
	if cap(*buf) < n {
		*buf = make([]bool, n)
	}
	nl := (*buf)[:n]
	first := true
	for _, in := range ins {
		if in.Nulls == nil {
			continue
		}
		if in.Const {
			if in.Nulls[0] {
				for i := range nl {
					nl[i] = true
				}
			} else if first {
				clear(nl)
			}
			first = false
			continue
		}
		if first {
			copy(nl, in.Nulls[:n])
			first = false
			continue
		}
		for i := range nl {
			nl[i] = nl[i] || in.Nulls[i]
		}
	}
	out.Nulls = nl
}

type arithEval struct {
	op    arithOp
	t     types.Type
	a, b  Evaluator
	out   outBuf
	nulls []bool
}

func (e *arithEval) Eval(b *coldata.Batch) *coldata.Vec {
	x, y := e.a.Eval(b), e.b.Eval(b)
	n := b.N
	if x.Const && y.Const {
		n = 1
	}
	out := e.out.get(e.t, n)
	overflow := false
	switch e.t.ID {
	case types.Int64, types.Decimal:
		overflow = arithInt64(e.op, out.I64, x.I64, y.I64, x.Const, y.Const, sel(b, n), n)
	case types.Float64:
		arithFloat64(e.op, out.F64, x.F64, y.F64, x.Const, y.Const, sel(b, n), n)
	default:
		panic(fmt.Sprintf("arithmetic on %s", e.t))
	}
	mergeNulls(out, &e.nulls, n, b.Sel, x, y)
	out.Const = n == 1 && x.Const && y.Const
	if overflow {
		e.checkOverflow(x, y, out, sel(b, n), n)
	}
	return out
}

// checkOverflow raises for the first live, non-null row whose result does
// not fit 64 bits (the kernel said one might not).
func (e *arithEval) checkOverflow(x, y, out *coldata.Vec, s []int32, n int) {
	xm, ym := idxMask(x), idxMask(y)
	coldata.ForEach(n, s, func(i int) {
		if out.Nulls != nil && out.Nulls[i] {
			return
		}
		a, c := x.I64[i&xm], y.I64[i&ym]
		var bad bool
		switch e.op {
		case arithAdd:
			r := a + c
			bad = (a^r)&(c^r) < 0
		case arithSub:
			r := a - c
			bad = (a^c)&(a^r) < 0
		case arithMul:
			bad = mulOverflows(a, c)
		}
		if bad {
			overflowError(e.t)
		}
	})
}

func mulOverflows(a, b int64) bool {
	if a == 0 || b == 0 {
		return false
	}
	if a == -1 || b == -1 {
		return a == math.MinInt64 || b == math.MinInt64
	}
	return (a*b)/b != a
}

// overflowError raises PostgreSQL's message for a result outside t.
func overflowError(t types.Type) {
	if t.ID == types.Decimal {
		raise(expr.ErrOutOfRange, "value overflows numeric format")
	}
	raise(expr.ErrOutOfRange, "bigint out of range")
}

func sel(b *coldata.Batch, n int) []int32 {
	if n == 1 && b.N != 1 {
		return nil
	}
	return b.Sel
}

// divEval divides into a float64. A zero divisor makes the row null (OpDiv),
// or raises (SQL's "/" on non-integers, raise set).
type divEval struct {
	a, b  Evaluator
	exact bool    // operands are scaled int64s
	scale float64 // 10^(scale(b) - scale(a))
	raise bool
	out   outBuf
	nulls []bool
}

func newDivEval(e *expr.Expr, args []Evaluator, raise bool) *divEval {
	d := &divEval{a: args[0], b: args[1], scale: 1, raise: raise}
	if e.Args[0].T.ID != types.Float64 {
		d.exact = true
		d.scale = math.Pow10(int(scaleOf(e.Args[1].T) - scaleOf(e.Args[0].T)))
	}
	return d
}

func scaleOf(t types.Type) int32 {
	if t.ID == types.Decimal {
		return t.Scale
	}
	return 0
}

func (e *divEval) Eval(b *coldata.Batch) *coldata.Vec {
	x, y := e.a.Eval(b), e.b.Eval(b)
	n := b.N
	out := e.out.get(types.Float64Type, n)
	mergeNulls(out, &e.nulls, n, b.Sel, x, y)
	xm, ym := idxMask(x), idxMask(y)
	var zero bool
	if e.exact {
		zero = divide(out.F64, x.I64, y.I64, xm, ym, e.scale, b.Sel, n)
	} else {
		zero = divide(out.F64, x.F64, y.F64, xm, ym, 1, b.Sel, n)
	}
	if !zero {
		return out
	}
	// Rows with a zero divisor: null, or an error unless already null.
	coldata.ForEach(n, b.Sel, func(i int) {
		if ValueAt(y, i).Float() != 0 || out.Nulls != nil && out.Nulls[i] {
			return
		}
		if e.raise {
			raise(expr.ErrDivisionByZero, "division by zero")
		}
		if out.Nulls == nil {
			if cap(e.nulls) < n {
				e.nulls = make([]bool, n)
			}
			out.Nulls = e.nulls[:n]
			clear(out.Nulls)
		}
		out.Nulls[i] = true
	})
	return out
}

// idxMask is ANDed with a row index to read v: 0 for a Const vec (always
// row 0), all ones otherwise.
func idxMask(v *coldata.Vec) int {
	if v.Const {
		return 0
	}
	return -1
}

// divide sets out[i] = a[i] * scale / b[i] at the live rows, skipping zero
// divisors, and reports whether there were any.
func divide[T int64 | float64](out []float64, a, b []T, am, bm int, scale float64, sel []int32, n int) (zero bool) {
	div := func(i int) {
		d, num := float64(b[i&bm]), float64(a[i&am])
		switch {
		case d == 0:
			zero = true
		case scale == 1:
			out[i] = num / d
		case scale > 1:
			out[i] = num * scale / d
		default:
			out[i] = num / (d / scale)
		}
	}
	if sel == nil {
		for i := range n {
			div(i)
		}
	} else {
		for _, i := range sel {
			div(int(i))
		}
	}
	return zero
}

type negEval struct {
	t   types.Type
	a   Evaluator
	out outBuf
}

func (e *negEval) Eval(b *coldata.Batch) *coldata.Vec {
	x := e.a.Eval(b)
	n := b.N
	if x.Const {
		n = 1
	}
	out := e.out.get(e.t, n)
	coldata.ForEach(n, sel(b, n), func(i int) {
		if e.t.ID == types.Float64 {
			out.F64[i] = -x.F64[i]
		} else {
			if x.I64[i] == math.MinInt64 && !x.IsNull(i) {
				overflowError(e.t)
			}
			out.I64[i] = -x.I64[i]
		}
	})
	out.Nulls = x.Nulls
	out.Const = x.Const
	return out
}

type yearEval struct {
	a   Evaluator
	out outBuf
}

// yearOf maps days since the epoch to the calendar year.
func yearOf(d int32) int32 {
	y, _, _ := expr.CivilFromDays(d)
	return int32(y)
}

func (e *yearEval) Eval(b *coldata.Batch) *coldata.Vec {
	x := e.a.Eval(b)
	n := b.N
	if x.Const {
		n = 1
	}
	out := e.out.get(types.Int32Type, n)
	convert(out.I32, x.I32, sel(b, n), n, yearOf)
	out.Nulls, out.Const = x.Nulls, x.Const
	return out
}

type dateAddEval struct {
	months bool
	n      int64
	a      Evaluator
	out    outBuf
}

func (e *dateAddEval) Eval(b *coldata.Batch) *coldata.Vec {
	x := e.a.Eval(b)
	n := b.N
	if x.Const {
		n = 1
	}
	out := e.out.get(types.DateType, n)
	if e.months {
		convert(out.I32, x.I32, sel(b, n), n, func(d int32) int32 { return expr.AddMonths(d, e.n) })
	} else {
		convert(out.I32, x.I32, sel(b, n), n, func(d int32) int32 { return d + int32(e.n) })
	}
	out.Nulls, out.Const = x.Nulls, x.Const
	return out
}

type isNullEval struct {
	not bool
	a   Evaluator
	out outBuf
}

func (e *isNullEval) Eval(b *coldata.Batch) *coldata.Vec {
	x := e.a.Eval(b)
	n := b.N
	if x.Const {
		n = 1
	}
	out := e.out.get(types.BoolType, n)
	coldata.ForEach(n, sel(b, n), func(i int) { out.Bool[i] = x.IsNull(i) != e.not })
	out.Const = x.Const
	return out
}

type cmpEval struct {
	op    cmpOp
	t     types.Type
	a, b  Evaluator
	out   outBuf
	nulls []bool
}

func (e *cmpEval) Eval(b *coldata.Batch) *coldata.Vec {
	x, y := e.a.Eval(b), e.b.Eval(b)
	n := b.N
	out := e.out.get(types.BoolType, n)
	op := e.op
	if x.Const && !y.Const {
		x, y = y, x
		op = op.mirror()
	}
	s := b.Sel
	if x.Const {
		x = expandVec(x, n)
	}
	switch e.t.ID {
	case types.Int32, types.Date:
		if y.Const {
			cmpInt32VC(op, out.Bool, x.I32, y.I32[0], s, n)
		} else {
			cmpInt32VV(op, out.Bool, x.I32, y.I32, s, n)
		}
	case types.Int64, types.Decimal:
		if y.Const {
			cmpInt64VC(op, out.Bool, x.I64, y.I64[0], s, n)
		} else {
			cmpInt64VV(op, out.Bool, x.I64, y.I64, s, n)
		}
	case types.Float64:
		if y.Const {
			cmpFloat64VC(op, out.Bool, x.F64, y.F64[0], s, n)
		} else {
			cmpFloat64VV(op, out.Bool, x.F64, y.F64, s, n)
		}
	default:
		panic(fmt.Sprintf("comparison on %s", e.t))
	}
	mergeNulls(out, &e.nulls, n, s, x, y)
	return out
}

func expandVec(v *coldata.Vec, n int) *coldata.Vec {
	idx := make([]int32, n)
	return coldata.Gather(v, idx)
}

// logicEval implements Kleene AND / OR: false AND null is false, true OR
// null is true, and null otherwise when an operand is null. The right operand
// is evaluated only on the rows the left one does not decide (as a filter's
// andSel does), so "x <> 0 AND 1 / x > 0" does not divide by zero.
type logicEval struct {
	or    bool
	a, b  Evaluator
	out   outBuf
	nulls []bool
	rest  []int32
}

func (e *logicEval) Eval(b *coldata.Batch) *coldata.Vec {
	x := e.a.Eval(b)
	n := b.N
	out := e.out.get(types.BoolType, n)
	// The rows where x alone decides: x is e.or (true for OR, false for AND).
	rest := e.rest[:0]
	decided := 0
	coldata.ForEach(n, b.Sel, func(i int) {
		xi := i
		if x.Const {
			xi = 0
		}
		if x.Bool[xi] == e.or && !x.IsNull(xi) {
			decided++
		} else {
			rest = append(rest, int32(i))
		}
	})
	e.rest = rest
	y := x // not read when every row is decided
	switch {
	case decided == 0:
		y = e.b.Eval(b)
	case len(rest) > 0:
		y = e.b.Eval(&coldata.Batch{N: n, Vecs: b.Vecs, Sel: rest})
	}
	hasNulls := x.Nulls != nil || y.Nulls != nil
	if hasNulls {
		if cap(e.nulls) < n {
			e.nulls = make([]bool, n)
		}
		out.Nulls = e.nulls[:n]
	}
	coldata.ForEach(n, b.Sel, func(i int) {
		xi, yi := i, i
		if x.Const {
			xi = 0
		}
		if y.Const {
			yi = 0
		}
		xv, xn := x.Bool[xi], x.IsNull(xi)
		if xv == e.or && !xn {
			out.Bool[i] = e.or
			if hasNulls {
				out.Nulls[i] = false
			}
			return
		}
		yv, yn := y.Bool[yi], y.IsNull(yi)
		if !hasNulls {
			out.Bool[i] = yv
			return
		}
		switch {
		case yv == e.or && !yn:
			out.Bool[i], out.Nulls[i] = e.or, false
		case xn || yn:
			out.Bool[i], out.Nulls[i] = false, true
		default:
			out.Bool[i], out.Nulls[i] = !e.or, false
		}
	})
	return out
}

type notEval struct {
	a   Evaluator
	out outBuf
}

func (e *notEval) Eval(b *coldata.Batch) *coldata.Vec {
	x := e.a.Eval(b)
	n := b.N
	if x.Const {
		n = 1
	}
	out := e.out.get(types.BoolType, n)
	coldata.ForEach(n, sel(b, n), func(i int) { out.Bool[i] = !x.Bool[i] })
	out.Nulls, out.Const = x.Nulls, x.Const
	return out
}

// selBoolEval turns a selector into a boolean column: rows the selector
// keeps are true, rows with a null operand null, the others false (or null
// too with unknownIfFalse: x IN (…, NULL) that matched nothing).
type selBoolEval struct {
	sel            Selector
	args           []Evaluator
	unknownIfFalse bool
	out            outBuf
	nulls          []bool
}

func compileSelBool(e *expr.Expr, s types.Schema, args []Evaluator) (Evaluator, error) {
	sel, err := compileSelector(e, s)
	if err != nil {
		return nil, err
	}
	ev := &selBoolEval{sel: sel, args: args}
	if e.Op == expr.OpIn {
		for _, v := range e.List {
			ev.unknownIfFalse = ev.unknownIfFalse || v.Null
		}
	}
	return ev, nil
}

func (e *selBoolEval) Eval(b *coldata.Batch) *coldata.Vec {
	n := b.N
	out := e.out.get(types.BoolType, n)
	clear(out.Bool)
	for _, i := range e.sel.Select(b, b.Sel) {
		out.Bool[i] = true
	}
	var ins []*coldata.Vec
	for _, a := range e.args {
		if a != nil {
			ins = append(ins, a.Eval(b))
		}
	}
	mergeNulls(out, &e.nulls, n, b.Sel, ins...)
	if e.unknownIfFalse {
		if out.Nulls == nil {
			if cap(e.nulls) < n {
				e.nulls = make([]bool, n)
			}
			out.Nulls = e.nulls[:n]
			clear(out.Nulls)
		}
		coldata.ForEach(n, b.Sel, func(i int) { out.Nulls[i] = out.Nulls[i] || !out.Bool[i] })
	}
	return out
}

// caseEval evaluates each branch only on the rows that reach it.
type caseEval struct {
	t     types.Type
	conds []Selector
	vals  []Evaluator
	els   Evaluator
	out   outBuf
	rest  []int32
	nulls []bool
}

func compileCase(e *expr.Expr, s types.Schema) (Evaluator, error) {
	c := &caseEval{t: e.T}
	n := len(e.Args)
	for i := 0; i+1 < n; i += 2 {
		sl, err := compileSelector(e.Args[i], s)
		if err != nil {
			return nil, err
		}
		v, err := compile(e.Args[i+1], s)
		if err != nil {
			return nil, err
		}
		c.conds = append(c.conds, sl)
		c.vals = append(c.vals, v)
	}
	els, err := compile(e.Args[n-1], s)
	if err != nil {
		return nil, err
	}
	c.els = els
	return c, nil
}

func (c *caseEval) Eval(b *coldata.Batch) *coldata.Vec {
	n := b.N
	out := c.out.get(c.t, n)
	if c.t.ID == types.String {
		// Strings are assembled row by row.
		return c.evalStrings(b)
	}
	rest := b.Sel
	if rest == nil {
		rest = coldata.Iota(n)
	}
	hasNull := false
	if cap(c.nulls) < n {
		c.nulls = make([]bool, n)
	}
	nulls := c.nulls[:n]
	clear(nulls)
	assign := func(v *coldata.Vec, rows []int32) {
		for _, i := range rows {
			j := int(i)
			if v.Const {
				j = 0
			}
			if v.IsNull(j) {
				nulls[i] = true
				hasNull = true
			}
			switch c.t.ID {
			case types.Bool:
				out.Bool[i] = v.Bool[j]
			case types.Int32, types.Date:
				out.I32[i] = v.I32[j]
			case types.Int64, types.Decimal:
				out.I64[i] = v.I64[j]
			case types.Float64:
				out.F64[i] = v.F64[j]
			}
		}
	}
	for k, cond := range c.conds {
		if len(rest) == 0 {
			break
		}
		hit := append([]int32(nil), cond.Select(b, rest)...)
		if len(hit) > 0 {
			sub := &coldata.Batch{N: n, Vecs: b.Vecs, Sel: hit}
			assign(c.vals[k].Eval(sub), hit)
			rest = minus(rest, hit)
		}
	}
	if len(rest) > 0 {
		sub := &coldata.Batch{N: n, Vecs: b.Vecs, Sel: rest}
		assign(c.els.Eval(sub), rest)
	}
	if hasNull {
		out.Nulls = nulls
	}
	return out
}

func (c *caseEval) evalStrings(b *coldata.Batch) *coldata.Vec {
	n := b.N
	which := make([]int, n)
	vals := make([]*coldata.Vec, len(c.vals)+1)
	rest := b.Sel
	if rest == nil {
		rest = coldata.Iota(n)
	}
	// Each branch is evaluated only on its rows, so that a branch not taken
	// cannot raise (CASE WHEN b = 0 THEN 'none' ELSE (a / b)::text END).
	branch := func(k int, ev Evaluator, rows []int32) {
		for _, i := range rows {
			which[i] = k
		}
		vals[k] = ev.Eval(&coldata.Batch{N: n, Vecs: b.Vecs, Sel: rows})
	}
	for k, cond := range c.conds {
		if len(rest) == 0 {
			break
		}
		hit := append([]int32(nil), cond.Select(b, rest)...)
		if len(hit) > 0 {
			branch(k, c.vals[k], hit)
			rest = minus(rest, hit)
		}
	}
	if len(rest) > 0 {
		branch(len(c.vals), c.els, rest)
	}
	out := &coldata.Vec{Type: c.t, Str: coldata.Strings{Offs: make([]int32, n+1)}}
	nulls := make([]bool, n)
	hasNull := false
	live := b.Sel
	coldata.ForEach(n, nil, func(i int) {
		isLive := live == nil || len(live) > 0 && int(live[0]) == i
		if isLive && live != nil {
			live = live[1:]
		}
		if isLive {
			v := vals[which[i]]
			if v.IsNull(i) {
				nulls[i], hasNull = true, true
			} else {
				out.Str.Data = append(out.Str.Data, v.Bytes(i)...)
			}
		}
		out.Str.Offs[i+1] = int32(len(out.Str.Data))
	})
	if hasNull {
		out.Nulls = nulls
	}
	return out
}

// minus returns the rows of a (ascending) that are not in b (ascending).
func minus(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)-len(b))
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j < len(b) && b[j] == x {
			continue
		}
		out = append(out, x)
	}
	return out
}
