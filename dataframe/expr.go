package dataframe

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// DataType is a column type.
type DataType = types.Type

// Field is a named, typed column of a schema.
type Field = types.Field

// Schema is an ordered list of fields.
type Schema = types.Schema

// Value is one cell of a result: Type says which of I (ints, dates as days
// since 1970-01-01, decimals as scaled integers), F, S or B holds it.
type Value = expr.Value

// Column types.
var (
	Bool    = types.BoolType
	Int32   = types.Int32Type
	Int64   = types.Int64Type
	Float64 = types.Float64Type
	Date32  = types.DateType
	String  = types.StringType
)

// Decimal returns the exact decimal type with scale digits after the point
// (stored as a 64-bit scaled integer, so precision is at most 18).
func Decimal(precision, scale int) DataType {
	_ = precision
	return types.DecimalType(int32(scale))
}

// Expr is a column expression. Expressions are immutable; builder errors (a bad
// literal, say) surface when the expression is used in a DataFrame.
type Expr struct {
	e   *expr.Expr
	err error
}

func (x Expr) String() string {
	if x.err != nil {
		return "<invalid: " + x.err.Error() + ">"
	}
	if x.e == nil {
		return "<nil>"
	}
	return x.e.String()
}

// Col references a column by name.
func Col(name string) Expr { return Expr{e: expr.Col(name)} }

// Lit makes a literal from a Go value: int, int32, int64, float64, string,
// bool, time.Time (a date), or nil (a null int64).
func Lit(v any) Expr {
	switch x := v.(type) {
	case Expr:
		return x
	case int:
		return Expr{e: expr.Lit(expr.Value{T: types.Int64Type, I: int64(x)})}
	case int64:
		return Expr{e: expr.Lit(expr.Value{T: types.Int64Type, I: x})}
	case int32:
		return Expr{e: expr.Lit(expr.Value{T: types.Int32Type, I: int64(x)})}
	case float64:
		if math.IsNaN(x) {
			return Expr{err: fmt.Errorf("NaN literal")}
		}
		return Expr{e: expr.Lit(expr.Value{T: types.Float64Type, F: x})}
	case string:
		return Expr{e: expr.Lit(expr.Value{T: types.StringType, S: x})}
	case bool:
		return Expr{e: expr.Lit(expr.Value{T: types.BoolType, B: x})}
	case time.Time:
		return Expr{e: expr.Lit(expr.Value{T: types.DateType, I: int64(expr.DaysFromCivil(x.Year(), int(x.Month()), x.Day()))})}
	case nil:
		return Expr{e: expr.Lit(expr.Value{T: types.Int64Type, Null: true})}
	}
	return Expr{err: fmt.Errorf("unsupported literal %v of type %T", v, v)}
}

// Date is a date literal written YYYY-MM-DD.
func Date(s string) Expr {
	d, err := expr.ParseDate(s)
	if err != nil {
		return Expr{err: err}
	}
	return Expr{e: expr.Lit(expr.Value{T: types.DateType, I: int64(d)})}
}

// Dec is an exact decimal literal such as "0.06".
func Dec(s string) Expr {
	v, scale, err := expr.ParseDecimal(s)
	if err != nil {
		return Expr{err: err}
	}
	return Expr{e: expr.Lit(expr.Value{T: types.DecimalType(scale), I: v})}
}

func toExpr(v any) Expr {
	if e, ok := v.(Expr); ok {
		return e
	}
	return Lit(v)
}

func call(op expr.Op, args ...Expr) Expr {
	es := make([]*expr.Expr, len(args))
	for i, a := range args {
		if a.err != nil {
			return Expr{err: a.err}
		}
		if a.e == nil {
			return Expr{err: fmt.Errorf("empty expression in %s", op)}
		}
		es[i] = a.e
	}
	return Expr{e: expr.Call(op, es...)}
}

func (x Expr) with(f func(*expr.Expr) *expr.Expr) Expr {
	if x.err != nil {
		return x
	}
	return Expr{e: f(x.e)}
}

// As names the expression's output column.
func (x Expr) As(name string) Expr {
	return x.with(func(e *expr.Expr) *expr.Expr { return expr.Alias(e, name) })
}

// Add returns x + y (y an Expr or a Go literal).
func (x Expr) Add(y any) Expr { return call(expr.OpAdd, x, toExpr(y)) }

// Sub returns x - y.
func (x Expr) Sub(y any) Expr { return call(expr.OpSub, x, toExpr(y)) }

// Mul returns x * y.
func (x Expr) Mul(y any) Expr { return call(expr.OpMul, x, toExpr(y)) }

// Div returns x / y as float64 (null when y is 0).
func (x Expr) Div(y any) Expr { return call(expr.OpDiv, x, toExpr(y)) }

// IntDiv returns x / y as SQL divides: integers give the quotient truncated
// toward zero (7 / 2 = 3, -7 / 2 = -3), other numbers a float64. Division by
// zero fails the query with ErrDivisionByZero.
func (x Expr) IntDiv(y any) Expr { return call(expr.OpIntDiv, x, toExpr(y)) }

// Mod returns the remainder of x / y, with the sign of x (-7 % 3 = -1), for
// integers, decimals and floats. y = 0 fails the query with ErrDivisionByZero.
func (x Expr) Mod(y any) Expr { return call(expr.OpMod, x, toExpr(y)) }

// Abs returns |x|.
func (x Expr) Abs() Expr { return call(expr.OpAbs, x) }

// Round rounds x to places digits after the point (before it when negative),
// half away from zero; a decimal's result has max(places, 0) digits.
func (x Expr) Round(places int) Expr { return call(expr.OpRound, x, Lit(int64(places))) }

// Ceil returns the smallest whole number >= x (a decimal gives a decimal with
// no digits after the point).
func (x Expr) Ceil() Expr { return call(expr.OpCeil, x) }

// Floor returns the largest whole number <= x.
func (x Expr) Floor() Expr { return call(expr.OpFloor, x) }

// Sign returns -1, 0 or 1 as x is negative, zero or positive.
func (x Expr) Sign() Expr { return call(expr.OpSign, x) }

// Sqrt returns the square root of x as float64 (a negative x fails the query).
func (x Expr) Sqrt() Expr { return call(expr.OpSqrt, x) }

// Power returns x raised to y as float64.
func (x Expr) Power(y any) Expr { return call(expr.OpPower, x, toExpr(y)) }

// Ln returns the natural logarithm of x as float64 (x <= 0 fails the query).
func (x Expr) Ln() Expr { return call(expr.OpLn, x) }

// Exp returns e raised to x as float64.
func (x Expr) Exp() Expr { return call(expr.OpExp, x) }

// Neg returns -x.
func (x Expr) Neg() Expr { return call(expr.OpNeg, x) }

// Eq returns x = y.
func (x Expr) Eq(y any) Expr { return call(expr.OpEq, x, toExpr(y)) }

// Ne returns x <> y.
func (x Expr) Ne(y any) Expr { return call(expr.OpNe, x, toExpr(y)) }

// Lt returns x < y.
func (x Expr) Lt(y any) Expr { return call(expr.OpLt, x, toExpr(y)) }

// Le returns x <= y.
func (x Expr) Le(y any) Expr { return call(expr.OpLe, x, toExpr(y)) }

// Gt returns x > y.
func (x Expr) Gt(y any) Expr { return call(expr.OpGt, x, toExpr(y)) }

// Ge returns x >= y.
func (x Expr) Ge(y any) Expr { return call(expr.OpGe, x, toExpr(y)) }

// And returns x AND y (SQL three-valued logic).
func (x Expr) And(y any) Expr { return call(expr.OpAnd, x, toExpr(y)) }

// Or returns x OR y.
func (x Expr) Or(y any) Expr { return call(expr.OpOr, x, toExpr(y)) }

// Not returns NOT x.
func (x Expr) Not() Expr { return call(expr.OpNot, x) }

// And joins predicates with AND.
func And(preds ...Expr) Expr {
	if len(preds) == 0 {
		return Lit(true)
	}
	out := preds[0]
	for _, p := range preds[1:] {
		out = out.And(p)
	}
	return out
}

// Or joins predicates with OR.
func Or(preds ...Expr) Expr {
	if len(preds) == 0 {
		return Lit(false)
	}
	out := preds[0]
	for _, p := range preds[1:] {
		out = out.Or(p)
	}
	return out
}

// IsNull is true where x is null.
func (x Expr) IsNull() Expr { return call(expr.OpIsNull, x) }

// IsNotNull is true where x is not null.
func (x Expr) IsNotNull() Expr { return call(expr.OpIsNotNull, x) }

// IsIn is true where x equals one of the literal values.
func (x Expr) IsIn(values ...any) Expr {
	if x.err != nil {
		return x
	}
	list := make([]expr.Value, len(values))
	for i, v := range values {
		l := Lit(v)
		if l.err != nil {
			return Expr{err: l.err}
		}
		if l.e.Op != expr.OpLit {
			return Expr{err: fmt.Errorf("IsIn takes literal values, got %s", l)}
		}
		list[i] = l.e.Val
	}
	e := expr.Call(expr.OpIn, x.e)
	e.List = list
	return Expr{e: e}
}

// Between is true where lo <= x <= hi.
func (x Expr) Between(lo, hi any) Expr { return call(expr.OpBetween, x, toExpr(lo), toExpr(hi)) }

// Like matches a SQL LIKE pattern (% any run of characters, _ one character).
func (x Expr) Like(pattern string) Expr {
	return x.with(func(e *expr.Expr) *expr.Expr {
		c := expr.Call(expr.OpLike, e)
		c.Pattern = pattern
		return c
	})
}

// NotLike is NOT (x LIKE pattern).
func (x Expr) NotLike(pattern string) Expr {
	return x.with(func(e *expr.Expr) *expr.Expr {
		c := expr.Call(expr.OpNotLike, e)
		c.Pattern = pattern
		return c
	})
}

// Substring returns length characters starting at start (1-based), as SQL's
// substring: positions before the first character count toward the length.
func (x Expr) Substring(start, length int) Expr {
	return x.with(func(e *expr.Expr) *expr.Expr {
		c := expr.Call(expr.OpSubstr, e)
		c.N1, c.N2 = int64(start), int64(length)
		return c
	})
}

// ILike is Like ignoring case.
func (x Expr) ILike(pattern string) Expr {
	return x.with(func(e *expr.Expr) *expr.Expr {
		c := expr.Call(expr.OpILike, e)
		c.Pattern = pattern
		return c
	})
}

// Upper returns the string x in upper case.
func (x Expr) Upper() Expr { return call(expr.OpUpper, x) }

// Lower returns the string x in lower case.
func (x Expr) Lower() Expr { return call(expr.OpLower, x) }

// Length returns the number of characters (not bytes) of the string x.
func (x Expr) Length() Expr { return call(expr.OpLength, x) }

// Trim strips the characters in chars (spaces when none are given) from both
// ends of the string x.
func (x Expr) Trim(chars ...string) Expr { return x.trim(expr.OpTrim, chars) }

// TrimLeft is Trim at the start only.
func (x Expr) TrimLeft(chars ...string) Expr { return x.trim(expr.OpLTrim, chars) }

// TrimRight is Trim at the end only.
func (x Expr) TrimRight(chars ...string) Expr { return x.trim(expr.OpRTrim, chars) }

func (x Expr) trim(op expr.Op, chars []string) Expr {
	if len(chars) == 0 {
		return call(op, x)
	}
	return call(op, x, Lit(strings.Join(chars, "")))
}

// Replace replaces every occurrence of from in the string x by to.
func (x Expr) Replace(from, to any) Expr { return call(expr.OpReplace, x, toExpr(from), toExpr(to)) }

// Position returns the 1-based character position of sub in the string x, 0
// when it does not occur (SQL's position(sub IN x)).
func (x Expr) Position(sub any) Expr { return call(expr.OpStrpos, x, toExpr(sub)) }

// Left returns the first n characters of x (all but the last -n when n < 0).
func (x Expr) Left(n any) Expr { return call(expr.OpLeft, x, toExpr(n)) }

// Right returns the last n characters of x (all but the first -n when n < 0).
func (x Expr) Right(n any) Expr { return call(expr.OpRight, x, toExpr(n)) }

// StartsWith is true where the string x begins with prefix.
func (x Expr) StartsWith(prefix any) Expr { return call(expr.OpStartsWith, x, toExpr(prefix)) }

// EndsWith is true where the string x ends with suffix.
func (x Expr) EndsWith(suffix any) Expr {
	if s, ok := suffix.(string); ok {
		return x.Like("%" + likeLiteral(s))
	}
	y := toExpr(suffix)
	return x.Right(y.Length()).Eq(y)
}

// Contains is true where sub occurs in the string x.
func (x Expr) Contains(sub any) Expr {
	if s, ok := sub.(string); ok {
		return x.Like("%" + likeLiteral(s) + "%")
	}
	return x.Position(sub).Gt(0)
}

// likeLiteral escapes LIKE's wildcards (and its escape character) in s.
func likeLiteral(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// Concat joins the text forms of its arguments (strings, numbers, dates,
// booleans), skipping nulls, as SQL's concat(...); it is never null.
func Concat(xs ...any) Expr { return call(expr.OpConcatFn, toExprs(xs)...) }

// Coalesce returns its first non-null argument (null when all are).
func Coalesce(xs ...any) Expr { return call(expr.OpCoalesce, toExprs(xs)...) }

// NullIf is null where a = b, a otherwise.
func NullIf(a, b any) Expr { return call(expr.OpNullIf, toExpr(a), toExpr(b)) }

// Greatest returns the largest of its non-null arguments (null when all are).
func Greatest(xs ...any) Expr { return call(expr.OpGreatest, toExprs(xs)...) }

// Least returns the smallest of its non-null arguments (null when all are).
func Least(xs ...any) Expr { return call(expr.OpLeast, toExprs(xs)...) }

func toExprs(xs []any) []Expr {
	out := make([]Expr, len(xs))
	for i, x := range xs {
		out[i] = toExpr(x)
	}
	return out
}

// Year extracts the year of a date.
func (x Expr) Year() Expr { return call(expr.OpYear, x) }

// Month extracts the month (1 to 12) of a date.
func (x Expr) Month() Expr { return Extract("month", x) }

// Day extracts the day of the month of a date.
func (x Expr) Day() Expr { return Extract("day", x) }

// Extract returns a field of the date x as an int32: "year", "month", "day",
// "quarter", "dow" (0 = Sunday), "isodow" (7 = Sunday), "doy" or "week" (ISO).
func Extract(field string, x Expr) Expr {
	return x.with(func(e *expr.Expr) *expr.Expr {
		c := expr.Call(expr.OpExtract, e)
		c.Name = field
		return c
	})
}

// AddDays adds n days to a date.
func (x Expr) AddDays(n int) Expr {
	return x.with(func(e *expr.Expr) *expr.Expr {
		c := expr.Call(expr.OpAddDays, e)
		c.N1 = int64(n)
		return c
	})
}

// AddMonths adds n calendar months to a date (the day is clamped to the month's end).
func (x Expr) AddMonths(n int) Expr {
	return x.with(func(e *expr.Expr) *expr.Expr {
		c := expr.Call(expr.OpAddMonths, e)
		c.N1 = int64(n)
		return c
	})
}

// AddYears adds n years to a date.
func (x Expr) AddYears(n int) Expr { return x.AddMonths(12 * n) }

// Date arithmetic also works with the operators: a date plus or minus an
// integer expression of days (Col("shipped").Add(Col("days"))) is a date,
// and a date minus a date the days between them (an int64).

// Cast converts x to type t: numbers among themselves (to integers rounding
// as PostgreSQL does), anything to String in its text form (1.5, 1.50 for a
// decimal(2), 1998-12-01, true), String to any type by parsing it (text that
// does not parse fails the query with ErrInvalidText), and booleans to and
// from integers.
func (x Expr) Cast(t DataType) Expr {
	return x.with(func(e *expr.Expr) *expr.Expr {
		c := expr.Call(expr.OpCast, e)
		c.To = t
		return c
	})
}

// CaseBuilder builds CASE WHEN … THEN … ELSE … END.
type CaseBuilder struct {
	args []Expr
	cond *Expr
}

// When starts a CASE expression.
func When(cond Expr) *CaseBuilder { return &CaseBuilder{cond: &cond} }

// Then gives the value for the last When.
func (c *CaseBuilder) Then(v any) *CaseBuilder {
	if c.cond == nil {
		c.args = append(c.args, Expr{err: fmt.Errorf("Then without When")})
		return c
	}
	c.args = append(c.args, *c.cond, toExpr(v))
	c.cond = nil
	return c
}

// When adds another condition.
func (c *CaseBuilder) When(cond Expr) *CaseBuilder { c.cond = &cond; return c }

// Otherwise gives the value when no condition holds and finishes the expression.
func (c *CaseBuilder) Otherwise(v any) Expr {
	if c.cond != nil {
		return Expr{err: fmt.Errorf("When without Then")}
	}
	return call(expr.OpCase, append(c.args, toExpr(v))...)
}

// Aggregates take a column name or an expression.

// Sum aggregates the sum of x (exact for decimals).
func Sum(x any) Expr { return call(expr.OpSum, colOrExpr(x)) }

// Avg aggregates the mean of x as float64.
func Avg(x any) Expr { return call(expr.OpAvg, colOrExpr(x)) }

// Min aggregates the minimum of x.
func Min(x any) Expr { return call(expr.OpMin, colOrExpr(x)) }

// Max aggregates the maximum of x.
func Max(x any) Expr { return call(expr.OpMax, colOrExpr(x)) }

// AnyValue aggregates the value of x in one of the group's rows (a
// non-null one where there is one): a column the group's keys determine,
// carried through without grouping by it (PostgreSQL's any_value).
func AnyValue(x any) Expr { return call(expr.OpAnyValue, colOrExpr(x)) }

// Count aggregates the number of non-null values of x.
func Count(x any) Expr { return call(expr.OpCount, colOrExpr(x)) }

// CountAll aggregates the number of rows.
func CountAll() Expr { return Expr{e: expr.Call(expr.OpCountStar)} }

// CountDistinct aggregates the number of distinct non-null values of x.
func CountDistinct(x any) Expr { return call(expr.OpCountDistinct, colOrExpr(x)) }

// SumDistinct aggregates the sum of x's distinct non-null values.
func SumDistinct(x any) Expr { return call(expr.OpSumDistinct, colOrExpr(x)) }

// AvgDistinct aggregates the mean of x's distinct non-null values as float64.
func AvgDistinct(x any) Expr { return call(expr.OpAvgDistinct, colOrExpr(x)) }

// SortKey orders a sort.
type SortKey struct {
	e          Expr
	desc       bool
	nullsFirst bool
}

// Asc sorts by x ascending (nulls last).
func Asc(x any) SortKey { return SortKey{e: colOrExpr(x)} }

// Desc sorts by x descending (nulls last).
func Desc(x any) SortKey { return SortKey{e: colOrExpr(x), desc: true} }

// NullsFirst puts nulls before other values.
func (k SortKey) NullsFirst() SortKey { k.nullsFirst = true; return k }

func colOrExpr(x any) Expr {
	if s, ok := x.(string); ok {
		return Col(s)
	}
	return toExpr(x)
}
