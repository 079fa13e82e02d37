package binder

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/sql/parser"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// bindBool binds a condition, which must be boolean.
func (b *binder) bindBool(e parser.Expr, c *ectx) *expr.Expr {
	x := b.bindExpr(e, c)
	if x.Op == expr.OpLit && x.Val.Null {
		x = b.resolve(e, expr.Lit(expr.Value{T: types.BoolType, Null: true}), nil)
	}
	if x.T.ID != types.Bool {
		failAt(e, "argument of WHERE/ON/HAVING must be boolean, not %s", x.T)
	}
	return x
}

// bindExpr binds a scalar expression in c, resolved against c's schema.
func (b *binder) bindExpr(e parser.Expr, c *ectx) *expr.Expr {
	if f, ok := e.(*parser.FuncCall); ok && f.Over != nil {
		if id, ok := c.win[f]; ok {
			return b.resolve(e, expr.Col(id), c.sch(b))
		}
		failAt(f, "window functions are not allowed here (only in the select list and ORDER BY)")
	}
	if c.agg != nil {
		if out := b.aboveAgg(e, c); out != nil {
			return out
		}
	}
	s := c.sch(b)
	res := func(x *expr.Expr) *expr.Expr { return b.resolve(e, x, c.sch(b)) }
	switch x := e.(type) {
	case *parser.Literal:
		return res(expr.Lit(b.literal(x)))
	case *parser.TypedLiteral:
		switch x.Type.Name {
		case "date":
			d, err := expr.ParseDate(strings.TrimSpace(x.Value))
			if err != nil {
				failAt(x, "invalid date %q: %v", x.Value, err)
			}
			return res(expr.Lit(expr.Value{T: types.DateType, I: int64(d)}))
		}
		failAt(x, "%s literals are not supported", x.Type.Name)
	case *parser.ColumnRef:
		col := b.lookup(c.sc, x)
		if c.agg != nil {
			failAt(x, "column %q must appear in the GROUP BY clause or be used in an aggregate function", strings.Join(x.Parts, "."))
		}
		return res(expr.Col(col.id))
	case *parser.Unary:
		a := b.bindExpr(x.X, c)
		switch x.Op {
		case parser.Not:
			return res(expr.Call(expr.OpNot, b.boolOf(x.X, a)))
		case parser.Neg:
			return res(expr.Call(expr.OpNeg, a))
		}
		return a
	case *parser.Binary:
		return b.bindBinary(x, c)
	case *parser.IsNull:
		op := expr.OpIsNull
		if x.Not {
			op = expr.OpIsNotNull
		}
		return res(expr.Call(op, b.bindExpr(x.X, c)))
	case *parser.IsDistinctFrom:
		l, r := b.pair(x, b.bindExpr(x.Left, c), b.bindExpr(x.Right, c))
		// a IS NOT DISTINCT FROM b: equal, or both NULL.
		same := expr.Call(expr.OpCase,
			expr.Call(expr.OpAnd, expr.Call(expr.OpIsNull, l), expr.Call(expr.OpIsNull, r)), lit(true),
			expr.Call(expr.OpOr, expr.Call(expr.OpIsNull, l), expr.Call(expr.OpIsNull, r)), lit(false),
			expr.Call(expr.OpEq, l, r))
		if !x.Not {
			return res(expr.Call(expr.OpNot, same))
		}
		return res(same)
	case *parser.IsBool:
		a := b.boolOf(x.X, b.bindExpr(x.X, c))
		// x IS TRUE is never NULL.
		isTrue := expr.Call(expr.OpCase, expr.Call(expr.OpIsNull, a), lit(false), expr.Call(expr.OpEq, a, lit(x.Value)))
		if x.Not {
			return res(expr.Call(expr.OpNot, isTrue))
		}
		return res(isTrue)
	case *parser.Between:
		v := b.bindExpr(x.X, c)
		lo, hi := b.bindExpr(x.Low, c), b.bindExpr(x.High, c)
		v1, lo := b.pair(x, v, lo)
		v2, hi := b.pair(x, v, hi)
		out := expr.Call(expr.OpAnd, expr.Call(expr.OpGe, v1, lo), expr.Call(expr.OpLe, v2, hi))
		if x.Not {
			out = expr.Call(expr.OpNot, out)
		}
		return res(out)
	case *parser.InList:
		return b.bindInList(x, c)
	case *parser.LikeExpr:
		if x.Op == parser.SimilarTo {
			failAt(x, "SIMILAR TO is not supported; use LIKE")
		}
		pat, ok := x.Pattern.(*parser.Literal)
		if !ok || pat.Kind != parser.LitString {
			failAt(x.Pattern, "the pattern of %s must be a string constant", x.Op)
		}
		pattern := pat.Value
		if x.Escape != nil {
			esc, ok := x.Escape.(*parser.Literal)
			if !ok || esc.Kind != parser.LitString {
				failAt(x.Escape, "ESCAPE takes a string constant")
			}
			p, err := expr.LikeEscape(pattern, esc.Value)
			if err != nil {
				failAt(x.Escape, "%v", err)
			}
			pattern = p
		}
		op := map[bool]map[bool]expr.Op{false: {false: expr.OpLike, true: expr.OpNotLike}, true: {false: expr.OpILike, true: expr.OpNotILike}}[x.Op == parser.ILike][x.Not]
		l := expr.Call(op, b.bindExpr(x.X, c))
		l.Pattern = pattern
		return res(l)
	case *parser.Case:
		return b.bindCase(x, c)
	case *parser.Cast:
		a := b.bindExpr(x.X, c)
		t := b.typeOf(&x.Type)
		if a.Op == expr.OpLit && a.Val.T.ID == types.String && !a.Val.Null {
			return res(expr.Lit(b.parseAs(x, a.Val.S, t)))
		}
		if a.Op == expr.OpLit && a.Val.Null {
			return res(expr.Lit(expr.Value{T: t, Null: true}))
		}
		return res(expr.CastTo(a, t))
	case *parser.Extract:
		a := b.bindExpr(x.X, c)
		switch x.Field {
		case "year", "month", "day", "quarter", "dow", "isodow", "doy", "week":
		default:
			failAt(x, "EXTRACT(%s FROM ...) is not supported (year, month, day, quarter, dow, isodow, doy and week are)", x.Field)
		}
		e := expr.Call(expr.OpExtract, a)
		e.Name = x.Field
		return res(e)
	case *parser.FuncCall:
		return b.bindCall(x, c)
	case *parser.Subquery:
		return b.scalarSubquery(x, c)
	case *parser.Exists:
		return b.existsValue(x, c)
	case *parser.InSubquery:
		return b.inValue(x, c)
	case *parser.Interval:
		failAt(x, "an interval can only be added to or subtracted from a date")
	case *parser.Row:
		failAt(x, "row values are not supported here")
	case *parser.Quantified:
		failAt(x, "%s %s (subquery) is supported only as a WHERE condition", x.Op, map[bool]string{true: "ALL", false: "ANY"}[x.All])
	case *parser.Star:
		failAt(x, "* is allowed only in a select list and count(*)")
	}
	_ = s
	failAt(e, "unsupported expression %s", e)
	return nil
}

func lit(v bool) *expr.Expr { return expr.Lit(expr.Value{T: types.BoolType, B: v}) }

// boolOf gives an untyped NULL the boolean type and checks a is boolean.
func (b *binder) boolOf(n parser.Node, a *expr.Expr) *expr.Expr {
	if a.Op == expr.OpLit && a.Val.Null {
		return b.resolve(n, expr.Lit(expr.Value{T: types.BoolType, Null: true}), nil)
	}
	if a.T.ID != types.Bool {
		failAt(n, "argument of NOT must be boolean, not %s", a.T)
	}
	return a
}

// aboveAgg binds, above an aggregation, an aggregate call or an
// expression equal to a group key as the aggregation's output column.
func (b *binder) aboveAgg(e parser.Expr, c *ectx) *expr.Expr {
	s := (*c.node).Schema()
	if f, ok := e.(*parser.FuncCall); ok && isAggregate(f) {
		if id, ok := c.agg.aggOf[f]; ok {
			return b.resolve(e, expr.Col(id), s)
		}
	}
	switch e.(type) {
	case *parser.Literal, *parser.Subquery, *parser.Exists, *parser.InSubquery:
		return nil
	}
	if hasAggregate(e) || hasSubquery(e) {
		return nil
	}
	// Bound below the aggregation, is it a group key?
	var bound *expr.Expr
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(bindPanic); !ok {
					panic(r)
				}
			}
		}()
		bound = b.bindExpr(e, &ectx{sc: c.agg.pre.sc, node: c.agg.pre.node})
	}()
	if bound == nil {
		return nil
	}
	if id, ok := c.agg.keyOf[bound.Unalias().String()]; ok {
		return b.resolve(e, expr.Col(id), s)
	}
	return nil
}

func hasAggregate(e parser.Expr) bool {
	found := false
	walkExpr(e, func(x parser.Expr) bool {
		if f, ok := x.(*parser.FuncCall); ok && isAggregate(f) {
			found = true
		}
		return !found
	})
	return found
}

// literal types a constant: integers as int64 (numeric beyond), decimals
// exactly, strings as text.
func (b *binder) literal(x *parser.Literal) expr.Value {
	switch x.Kind {
	case parser.LitNull:
		return expr.Value{T: types.Int64Type, Null: true}
	case parser.LitBool:
		return expr.Value{T: types.BoolType, B: x.Value == "true"}
	case parser.LitString:
		return expr.Value{T: types.StringType, S: x.Value}
	case parser.LitInteger:
		if n, err := strconv.ParseInt(x.Value, 10, 64); err == nil {
			return expr.Value{T: types.Int64Type, I: n}
		}
		f, _ := new(big.Float).SetString(x.Value)
		v, _ := f.Float64()
		return expr.Value{T: types.Float64Type, F: v}
	case parser.LitNumeric:
		if !strings.ContainsAny(x.Value, "eE") {
			if i, scale, err := expr.ParseDecimal(x.Value); err == nil && scale <= types.MaxDecimalScale {
				return expr.Value{T: types.DecimalType(scale), I: i}
			}
		}
		f, err := strconv.ParseFloat(x.Value, 64)
		if err != nil && !math.IsInf(f, 0) {
			failAt(x, "invalid number %s", x.Value)
		}
		return expr.Value{T: types.Float64Type, F: f}
	}
	failAt(x, "unsupported literal")
	return expr.Value{}
}

// parseAs converts a string constant to type t (a date, a number...).
func (b *binder) parseAs(n parser.Node, s string, t types.Type) expr.Value {
	s = strings.TrimSpace(s)
	switch t.ID {
	case types.String:
		return expr.Value{T: t, S: s}
	case types.Date:
		d, err := expr.ParseDate(s)
		if err != nil {
			failAt(n, "invalid input syntax for type date: %q", s)
		}
		return expr.Value{T: t, I: int64(d)}
	case types.Int32, types.Int64:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || (t.ID == types.Int32 && (i > math.MaxInt32 || i < math.MinInt32)) {
			failAt(n, "invalid input syntax for type integer: %q", s)
		}
		return expr.Value{T: t, I: i}
	case types.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			failAt(n, "invalid input syntax for type double precision: %q", s)
		}
		return expr.Value{T: t, F: f}
	case types.Decimal:
		i, scale, err := expr.ParseDecimal(s)
		if err != nil {
			failAt(n, "invalid input syntax for type numeric: %q", s)
		}
		for scale < t.Scale {
			i *= 10
			scale++
		}
		for scale > t.Scale {
			i /= 10
			scale--
		}
		return expr.Value{T: t, I: i}
	case types.Bool:
		switch strings.ToLower(s) {
		case "t", "true", "yes", "y", "on", "1":
			return expr.Value{T: t, B: true}
		case "f", "false", "no", "n", "off", "0":
			return expr.Value{T: t, B: false}
		}
		failAt(n, "invalid input syntax for type boolean: %q", s)
	}
	failAt(n, "cannot convert %q to %s", s, t)
	return expr.Value{}
}

// typeOf maps a SQL type name to the engine's type.
func (b *binder) typeOf(t *parser.TypeName) types.Type {
	switch t.Name {
	case "integer", "smallint", "tinyint":
		return types.Int32Type
	case "bigint":
		return types.Int64Type
	case "real", "double", "float":
		return types.Float64Type
	case "decimal", "numeric":
		scale := 0
		if len(t.Args) == 2 {
			scale = t.Args[1]
		}
		if len(t.Args) == 0 {
			scale = 4 // an unconstrained numeric: exact to 4 places
		}
		if scale > types.MaxDecimalScale {
			failAt(t, "decimal scale %d is beyond the supported %d", scale, types.MaxDecimalScale)
		}
		return types.DecimalType(int32(scale))
	case "varchar", "char", "text", "string":
		return types.StringType
	case "date":
		return types.DateType
	case "boolean":
		return types.BoolType
	}
	failAt(t, "type %s is not supported", t.Name)
	return types.Type{}
}

// pair fits two operands to each other: an untyped NULL or a string
// constant takes the other side's type (as PostgreSQL's unknown literals).
// A NULL constant imposes no type: 'd' IN ('b', NULL, 'd') compares
// strings, the NULL becoming a string.
func (b *binder) pair(n parser.Node, l, r *expr.Expr) (*expr.Expr, *expr.Expr) {
	adapt := func(x, other *expr.Expr) *expr.Expr {
		if x.Op != expr.OpLit || other.T == x.T || other.Op == expr.OpLit && other.Val.Null && !x.Val.Null {
			return x
		}
		if x.Val.Null {
			return b.resolve(n, expr.Lit(expr.Value{T: other.T, Null: true}), nil)
		}
		if x.Val.T.ID == types.String && other.T.ID != types.String {
			return b.resolve(n, expr.Lit(b.parseAs(n, x.Val.S, other.T)), nil)
		}
		return x
	}
	return adapt(l, r), adapt(r, l)
}

func (b *binder) bindBinary(x *parser.Binary, c *ectx) *expr.Expr {
	res := func(e *expr.Expr) *expr.Expr { return b.resolve(x, e, c.sch(b)) }
	// date ± interval
	if iv, ok := x.Right.(*parser.Interval); ok && (x.Op == parser.Add || x.Op == parser.Sub) {
		d := b.bindExpr(x.Left, c)
		months, days := b.interval(iv)
		if x.Op == parser.Sub {
			months, days = -months, -days
		}
		out := d
		if months != 0 {
			m := expr.Call(expr.OpAddMonths, out)
			m.N1 = months
			out = m
		}
		if days != 0 || months == 0 {
			a := expr.Call(expr.OpAddDays, out)
			a.N1 = days
			out = a
		}
		return res(out)
	}
	l, r := b.bindExpr(x.Left, c), b.bindExpr(x.Right, c)
	if x.Op >= parser.Match && x.Op <= parser.NotIMatch {
		return res(b.regexMatch(x, l, r))
	}
	ops := map[parser.BinaryOp]expr.Op{parser.Or: expr.OpOr, parser.And: expr.OpAnd, parser.Eq: expr.OpEq, parser.Ne: expr.OpNe,
		parser.Lt: expr.OpLt, parser.Le: expr.OpLe, parser.Gt: expr.OpGt, parser.Ge: expr.OpGe,
		parser.Add: expr.OpAdd, parser.Sub: expr.OpSub, parser.Mul: expr.OpMul, parser.Div: expr.OpIntDiv,
		parser.Mod: expr.OpMod, parser.Concat: expr.OpConcat, parser.Pow: expr.OpPower}
	op, ok := ops[x.Op]
	if !ok {
		failAt(x, "operator %s is not supported", x.Op)
	}
	if x.Op == parser.And || x.Op == parser.Or {
		return res(expr.Call(op, b.boolOf(x.Left, l), b.boolOf(x.Right, r)))
	}
	if op == expr.OpConcat && (l.T.ID == types.String) != (r.T.ID == types.String) {
		// PostgreSQL's text || anynonarray: the other operand as text
		// ('x' || 1 is 'x1').
		if l.T.ID != types.String {
			l = expr.CastTo(l, types.StringType)
		} else {
			r = expr.CastTo(r, types.StringType)
		}
		return res(expr.Call(op, l, r))
	}
	l, r = b.pair(x, l, r)
	if op == expr.OpAdd && l.T.ID == types.Date && r.T.IsInteger() && r.Op == expr.OpLit {
		a := expr.Call(expr.OpAddDays, l)
		a.N1 = r.Val.I
		return res(a)
	}
	return res(expr.Call(op, l, r))
}

// regexMatch is s ~ pattern (~* case-insensitive, !~ and !~* negated) as
// regexp_like(s, pattern[, 'i']).
func (b *binder) regexMatch(x *parser.Binary, s, pattern *expr.Expr) *expr.Expr {
	for _, a := range []*expr.Expr{s, pattern} {
		if a.T.ID != types.String && !(a.Op == expr.OpLit && a.Val.Null) {
			failAt(x, "operator does not exist: %s %s %s (it matches text: cast with ::text)", s.T, x.Op, pattern.T)
		}
	}
	args := []*expr.Expr{s, pattern}
	if x.Op == parser.IMatch || x.Op == parser.NotIMatch {
		args = append(args, expr.Lit(expr.Value{T: types.StringType, S: "i"}))
	}
	m := expr.Call(expr.OpRegexLike, args...)
	if x.Op == parser.NotMatch || x.Op == parser.NotIMatch {
		return expr.Call(expr.OpNot, m)
	}
	return m
}

// interval reads INTERVAL 'n' unit as months and days.
func (b *binder) interval(iv *parser.Interval) (months, days int64) {
	val, unit := strings.TrimSpace(iv.Value), iv.Unit
	if unit == "" {
		f := strings.Fields(val)
		if len(f) != 2 {
			failAt(iv, "interval %q: want a number and a unit, such as '3 months'", iv.Value)
		}
		val, unit = f[0], strings.TrimSuffix(strings.ToLower(f[1]), "s")
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil {
		failAt(iv, "interval %q: %q is not a whole number", iv.Value, val)
	}
	switch unit {
	case "year":
		return 12 * n, 0
	case "month":
		return n, 0
	case "day":
		return 0, n
	case "week":
		return 0, 7 * n
	}
	failAt(iv, "interval unit %s is not supported on dates (year, month, week, day are)", unit)
	return 0, 0
}

func (b *binder) bindInList(x *parser.InList, c *ectx) *expr.Expr {
	v := b.bindExpr(x.X, c)
	if len(x.List) == 0 {
		// x IN (): false whatever x is, NOT IN (): true (SQLite's).
		return b.resolve(x, expr.Lit(expr.Value{T: types.BoolType, B: x.Not}), nil)
	}
	items := make([]*expr.Expr, len(x.List))
	for i, it := range x.List {
		items[i] = b.bindExpr(it, c)
	}
	if v.Op == expr.OpLit && v.Val.Null {
		// An untyped NULL takes the list's type: NULL IN ('b', 'c').
		for _, e := range items {
			if e.Op != expr.OpLit || !e.Val.Null {
				v, _ = b.pair(x, v, e)
				break
			}
		}
	}
	var vals []expr.Value
	var others []*expr.Expr
	for _, e := range items {
		_, e = b.pair(x, v, e)
		// (a constant of another type that v's does not hold exactly,
		// 1 IN (1.5, 2.0), is compared as = compares them: promoted)
		if e.Op == expr.OpLit && !e.Val.Null && expr.Converts(e.Val, v.T) {
			vals = append(vals, e.Val)
		} else {
			others = append(others, e)
		}
	}
	var out *expr.Expr
	if len(vals) > 0 {
		out = expr.Call(expr.OpIn, v)
		out.List = vals
	}
	for _, o := range others {
		eq := expr.Call(expr.OpEq, v, o)
		if out == nil {
			out = eq
		} else {
			out = expr.Call(expr.OpOr, out, eq)
		}
	}
	if x.Not {
		out = expr.Call(expr.OpNot, out)
	}
	return b.resolve(x, out, c.sch(b))
}

func (b *binder) bindCase(x *parser.Case, c *ectx) *expr.Expr {
	var args []*expr.Expr
	var operand *expr.Expr
	if x.Operand != nil {
		operand = b.bindExpr(x.Operand, c)
	}
	for _, w := range x.Whens {
		cond := b.bindExpr(w.Cond, c)
		if operand != nil {
			l, r := b.pair(w, operand, cond)
			cond = b.resolve(w, expr.Call(expr.OpEq, l, r), c.sch(b))
		}
		args = append(args, b.boolOf(w.Cond, cond), b.bindExpr(w.Result, c))
	}
	if x.Else != nil {
		args = append(args, b.bindExpr(x.Else, c))
	} else {
		args = append(args, expr.Lit(expr.Value{T: types.Int64Type, Null: true}))
	}
	// (NULL branches take the others' type in the engine's own check.)
	return b.resolve(x, expr.Call(expr.OpCase, args...), c.sch(b))
}

func (b *binder) bindCall(x *parser.FuncCall, c *ectx) *expr.Expr {
	if isAggregate(x) {
		if c.agg == nil {
			failAt(x, "aggregate function %s is not allowed here", x.Name)
		}
		failAt(x, "aggregate function calls cannot be nested")
	}
	args := make([]*expr.Expr, len(x.Args))
	for i, a := range x.Args {
		args[i] = b.bindExpr(a, c)
	}
	res := func(e *expr.Expr) *expr.Expr { return b.resolve(x, e, c.sch(b)) }
	arity := func(lo, hi int) {
		if len(args) < lo || len(args) > hi {
			want := fmt.Sprint(lo)
			if hi > lo {
				want = fmt.Sprintf("%d to %d", lo, hi)
			}
			if hi == manyArgs {
				want = fmt.Sprintf("at least %d", lo)
			}
			failAt(x, "%s takes %s arguments, got %d", x.Name, want, len(args))
		}
	}
	switch x.Name {
	case "substring", "substr":
		arity(2, 3)
		if len(args) == 2 {
			if k, ok := litInt(args[1]); ok {
				s := expr.Call(expr.OpSubstr, args[0])
				s.N1, s.N2 = k, math.MaxInt32
				if k >= 1 {
					return res(s)
				}
			}
		}
		if len(args) == 3 {
			k, ok1 := litInt(args[1])
			n, ok2 := litInt(args[2])
			if ok1 && ok2 && k >= 1 && n >= 0 {
				s := expr.Call(expr.OpSubstr, args[0])
				s.N1, s.N2 = k, n
				return res(s)
			}
		}
		return res(expr.Call(expr.OpSubstr, args...))
	case "position":
		arity(2, 2) // position(sub IN s)
		return res(expr.Call(expr.OpStrpos, args[1], args[0]))
	case "round":
		arity(1, 2)
		return res(expr.Call(expr.OpRound, args...))
	case "year":
		arity(1, 1)
		return res(expr.Call(expr.OpYear, args[0]))
	case "coalesce", "greatest", "least":
		arity(1, manyArgs)
		return res(expr.Call(map[string]expr.Op{"coalesce": expr.OpCoalesce, "greatest": expr.OpGreatest, "least": expr.OpLeast}[x.Name], b.unite(x, args)...))
	case "nullif":
		arity(2, 2)
		l, r := b.pair(x, args[0], args[1])
		return res(expr.Call(expr.OpNullIf, l, r))
	case "concat":
		arity(1, manyArgs)
		return res(expr.Call(expr.OpConcatFn, args...))
	case "trunc":
		// trunc(x): toward zero (floor of a positive, ceil of a negative).
		arity(1, 1)
		a := args[0]
		if a.T.IsInteger() {
			return a
		}
		neg := b.resolve(x, expr.Call(expr.OpLt, a, expr.Lit(expr.Value{T: types.Int64Type})), c.sch(b))
		return res(expr.Call(expr.OpCase, neg, expr.Call(expr.OpCeil, a), expr.Call(expr.OpFloor, a)))
	case "current_date":
		return res(expr.Lit(expr.Value{T: types.DateType, I: int64(b.currentDate())}))
	case "date_part":
		// date_part('field', d) is EXTRACT(field FROM d).
		arity(2, 2)
		f := args[0]
		if f.Op != expr.OpLit || f.Val.T.ID != types.String || f.Val.Null {
			failAt(x.Args[0], "date_part takes the field as a string constant, such as 'year'")
		}
		return b.bindExpr(&parser.Extract{Span: x.Span, Field: strings.ToLower(f.Val.S), X: x.Args[1]}, c)
	}
	if f, ok := scalarFuncs[x.Name]; ok {
		arity(f.min, f.max)
		return res(expr.Call(f.op, args...))
	}
	msg := fmt.Sprintf("function %s does not exist", x.Name)
	var names []string
	for n := range scalarFuncs {
		names = append(names, n)
	}
	names = append(names, "substring", "position", "round", "coalesce", "greatest", "least", "nullif", "concat", "trunc", "date_part",
		"sum", "avg", "min", "max", "count", "any_value", "string_agg")
	if sug := suggest(x.Name, names); sug != "" {
		msg += fmt.Sprintf("; did you mean %s?", sug)
	}
	failAt(x, "%s", msg)
	return nil
}

const manyArgs = 1 << 20

// scalarFuncs are the functions that map to one operator.
var scalarFuncs = map[string]struct {
	op       expr.Op
	min, max int
}{
	"abs": {expr.OpAbs, 1, 1}, "ceil": {expr.OpCeil, 1, 1}, "ceiling": {expr.OpCeil, 1, 1}, "floor": {expr.OpFloor, 1, 1},
	"sign": {expr.OpSign, 1, 1}, "sqrt": {expr.OpSqrt, 1, 1}, "power": {expr.OpPower, 2, 2}, "pow": {expr.OpPower, 2, 2},
	"ln": {expr.OpLn, 1, 1}, "log": {expr.OpLog10, 1, 1}, "log10": {expr.OpLog10, 1, 1}, "exp": {expr.OpExp, 1, 1},
	"mod": {expr.OpMod, 2, 2}, "upper": {expr.OpUpper, 1, 1}, "lower": {expr.OpLower, 1, 1},
	"length": {expr.OpLength, 1, 1}, "char_length": {expr.OpLength, 1, 1}, "character_length": {expr.OpLength, 1, 1},
	"btrim": {expr.OpTrim, 1, 2}, "trim": {expr.OpTrim, 1, 2}, "ltrim": {expr.OpLTrim, 1, 2}, "rtrim": {expr.OpRTrim, 1, 2},
	"replace": {expr.OpReplace, 3, 3}, "strpos": {expr.OpStrpos, 2, 2}, "left": {expr.OpLeft, 2, 2}, "right": {expr.OpRight, 2, 2},
	"starts_with": {expr.OpStartsWith, 2, 2}, "lpad": {expr.OpLPad, 2, 3}, "rpad": {expr.OpRPad, 2, 3},
	"repeat": {expr.OpRepeat, 2, 2}, "reverse": {expr.OpReverse, 1, 1}, "split_part": {expr.OpSplitPart, 3, 3},
	"concat_ws": {expr.OpConcatWs, 1, manyArgs}, "md5": {expr.OpMD5, 1, 1},
	"regexp_like": {expr.OpRegexLike, 2, 3}, "regexp_replace": {expr.OpRegexReplace, 3, 4},
}

// unite gives untyped NULLs among args the type of the others.
func (b *binder) unite(n parser.Node, args []*expr.Expr) []*expr.Expr {
	out := append([]*expr.Expr{}, args...)
	for _, a := range args {
		if !(a.Op == expr.OpLit && a.Val.Null) {
			for i := range out {
				out[i], _ = b.pair(n, out[i], a)
			}
			break
		}
	}
	return out
}

func litInt(e *expr.Expr) (int64, bool) {
	if e.Op != expr.OpLit || e.Val.Null || !e.T.IsInteger() {
		return 0, false
	}
	return e.Val.I, true
}
