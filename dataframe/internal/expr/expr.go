package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Op is an expression operator.
type Op uint8

// Operators. Args lists each operator's operands; after Resolve every operand
// has the type given here (implicit casts are explicit OpCast nodes), Int32
// operands of arithmetic and of the numeric functions are widened to Int64, and
// a null literal takes whatever type its place wants.
//
// Null handling: unless said otherwise an operator is strict (a null operand
// makes the result null). Errors marked "raises" are *EvalError values thrown
// during evaluation (see errors.go), checked only at live rows whose operands
// are not null.
//
// Aggregates (OpSum…OpStringAggDistinct) appear only at the top of an aggregate
// list, never nested in scalar expressions; they stay last (IsAgg is a range).
const (
	OpInvalid   Op = iota
	OpCol          // Name: the column
	OpLit          // Val: the value
	OpAlias        // [x]; Name: the output name
	OpAdd          // [a, b] numbers of one type; or date + integer / integer + date → date
	OpSub          // [a, b] numbers of one type; or date - integer → date, date - date → Int64 days
	OpMul          // [a, b] numbers (decimal scales add up)
	OpDiv          // [a, b] numbers → Float64; division by zero is null (the API's Div)
	OpNeg          // [x] number
	OpEq           // [a, b] of one type (bools, numbers, strings, dates) → Bool
	OpNe           // as OpEq
	OpLt           // as OpEq
	OpLe           // as OpEq
	OpGt           // as OpEq
	OpGe           // as OpEq
	OpAnd          // [a, b] Bool; three-valued: false AND null = false
	OpOr           // [a, b] Bool; three-valued: true OR null = true
	OpNot          // [x] Bool
	OpIsNull       // [x] any type → Bool, never null
	OpIsNotNull    // [x] any type → Bool, never null
	OpIn           // [x]; List: literal values. Null when x is null, or when nothing matched and List holds a null
	OpBetween      // [x, lo, hi]; resolved into (x >= lo) AND (x <= hi)
	OpLike         // [x String]; Pattern: % any run, _ one character, \ escapes the next character
	OpNotLike      // as OpLike, negated
	OpSubstr       // [s] with N1 start, N2 length (constants), or [s, start] / [s, start, length] Int64: characters, PostgreSQL's rules; a negative length raises
	OpYear         // [x Date] → Int32
	OpAddMonths    // [x Date]; N1: months (day clamped to the month's end)
	OpAddDays      // [x Date]; N1: days
	OpCast         // [x]; To: the target type (see resolve.go for the conversions allowed)
	OpCase         // [cond1, val1, cond2, val2, …, else]; conditions Bool (null counts as false), values of one type

	OpIntDiv     // [a, b]: SQL's "/". Integers (Int64): quotient truncated toward zero; others as OpDiv (Float64). Raises on division by zero and on MinInt64 / -1
	OpMod        // [a, b] numbers of one type (Int64, Decimal, Float64): remainder with the sign of a; raises on b = 0
	OpAbs        // [x] number → same type; raises on MinInt64
	OpRound      // [x] or [x, n] with n an integer literal. Decimal (and integer with n): half away from zero, result scale max(n, 0); Float64: half to even; Int64 without n: unchanged
	OpCeil       // [x] number: Float64 → Float64, Decimal → Decimal(0), Int64 unchanged
	OpFloor      // [x] as OpCeil
	OpSign       // [x] number → -1, 0 or 1 of the same type (Decimal → Decimal(0))
	OpSqrt       // [x] Float64 → Float64; raises on x < 0
	OpPower      // [x, y] Float64 → Float64; raises on 0 ^ negative and negative ^ fraction
	OpLn         // [x] Float64 → Float64; raises on x <= 0
	OpLog10      // [x] Float64 → Float64 (SQL's log(x)); raises on x <= 0
	OpExp        // [x] Float64 → Float64; raises on overflow
	OpConcat     // [a, b]: SQL's "||"; one side String, the other cast to its text form → String
	OpConcatFn   // [args…] any types (cast to text) → String; null arguments are skipped, never null
	OpUpper      // [s String] → String (Unicode)
	OpLower      // [s String] → String (Unicode)
	OpLength     // [s String] → Int64 characters (not bytes)
	OpTrim       // [s] or [s, chars]: strips the characters of chars (default " ") from both ends
	OpLTrim      // as OpTrim, start only
	OpRTrim      // as OpTrim, end only
	OpReplace    // [s, from, to] String: every occurrence of from replaced (from = "" leaves s)
	OpStrpos     // [s, sub] String → Int64: 1-based character position of sub in s, 0 when absent (position(sub IN s))
	OpLeft       // [s String, n Int64]: the first n characters; n < 0: all but the last -n
	OpRight      // [s String, n Int64]: the last n characters; n < 0: all but the first -n
	OpStartsWith // [s, prefix] String → Bool
	OpILike      // [x String]; Pattern: as OpLike, case-insensitive
	OpNotILike   // as OpILike, negated
	OpCoalesce   // [args…] of one type: the first non-null argument (each evaluated only where the ones before are null)
	OpNullIf     // [a, b] of one type: null where a = b, else a
	OpGreatest   // [args…] of one type: the largest non-null argument; null only when all are
	OpLeast      // [args…] as OpGreatest, the smallest
	OpLPad       // [s, n Int64] or [s, n, fill]: s padded on the left with fill (default " ") to n characters, or cut to n
	OpRPad       // as OpLPad, on the right
	OpRepeat     // [s, n Int64]: s n times (none for n ≤ 0)
	OpReverse    // [s]: its characters in reverse order
	OpSplitPart  // [s, delim, n Int64]: the n-th field (1-based; from the end for n < 0) of s split at delim; "" past the fields
	OpConcatWs   // [sep, args…] String: the non-null args joined with sep (null when sep is)
	OpMD5        // [s String] → String: the MD5 digest of s's bytes in lowercase hex
	// [s, pattern] or [s, pattern, flags] String → Bool: whether pattern
	// (a PostgreSQL regular expression run by Go's RE2, see CompileRegex)
	// matches somewhere in s. SQL's ~ and regexp_like; ~* passes flags 'i'.
	OpRegexLike
	// [s, pattern, replacement] or [… , flags] String: s with the first
	// match of pattern (every match with flag 'g') replaced; \1…\9 and \&
	// in replacement stand for the match's groups and the whole match.
	OpRegexReplace
	OpExtract // [x Date]; Name: year, month, day, quarter, dow (0 = Sunday), isodow (7 = Sunday), doy, week (ISO) → Int32

	OpSum
	OpAvg
	OpMin
	OpMax
	OpCount
	OpCountStar
	OpCountDistinct
	OpSumDistinct // [x] number: the sum of its distinct non-null values
	OpAvgDistinct // [x] number: the mean of its distinct non-null values → Float64
	OpAnyValue    // [x] → x's type: x of one of its group's rows with x not null (null when there is none)
	// [x, delimiter, keys…] String → String: the group's non-null values
	// of x joined, each after its own row's delimiter (the first one's
	// dropped; a null delimiter is empty), in the order of the keys when
	// there are any (Order gives their directions), else in no set order;
	// null when the group has no non-null x (SQL's string_agg).
	OpStringAgg
	OpStringAggDistinct // as OpStringAgg, each distinct (x, delimiter) once

	// Window functions, computed over a row's window (see Over and
	// plan.Window): they appear only in a window's function list, as do
	// the aggregates OpSum…OpCountStar given an Over.
	OpRowNumber // [] → Int64: 1, 2, … in the window's order
	OpRank      // [] → Int64: 1 + the rows before the row's first peer
	OpDenseRank // [] → Int64: 1 + the distinct peer groups before the row's
	OpLag       // [x] or [x, default]; N1: offset ≥ 0. x of the row N1 rows before in the partition, else default (null)
	OpLead      // as OpLag, N1 rows after
	// [x] → x's type: x of the first row of the row's frame (frames start
	// at the partition's first row), of its last row, of its N1th (null
	// past the frame's end).
	OpFirstValue
	OpLastValue
	OpNthValue
	OpNtile       // [] ; N1 ≥ 1 buckets → Int64: the row's bucket, 1…N1, of the partition in order
	OpPercentRank // [] → Float64: (rank - 1) / (rows of the partition - 1), 0 for one row
	OpCumeDist    // [] → Float64: rows up to the row's last peer / rows of the partition
)

var opNames = map[Op]string{
	OpCol: "col", OpLit: "lit", OpAlias: "as", OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "/",
	OpNeg: "neg", OpEq: "=", OpNe: "<>", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=",
	OpAnd: "and", OpOr: "or", OpNot: "not", OpIsNull: "is_null", OpIsNotNull: "is_not_null",
	OpIn: "in", OpBetween: "between", OpLike: "like", OpNotLike: "not_like", OpSubstr: "substring",
	OpYear: "year", OpAddMonths: "add_months", OpAddDays: "add_days", OpCast: "cast", OpCase: "case",
	OpSum: "sum", OpAvg: "avg", OpMin: "min", OpMax: "max", OpCount: "count", OpCountStar: "count_star",
	OpCountDistinct: "count_distinct", OpSumDistinct: "sum_distinct", OpAvgDistinct: "avg_distinct", OpAnyValue: "any_value",
	OpIntDiv: "div", OpMod: "%", OpAbs: "abs", OpRound: "round", OpCeil: "ceil", OpFloor: "floor",
	OpSign: "sign", OpSqrt: "sqrt", OpPower: "power", OpLn: "ln", OpLog10: "log", OpExp: "exp",
	OpConcat: "||", OpConcatFn: "concat", OpUpper: "upper", OpLower: "lower", OpLength: "length",
	OpTrim: "btrim", OpLTrim: "ltrim", OpRTrim: "rtrim", OpReplace: "replace", OpStrpos: "strpos",
	OpLeft: "left", OpRight: "right", OpStartsWith: "starts_with", OpILike: "ilike",
	OpNotILike: "not_ilike", OpCoalesce: "coalesce", OpNullIf: "nullif", OpGreatest: "greatest",
	OpLeast: "least", OpLPad: "lpad", OpRPad: "rpad", OpRepeat: "repeat", OpReverse: "reverse", OpSplitPart: "split_part",
	OpConcatWs: "concat_ws", OpExtract: "extract", OpRowNumber: "row_number", OpRank: "rank",
	OpDenseRank: "dense_rank", OpLag: "lag", OpLead: "lead", OpFirstValue: "first_value", OpLastValue: "last_value",
	OpNthValue: "nth_value", OpNtile: "ntile", OpPercentRank: "percent_rank", OpCumeDist: "cume_dist",
	OpStringAgg: "string_agg", OpStringAggDistinct: "string_agg_distinct", OpMD5: "md5", OpRegexLike: "regexp_like",
	OpRegexReplace: "regexp_replace",
}

func (o Op) String() string { return opNames[o] }

// IsAgg reports whether o is an aggregate function.
func (o Op) IsAgg() bool { return o >= OpSum && o <= OpStringAggDistinct }

// IsWindow reports whether o is a window function (ranking, lag, lead,
// values at positions of the frame, distribution).
func (o Op) IsWindow() bool { return o >= OpRowNumber && o <= OpCumeDist }

// Windowable reports whether o can be computed over a window: a window
// function or an aggregate that is not DISTINCT.
func (o Op) Windowable() bool {
	return o.IsWindow() || (o >= OpSum && o <= OpCountStar)
}

// IsComparison reports whether o compares two values.
func (o Op) IsComparison() bool { return o >= OpEq && o <= OpGe }

// Value is a typed scalar. Date holds days in I, Decimal the scaled integer in I.
type Value struct {
	T    types.Type
	Null bool
	I    int64
	F    float64
	S    string
	B    bool
}

// Expr is an expression node. After Resolve, T and Nullable describe its result.
type Expr struct {
	Op      Op
	Name    string  // column name (OpCol), alias (OpAlias) or field (OpExtract)
	Args    []*Expr // operands (see the Op constants for each one's layout)
	Val     Value   // literal (OpLit)
	List    []Value // OpIn values
	Pattern string  // OpLike / OpNotLike / OpILike / OpNotILike
	N1, N2  int64   // OpSubstr start (1-based) and length; OpAddMonths/OpAddDays amount; OpLag/OpLead offset
	// Over is the window a window function or aggregate is computed over
	// (DataFrame.Select turns such calls into a plan.Window's columns).
	Over *Over
	// Order is the direction of each ORDER BY key of an ordered aggregate
	// (OpStringAgg): the keys are its arguments after the first two.
	Order    []Direction `json:",omitempty"`
	To       types.Type
	T        types.Type
	Nullable bool
	resolved bool
}

// Resolved reports whether the expression went through Resolve.
func (e *Expr) Resolved() bool { return e.resolved }

// Col references a column by name.
func Col(name string) *Expr { return &Expr{Op: OpCol, Name: name} }

// Lit makes a literal.
func Lit(v Value) *Expr { return &Expr{Op: OpLit, Val: v} }

// Call builds an operator node.
func Call(op Op, args ...*Expr) *Expr { return &Expr{Op: op, Args: args} }

// Alias names an expression.
func Alias(e *Expr, name string) *Expr { return &Expr{Op: OpAlias, Name: name, Args: []*Expr{e}} }

// OutputName is the column name an expression produces.
func (e *Expr) OutputName() string {
	switch e.Op {
	case OpAlias, OpCol:
		return e.Name
	}
	return e.String()
}

// Unalias strips a top-level alias.
func (e *Expr) Unalias() *Expr {
	for e.Op == OpAlias {
		e = e.Args[0]
	}
	return e
}

// Clone copies the node (not its children).
func (e *Expr) Clone() *Expr {
	c := *e
	c.Args = append([]*Expr(nil), e.Args...)
	return &c
}

// String is the canonical form, used for names, Explain and tokens.
func (e *Expr) String() string {
	var sb strings.Builder
	e.write(&sb)
	return sb.String()
}

func (e *Expr) write(sb *strings.Builder) {
	if e.Over != nil {
		c := *e
		c.Over = nil
		c.write(sb)
		sb.WriteString(" over (")
		sb.WriteString(e.Over.String())
		sb.WriteByte(')')
		return
	}
	switch e.Op {
	case OpCol:
		sb.WriteString(e.Name)
	case OpLit:
		sb.WriteString(e.Val.String())
	case OpAlias:
		e.Args[0].write(sb)
		sb.WriteString(" AS ")
		sb.WriteString(strconv.Quote(e.Name))
	case OpAdd, OpSub, OpMul, OpDiv, OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpAnd, OpOr, OpMod, OpConcat:
		sb.WriteByte('(')
		e.Args[0].write(sb)
		sb.WriteByte(' ')
		sb.WriteString(e.Op.String())
		sb.WriteByte(' ')
		e.Args[1].write(sb)
		sb.WriteByte(')')
	case OpIn:
		sb.WriteString("in(")
		e.Args[0].write(sb)
		for _, v := range e.List {
			sb.WriteString(", ")
			sb.WriteString(v.String())
		}
		sb.WriteByte(')')
	case OpLike, OpNotLike, OpILike, OpNotILike:
		sb.WriteString(e.Op.String())
		sb.WriteByte('(')
		e.Args[0].write(sb)
		sb.WriteString(", ")
		sb.WriteString(strconv.Quote(e.Pattern))
		sb.WriteByte(')')
	case OpSubstr:
		if len(e.Args) > 1 {
			e.writeCall(sb)
			return
		}
		fmt.Fprintf(sb, "substring(%s, %d, %d)", e.Args[0], e.N1, e.N2)
	case OpExtract:
		fmt.Fprintf(sb, "extract(%s from %s)", e.Name, e.Args[0])
	case OpAddMonths, OpAddDays:
		fmt.Fprintf(sb, "%s(%s, %d)", e.Op, e.Args[0], e.N1)
	case OpLag, OpLead:
		fmt.Fprintf(sb, "%s(%s, %d", e.Op, e.Args[0], e.N1)
		if len(e.Args) > 1 {
			fmt.Fprintf(sb, ", %s", e.Args[1])
		}
		sb.WriteByte(')')
	case OpCast:
		fmt.Fprintf(sb, "cast(%s AS %s)", e.Args[0], e.To)
	case OpCountStar:
		sb.WriteString("count(*)")
	case OpStringAgg, OpStringAggDistinct:
		e.writeOrderedAgg(sb)
	default:
		e.writeCall(sb)
	}
}

// writeOrderedAgg writes string_agg([DISTINCT ]x, d[ ORDER BY k [desc]
// [nulls first], …]).
func (e *Expr) writeOrderedAgg(sb *strings.Builder) {
	sb.WriteString("string_agg(")
	if e.Op == OpStringAggDistinct {
		sb.WriteString("distinct ")
	}
	fmt.Fprintf(sb, "%s, %s", e.Args[0], e.Args[1])
	for i, k := range e.Args[2:] {
		sep := ", "
		if i == 0 {
			sep = " order by "
		}
		sb.WriteString(sep)
		var d Direction
		if i < len(e.Order) {
			d = e.Order[i]
		}
		sb.WriteString(OrderKey{Expr: k, Desc: d.Desc, NullsFirst: d.NullsFirst}.String())
	}
	sb.WriteByte(')')
}

func (e *Expr) writeCall(sb *strings.Builder) {
	sb.WriteString(e.Op.String())
	sb.WriteByte('(')
	for i, a := range e.Args {
		if i > 0 {
			sb.WriteString(", ")
		}
		a.write(sb)
	}
	sb.WriteByte(')')
}

func (v Value) String() string {
	if v.Null {
		return "NULL::" + v.T.String()
	}
	switch v.T.ID {
	case types.Bool:
		return strconv.FormatBool(v.B)
	case types.Int32:
		return strconv.FormatInt(v.I, 10) + "::int32"
	case types.Int64:
		return strconv.FormatInt(v.I, 10)
	case types.Float64:
		return strconv.FormatFloat(v.F, 'g', -1, 64) + "::float64"
	case types.Decimal:
		return FormatDecimal(v.I, v.T.Scale)
	case types.Date:
		return "date '" + FormatDate(int32(v.I)) + "'"
	case types.String:
		return "'" + strings.ReplaceAll(v.S, "'", "''") + "'"
	}
	return "?"
}

// FormatDecimal prints a scaled integer with its decimals.
func FormatDecimal(x int64, scale int32) string {
	if scale == 0 {
		return strconv.FormatInt(x, 10)
	}
	neg := x < 0
	u := uint64(x)
	if neg {
		u = uint64(-x)
	}
	s := strconv.FormatUint(u, 10)
	for len(s) <= int(scale) {
		s = "0" + s
	}
	s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	if neg {
		s = "-" + s
	}
	return s
}

// ParseDecimal parses "123.45" into a scaled integer and its scale.
func ParseDecimal(s string) (int64, int32, error) {
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, 0, fmt.Errorf("invalid decimal %q", s)
	}
	if len(intPart)+len(frac) > 18 {
		return 0, 0, fmt.Errorf("decimal %q has more than 18 digits", s)
	}
	var v int64
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return 0, 0, fmt.Errorf("invalid decimal %q", s)
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, int32(len(frac)), nil
}

// DaysFromCivil converts a calendar date to days since 1970-01-01.
func DaysFromCivil(y, m, d int) int32 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int32(era*146097 + doe - 719468)
}

// CivilFromDays converts days since 1970-01-01 to a calendar date.
func CivilFromDays(z int32) (y, m, d int) {
	zz := int(z) + 719468
	era := zz / 146097
	if zz < 0 && zz%146097 != 0 {
		era = (zz - 146096) / 146097
	}
	doe := zz - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

// FormatDate prints days since the epoch as YYYY-MM-DD.
func FormatDate(days int32) string {
	y, m, d := CivilFromDays(days)
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (int32, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("invalid date %q (want YYYY-MM-DD)", s)
	}
	y, err1 := strconv.Atoi(s[:4])
	m, err2 := strconv.Atoi(s[5:7])
	d, err3 := strconv.Atoi(s[8:])
	if err1 != nil || err2 != nil || err3 != nil || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, fmt.Errorf("invalid date %q (want YYYY-MM-DD)", s)
	}
	if d > daysInMonth(y, m) {
		return 0, fmt.Errorf("date %q out of range (%d-%02d has %d days)", s, y, m, daysInMonth(y, m))
	}
	return DaysFromCivil(y, m, d), nil
}

// AddMonths adds n calendar months, clamping the day to the month's end.
func AddMonths(days int32, n int64) int32 {
	y, m, d := CivilFromDays(days)
	total := int64(y)*12 + int64(m-1) + n
	ny := int(total / 12)
	nm := int(total%12) + 1
	if total < 0 && total%12 != 0 {
		ny = int((total - 11) / 12)
		nm = int(total-int64(ny)*12) + 1
	}
	last := daysInMonth(ny, nm)
	if d > last {
		d = last
	}
	return DaysFromCivil(ny, nm, d)
}

func daysInMonth(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Float returns a numeric value as float64.
func (v Value) Float() float64 {
	switch v.T.ID {
	case types.Float64:
		return v.F
	case types.Decimal:
		return float64(v.I) / math.Pow10(int(v.T.Scale))
	}
	return float64(v.I)
}

// Walk calls f for e and every descendant (pre-order); f returning false stops descent.
func Walk(e *Expr, f func(*Expr) bool) {
	if !f(e) {
		return
	}
	for _, a := range e.Args {
		Walk(a, f)
	}
}

// Columns returns the distinct column names e references, in first-use order.
func Columns(e *Expr) []string {
	var out []string
	seen := map[string]bool{}
	Walk(e, func(x *Expr) bool {
		if x.Op == OpCol && !seen[x.Name] {
			seen[x.Name] = true
			out = append(out, x.Name)
		}
		return true
	})
	return out
}

// Conjuncts splits an AND tree.
func Conjuncts(e *Expr) []*Expr {
	if e == nil {
		return nil
	}
	if e.Op == OpAnd {
		return append(Conjuncts(e.Args[0]), Conjuncts(e.Args[1])...)
	}
	return []*Expr{e}
}

// Disjuncts splits an OR tree.
func Disjuncts(e *Expr) []*Expr {
	if e.Op == OpOr {
		return append(Disjuncts(e.Args[0]), Disjuncts(e.Args[1])...)
	}
	return []*Expr{e}
}

// And joins resolved predicates with AND (nil when empty).
func And(preds ...*Expr) *Expr {
	var out *Expr
	for _, p := range preds {
		if p == nil {
			continue
		}
		if out == nil {
			out = p
			continue
		}
		out = &Expr{Op: OpAnd, Args: []*Expr{out, p}, T: types.BoolType, Nullable: out.Nullable || p.Nullable, resolved: true}
	}
	return out
}

// Or joins resolved predicates with OR.
func Or(preds ...*Expr) *Expr {
	var out *Expr
	for _, p := range preds {
		if out == nil {
			out = p
			continue
		}
		out = &Expr{Op: OpOr, Args: []*Expr{out, p}, T: types.BoolType, Nullable: out.Nullable || p.Nullable, resolved: true}
	}
	return out
}

// Rewrite rebuilds e bottom-up, replacing each node by f(node) (f gets a node
// whose children are already rewritten).
func Rewrite(e *Expr, f func(*Expr) *Expr) *Expr {
	c := e.Clone()
	for i, a := range c.Args {
		c.Args[i] = Rewrite(a, f)
	}
	return f(c)
}

// RenameColumns replaces column references using m (old name → new name).
func RenameColumns(e *Expr, m map[string]string) *Expr {
	return Rewrite(e, func(x *Expr) *Expr {
		if x.Op == OpCol {
			if n, ok := m[x.Name]; ok {
				x.Name = n
			}
		}
		return x
	})
}

// Substitute replaces column references by expressions (resolved ones).
func Substitute(e *Expr, m map[string]*Expr) *Expr {
	return Rewrite(e, func(x *Expr) *Expr {
		if x.Op == OpCol {
			if r, ok := m[x.Name]; ok {
				return r.Unalias()
			}
		}
		return x
	})
}
