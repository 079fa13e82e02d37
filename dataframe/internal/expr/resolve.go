package expr

import (
	"errors"
	"fmt"
	"math"

	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// ErrTypeMismatch is wrapped by every type error found during resolution.
var ErrTypeMismatch = errors.New("type mismatch")

func mismatch(e *Expr, format string, args ...any) error {
	return fmt.Errorf("%w in %s: %s", ErrTypeMismatch, e, fmt.Sprintf(format, args...))
}

// Resolve type-checks e against the input schema and returns a copy in which
// every node carries its type and every implicit conversion is an explicit cast.
func Resolve(e *Expr, s types.Schema) (*Expr, error) {
	if e == nil {
		return nil, errors.New("nil expression")
	}
	if e.resolved {
		// Already resolved against some schema: re-check column references.
		var err error
		Walk(e, func(x *Expr) bool {
			if x.Op == OpCol && err == nil {
				i := s.Index(x.Name)
				if i < 0 {
					err = &types.ColumnNotFoundError{Name: x.Name, Available: s.Names()}
				} else if s[i].Type != x.T {
					err = mismatch(e, "column %s is %s here, %s where the expression was built", x.Name, s[i].Type, x.T)
				}
			}
			return err == nil
		})
		if err != nil {
			return nil, err
		}
		return e, nil
	}
	c := e.Clone()
	for i, a := range c.Args {
		r, err := Resolve(a, s)
		if err != nil {
			return nil, err
		}
		c.Args[i] = r
	}
	if c.Over != nil {
		o, err := c.Over.Resolve(s)
		if err != nil {
			return nil, err
		}
		c.Over = o
	}
	if err := c.typecheck(s); err != nil {
		return nil, err
	}
	c.resolved = true
	return c, nil
}

func (c *Expr) typecheck(s types.Schema) error {
	switch c.Op {
	case OpCol:
		i := s.Index(c.Name)
		if i < 0 {
			return &types.ColumnNotFoundError{Name: c.Name, Available: s.Names()}
		}
		c.T, c.Nullable = s[i].Type, s[i].Nullable
	case OpLit:
		if c.Val.Null && c.Val.T.ID == types.Invalid {
			// An untyped NULL: it converts to whatever type its place wants.
			c.Val.T = types.Int64Type
		}
		c.T, c.Nullable = c.Val.T, c.Val.Null
	case OpAlias:
		c.T, c.Nullable = c.Args[0].T, c.Args[0].Nullable
	case OpAdd, OpSub, OpMul:
		a, b := c.Args[0], c.Args[1]
		if done, err := c.dateArith(); done || err != nil {
			return err
		}
		if !a.T.IsNumeric() || !b.T.IsNumeric() {
			return mismatch(c, "arithmetic needs numbers, got %s and %s", a.T, b.T)
		}
		t := commonNumeric(a.T, b.T)
		if t.ID == types.Decimal && c.Op == OpMul {
			sa, sb := decScale(a.T), decScale(b.T)
			if sa+sb > types.MaxDecimalScale {
				t = types.Float64Type
			} else {
				c.Args[0], c.Args[1] = castTo(a, types.DecimalType(sa)), castTo(b, types.DecimalType(sb))
				c.T = types.DecimalType(sa + sb)
				break
			}
		}
		c.Args[0], c.Args[1] = castTo(a, t), castTo(b, t)
		c.T = t
	case OpDiv:
		a, b := c.Args[0], c.Args[1]
		if !a.T.IsNumeric() || !b.T.IsNumeric() {
			return mismatch(c, "division needs numbers, got %s and %s", a.T, b.T)
		}
		c.divOperands()
		c.Nullable = true // division by zero yields null
	case OpNeg:
		a := c.Args[0]
		if !a.T.IsNumeric() {
			return mismatch(c, "negation needs a number, got %s", a.T)
		}
		if a.T.ID == types.Int32 {
			c.Args[0] = castTo(a, types.Int64Type)
		}
		c.T = c.Args[0].T
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe:
		a, b, err := coercePair(c, c.Args[0], c.Args[1])
		if err != nil {
			return err
		}
		c.Args[0], c.Args[1] = a, b
		c.T = types.BoolType
	case OpAnd, OpOr, OpNot:
		for i := range c.Args {
			if err := c.wantArg(i, types.BoolType, "booleans"); err != nil {
				return err
			}
		}
		c.T = types.BoolType
	case OpIsNull, OpIsNotNull:
		c.T = types.BoolType
		c.Nullable = false
		return nil
	case OpIn:
		x := c.Args[0]
		list := make([]Value, len(c.List))
		for i, v := range c.List {
			cv, ok := convertValue(v, x.T)
			if !ok {
				return mismatch(c, "cannot compare %s with %s", x.T, v)
			}
			list[i] = cv
		}
		c.List = list
		c.T = types.BoolType
		for _, v := range list {
			if v.Null {
				c.Nullable = true // nothing matched and a null might have: unknown
			}
		}
	case OpBetween:
		x, lo, hi := c.Args[0], c.Args[1], c.Args[2]
		ge := &Expr{Op: OpGe, Args: []*Expr{x, lo}}
		le := &Expr{Op: OpLe, Args: []*Expr{x, hi}}
		for _, p := range []*Expr{ge, le} {
			if err := p.typecheck(s); err != nil {
				return err
			}
			p.Nullable = p.Args[0].Nullable || p.Args[1].Nullable
			p.resolved = true
		}
		*c = Expr{Op: OpAnd, Args: []*Expr{ge, le}, T: types.BoolType}
	case OpLike, OpNotLike:
		if err := c.stringArgs(1, 1); err != nil {
			return mismatch(c, "like needs a string, got %s", c.Args[0].T)
		}
		c.T = types.BoolType
	case OpSubstr:
		if err := c.wantArgs(1, 3); err != nil {
			return err
		}
		if err := c.stringArg(0); err != nil {
			return mismatch(c, "substring needs a string, got %s", c.Args[0].T)
		}
		for i := 1; i < len(c.Args); i++ {
			if err := c.integerArg(i); err != nil {
				return err
			}
		}
		if len(c.Args) == 1 && c.N2 < 0 {
			return mismatch(c, "negative substring length not allowed")
		}
		c.T = types.StringType
	case OpYear:
		if c.Args[0].T.ID != types.Date {
			return mismatch(c, "year needs a date, got %s", c.Args[0].T)
		}
		c.T = types.Int32Type
	case OpAddMonths, OpAddDays:
		if c.Args[0].T.ID != types.Date {
			return mismatch(c, "date arithmetic needs a date, got %s", c.Args[0].T)
		}
		c.T = types.DateType
	case OpCast:
		from := c.Args[0].T
		if !castAllowed(from, c.To) && !isNullLit(c.Args[0]) {
			return mismatch(c, "cannot cast %s to %s", from, c.To)
		}
		c.T = c.To
		if c.Args[0].Op == OpLit {
			v, ok := convertValue(c.Args[0].Val, c.To)
			if ok {
				*c = Expr{Op: OpLit, Val: v, T: v.T, Nullable: v.Null}
			}
		}
	case OpCase:
		n := len(c.Args)
		if n < 3 || n%2 == 0 {
			return mismatch(c, "case needs when/then pairs and an otherwise value")
		}
		for i := 0; i+1 < n; i += 2 {
			if err := c.wantArg(i, types.BoolType, "boolean conditions"); err != nil {
				return err
			}
		}
		vals := []int{}
		for i := 1; i < n; i += 2 {
			vals = append(vals, i)
		}
		t, err := c.unifyArgs(append(vals, n-1))
		if err != nil {
			return err
		}
		c.T = t
	case OpSum, OpAvg, OpSumDistinct, OpAvgDistinct:
		a := c.Args[0]
		if !a.T.IsNumeric() {
			return mismatch(c, "%s needs a number, got %s", c.Op, a.T)
		}
		switch {
		case c.Op == OpAvg || c.Op == OpAvgDistinct:
			c.T = types.Float64Type
		case a.T.ID == types.Int32:
			c.T = types.Int64Type
		default:
			c.T = a.T
		}
		c.Nullable = true
		return nil
	case OpAnyValue:
		c.T = c.Args[0].T
		c.Nullable = true
		return nil
	case OpStringAgg, OpStringAggDistinct:
		return c.typecheckStringAgg()
	case OpMin, OpMax:
		if c.Args[0].T.ID == types.Bool {
			return mismatch(c, "%s is not defined on booleans", c.Op)
		}
		c.T = c.Args[0].T
		c.Nullable = true
		return nil
	case OpCount, OpCountStar, OpCountDistinct:
		c.T = types.Int64Type
		c.Nullable = false
		return nil
	case OpRowNumber, OpRank, OpDenseRank, OpLag, OpLead, OpFirstValue, OpLastValue, OpNthValue, OpNtile, OpPercentRank, OpCumeDist:
		return c.typecheckWindow()
	default:
		if c.Op < OpIntDiv || c.Op > OpExtract {
			return fmt.Errorf("unknown operator %d", c.Op)
		}
		nullableSet, err := c.typecheckFunc()
		if err != nil || nullableSet {
			return err
		}
	}
	if c.Op != OpLit && c.Op != OpCol && c.Op != OpDiv {
		for _, a := range c.Args {
			if a.Nullable {
				c.Nullable = true
			}
		}
	}
	return nil
}

// typecheckStringAgg types string_agg's [x, delimiter, keys…]: x and the
// delimiter text (an untyped NULL taking that type), a direction in Order
// for each key.
func (c *Expr) typecheckStringAgg() error {
	if len(c.Args) < 2 || len(c.Order) != len(c.Args)-2 {
		return mismatch(c, "string_agg takes a value, a delimiter and a direction for each ORDER BY key")
	}
	for i := range 2 {
		if err := c.stringArg(i); err != nil {
			return mismatch(c, "string_agg takes text values and a text delimiter, got %s and %s; cast the value with ::text",
				c.Args[0].T, c.Args[1].T)
		}
	}
	c.T, c.Nullable = types.StringType, true
	return nil
}

func decScale(t types.Type) int32 {
	if t.ID == types.Decimal {
		return t.Scale
	}
	return 0
}

// commonNumeric picks the type two numeric operands are converted to.
func commonNumeric(a, b types.Type) types.Type {
	switch {
	case a.ID == types.Float64 || b.ID == types.Float64:
		return types.Float64Type
	case a.ID == types.Decimal || b.ID == types.Decimal:
		s := decScale(a)
		if decScale(b) > s {
			s = decScale(b)
		}
		return types.DecimalType(s)
	case a.ID == types.Int32 && b.ID == types.Int32:
		return types.Int64Type
	}
	return types.Int64Type
}

func unify(a, b types.Type) (types.Type, bool) {
	if a == b {
		return a, true
	}
	if a.IsNumeric() && b.IsNumeric() {
		if a.ID == types.Int32 && b.ID == types.Int32 {
			return types.Int32Type, true
		}
		return commonNumeric(a, b), true
	}
	return types.Type{}, false
}

func coercePair(c, a, b *Expr) (*Expr, *Expr, error) {
	if a.T == b.T {
		return a, b, nil
	}
	// A literal takes the other side's type when it converts exactly.
	if b.Op == OpLit {
		if v, ok := convertValue(b.Val, a.T); ok {
			return a, Lit(v).resolvedLit(), nil
		}
	}
	if a.Op == OpLit {
		if v, ok := convertValue(a.Val, b.T); ok {
			return Lit(v).resolvedLit(), b, nil
		}
	}
	if a.T.IsNumeric() && b.T.IsNumeric() {
		t := commonNumeric(a.T, b.T)
		return castTo(a, t), castTo(b, t), nil
	}
	return nil, nil, mismatch(c, "cannot compare %s with %s", a.T, b.T)
}

func (e *Expr) resolvedLit() *Expr {
	e.T, e.Nullable, e.resolved = e.Val.T, e.Val.Null, true
	return e
}

// castTo converts e to t: literals are converted in place, others get a cast node.
func castTo(e *Expr, t types.Type) *Expr {
	if e.T == t {
		return e
	}
	if e.Op == OpLit {
		if v, ok := convertValue(e.Val, t); ok {
			return Lit(v).resolvedLit()
		}
		if t.ID == types.Float64 || t.ID == types.Decimal {
			f := e.Val.Float()
			if t.ID == types.Float64 {
				return Lit(Value{T: t, F: f, Null: e.Val.Null}).resolvedLit()
			}
		}
	}
	return &Expr{Op: OpCast, Args: []*Expr{e}, To: t, T: t, Nullable: e.Nullable, resolved: true}
}

// convertValue converts a literal to type t when it can do so exactly.
// Converts reports whether v converts to type t without loss, as OpIn's
// list values must (a value that does not is compared with OpEq, which
// promotes both sides).
func Converts(v Value, t types.Type) bool {
	_, ok := convertValue(v, t)
	return ok
}

func convertValue(v Value, t types.Type) (Value, bool) {
	if v.T == t {
		return v, true
	}
	out := Value{T: t, Null: v.Null}
	if v.Null {
		return out, true
	}
	switch t.ID {
	case types.Int32:
		if v.T.ID == types.Int64 && v.I >= math.MinInt32 && v.I <= math.MaxInt32 {
			out.I = v.I
			return out, true
		}
	case types.Int64:
		if v.T.ID == types.Int32 {
			out.I = v.I
			return out, true
		}
	case types.Float64:
		if v.T.IsNumeric() {
			out.F = v.Float()
			return out, true
		}
	case types.Decimal:
		switch v.T.ID {
		case types.Int32, types.Int64:
			if t.Scale > 18 {
				return out, false
			}
			p := types.Pow10[t.Scale]
			if v.I > math.MaxInt64/p || v.I < math.MinInt64/p {
				return out, false
			}
			out.I = v.I * p
			return out, true
		case types.Decimal:
			if v.T.Scale <= t.Scale {
				out.I = v.I * types.Pow10[t.Scale-v.T.Scale]
				return out, true
			}
			p := types.Pow10[v.T.Scale-t.Scale]
			if v.I%p == 0 {
				out.I = v.I / p
				return out, true
			}
		case types.Float64:
			x := v.F * float64(types.Pow10[t.Scale])
			r := math.Round(x)
			if math.Abs(x-r) < 1e-6 && math.Abs(r) < 1e17 {
				out.I = int64(r)
				return out, true
			}
		}
	}
	if v.T.ID == types.String && t.ID != types.String {
		// A string literal reads as the type it is compared with or cast
		// to (PostgreSQL types quoted literals by their context).
		// Non-finite floats stay text: plans travel as JSON, which has no NaN.
		if p, err := ParseText(v.S, t); err == nil && !math.IsNaN(p.F) && !math.IsInf(p.F, 0) {
			return p, true
		}
	}
	return out, false
}

// dateArith types date + integer, integer + date, date - integer (Date) and
// date - date (Int64 days); done is false when no operand is a date.
func (c *Expr) dateArith() (done bool, err error) {
	a, b := c.Args[0], c.Args[1]
	if a.T.ID != types.Date && b.T.ID != types.Date {
		return false, nil
	}
	switch {
	case c.Op == OpSub && a.T.ID == types.Date && (b.T.ID == types.Date || b.Op == OpLit && b.T.ID == types.String):
		c.Args[1] = castTo(b, types.DateType)
		c.T = types.Int64Type
	case c.Op != OpMul && a.T.ID == types.Date && (b.T.IsInteger() || isNullLit(b)):
		c.Args[1] = castTo(b, types.Int64Type)
		c.T = types.DateType
	case c.Op == OpAdd && b.T.ID == types.Date && (a.T.IsInteger() || isNullLit(a)):
		c.Args[0] = castTo(a, types.Int64Type)
		c.T = types.DateType
	default:
		return true, mismatch(c, "date arithmetic takes date + integer, date - integer or date - date, got %s %s %s", a.T, c.Op, b.T)
	}
	for _, x := range c.Args {
		c.Nullable = c.Nullable || x.Nullable
	}
	return true, nil
}
