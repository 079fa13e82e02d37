package eval

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// truth is every pair of {true, false, null}.
var truth = pairs(
	boolean(true), boolean(true), boolean(true), boolean(false), boolean(true), nullB,
	boolean(false), boolean(true), boolean(false), boolean(false), boolean(false), nullB,
	nullB, boolean(true), nullB, boolean(false), nullB, nullB,
)

func TestThreeValuedLogic(t *testing.T) {
	runCases(t, []evalCase{
		{call(expr.OpAnd, colA, colB), truth, strs("true", "false", "NULL", "false", "false", "false", "NULL", "false", "NULL")},
		{call(expr.OpOr, colA, colB), truth, strs("true", "true", "true", "true", "false", "NULL", "true", "NULL", "NULL")},
		{call(expr.OpNot, colA), rowsOf(boolean(true), boolean(false), nullB), strs("false", "true", "NULL")},
		{call(expr.OpNot, call(expr.OpAnd, colA, colB)), truth, strs("false", "true", "NULL", "true", "true", "true", "NULL", "true", "NULL")},
		{call(expr.OpIsNull, colA), rowsOf(boolean(true), nullB), strs("false", "true")},
		{call(expr.OpIsNotNull, colA), rowsOf(i64(1), nullI), strs("true", "false")},
		// Booleans compare as values (false < true).
		{call(expr.OpEq, colA, colB), truth, strs("true", "false", "NULL", "false", "true", "NULL", "NULL", "NULL", "NULL")},
		{call(expr.OpLt, colA, colB), truth, strs("false", "false", "NULL", "true", "false", "NULL", "NULL", "NULL", "NULL")},
		{call(expr.OpEq, colA, litOf(boolean(true))), rowsOf(boolean(true), boolean(false), nullB), strs("true", "false", "NULL")},
		// An untyped NULL literal is a boolean here.
		{call(expr.OpAnd, colA, litOf(null(types.Type{}))), rowsOf(boolean(true), boolean(false), nullB), strs("NULL", "false", "NULL")},
		{call(expr.OpOr, litOf(nullI), colA), rowsOf(boolean(true), boolean(false)), strs("true", "NULL")},
		{call(expr.OpNe, colA, colB), pairs(i64(1), i64(2), i64(1), nullI, nullI, i64(3)), strs("true", "NULL", "NULL")},
		{call(expr.OpLt, colA, colB), pairs(str("a"), str("b"), str("b"), nullS, nullS, str("a")), strs("true", "NULL", "NULL")},
		// AND evaluates its right side only where the left does not decide.
		{call(expr.OpAnd, call(expr.OpNe, colB, litOf(i64(0))), call(expr.OpGt, call(expr.OpIntDiv, colA, colB), litOf(i64(1)))),
			pairs(i64(10), i64(0), i64(10), i64(2), i64(1), i64(2), i64(5), nullI), strs("false", "true", "false", "NULL")},
		{call(expr.OpOr, call(expr.OpEq, colB, litOf(i64(0))), call(expr.OpGt, call(expr.OpIntDiv, colA, colB), litOf(i64(1)))),
			pairs(i64(10), i64(0), i64(10), i64(2), i64(1), i64(2)), strs("true", "true", "false")},
	})
}

func TestIn(t *testing.T) {
	in := func(list ...expr.Value) *expr.Expr {
		e := call(expr.OpIn, colA)
		e.List = list
		return e
	}
	runCases(t, []evalCase{
		{in(i64(1), i64(2)), rowsOf(i64(1), i64(3), nullI), strs("true", "false", "NULL")},
		{in(i64(1), nullI), rowsOf(i64(1), i64(3), nullI), strs("true", "NULL", "NULL")},
		{call(expr.OpNot, in(i64(1), nullI)), rowsOf(i64(1), i64(3), nullI), strs("false", "NULL", "NULL")},
		{in(str("a"), nullS), rowsOf(str("a"), str("b")), strs("true", "NULL")},
		{in(str("1"), str("3")), rowsOf(i64(1), i64(2)), strs("true", "false")}, // quoted literals read as the column's type
		{in(f64(1.5)), rowsOf(f64(1.5), f64(2)), strs("true", "false")},
		{in(boolean(true)), rowsOf(boolean(true), boolean(false), nullB), strs("true", "false", "NULL")},
	})
}

func TestBetweenAndCase(t *testing.T) {
	between := call(expr.OpBetween, colA, colB, colC)
	tri := func(a, b, c expr.Value) []expr.Value { return []expr.Value{a, b, c} }
	runCases(t, []evalCase{
		{between, [][]expr.Value{tri(i64(2), i64(1), i64(3)), tri(i64(5), i64(1), i64(3)), tri(nullI, i64(1), i64(3)),
			tri(i64(5), nullI, i64(3)), tri(i64(2), nullI, i64(3)), tri(i64(2), i64(1), nullI)},
			strs("true", "false", "NULL", "false", "NULL", "NULL")},
		{call(expr.OpNot, between), [][]expr.Value{tri(i64(2), i64(1), i64(3)), tri(i64(5), nullI, i64(3)), tri(i64(2), nullI, i64(3))},
			strs("false", "true", "NULL")},
		// CASE with null branches; a condition that is null is not taken.
		{call(expr.OpCase, call(expr.OpGt, colA, litOf(i64(0))), litOf(str("pos")), litOf(nullI)),
			rowsOf(i64(1), i64(-1), nullI), strs("pos", "NULL", "NULL")},
		{call(expr.OpCase, call(expr.OpGt, colA, litOf(i64(0))), litOf(nullI), colA),
			rowsOf(i64(1), i64(-1), nullI), strs("NULL", "-1", "NULL")},
		{call(expr.OpCase, call(expr.OpGt, colA, litOf(i64(0))), litOf(f64(0.5)), colA),
			rowsOf(i64(1), i64(-1)), strs("0.5", "-1")},
		// Branches not taken are not evaluated (no division by zero).
		{call(expr.OpCase, call(expr.OpEq, colB, litOf(i64(0))), litOf(str("none")),
			call(expr.OpConcat, litOf(str("q=")), call(expr.OpIntDiv, colA, colB))),
			pairs(i64(7), i64(0), i64(7), i64(2)), strs("none", "q=3")},
		{call(expr.OpCase, call(expr.OpEq, colB, litOf(i64(0))), litOf(nullI), call(expr.OpIntDiv, colA, colB)),
			pairs(i64(7), i64(0), i64(7), i64(2)), strs("NULL", "3")},
	})
}

func TestArithmetic(t *testing.T) {
	runCases(t, []evalCase{
		{call(expr.OpIntDiv, colA, colB), pairs(i64(7), i64(2), i64(-7), i64(2), i64(7), i64(-2), i64(1), nullI,
			nullI, i64(0), i64(math.MinInt64), i64(1), i64(math.MaxInt64), i64(-1)),
			strs("3", "-3", "-3", "NULL", "NULL", "-9223372036854775808", "-9223372036854775807")},
		{call(expr.OpIntDiv, colA, colB), pairs(i32(7), i32(2), i32(-9), i32(4)), strs("3", "-2")},
		{call(expr.OpIntDiv, colA, colB), pairs(dec("7.50"), dec("2.5")), strs("3")},
		{call(expr.OpIntDiv, colA, colB), pairs(f64(7), f64(2)), strs("3.5")},
		{call(expr.OpMod, colA, colB), pairs(i64(7), i64(3), i64(-7), i64(3), i64(7), i64(-3), i64(-7), i64(-3),
			i64(math.MinInt64), i64(-1), i64(5), nullI),
			strs("1", "-1", "1", "-1", "0", "NULL")},
		{call(expr.OpMod, colA, colB), pairs(dec("7.5"), dec("2.00"), dec("-7.5"), dec("2.00")), strs("1.50", "-1.50")},
		{call(expr.OpMod, colA, colB), pairs(f64(7.5), f64(2), f64(-7.5), f64(2)), strs("1.5", "-1.5")},
		{call(expr.OpMod, colA, colB), pairs(i32(7), i64(4)), strs("3")},
		{call(expr.OpAdd, colA, colB), pairs(date("1998-12-01"), i64(31), date("2000-02-28"), i64(1)), strs("1999-01-01", "2000-02-29")},
		{call(expr.OpAdd, colA, colB), pairs(i64(1), date("1999-12-31")), strs("2000-01-01")},
		{call(expr.OpSub, colA, colB), pairs(date("1998-12-01"), i64(1), date("1998-12-01"), nullI), strs("1998-11-30", "NULL")},
		{call(expr.OpSub, colA, colB), pairs(date("1998-12-01"), date("1998-01-01"), date("1998-01-01"), date("1998-12-01")), strs("334", "-334")},
		{call(expr.OpSub, colA, litOf(str("1998-01-01"))), rowsOf(date("1998-01-31")), strs("30")},
	})
}

func TestMath(t *testing.T) {
	round := func(x *expr.Expr, n int64) *expr.Expr { return call(expr.OpRound, x, litOf(i64(n))) }
	runCases(t, []evalCase{
		{call(expr.OpAbs, colA), rowsOf(i64(-3), i64(3), nullI, i64(math.MaxInt64)), strs("3", "3", "NULL", "9223372036854775807")},
		{call(expr.OpAbs, colA), rowsOf(i32(-3)), strs("3")},
		{call(expr.OpAbs, colA), rowsOf(dec("-1.50"), null(types.DecimalType(2))), strs("1.50", "NULL")},
		{call(expr.OpAbs, colA), rowsOf(f64(-0.5), f64(math.Inf(-1))), strs("0.5", "Infinity")},
		// round(double precision) is half to even; numeric is half away from zero.
		{call(expr.OpRound, colA), rowsOf(f64(0.5), f64(1.5), f64(2.5), f64(-2.5), f64(2.4)), strs("0", "2", "2", "-2", "2")},
		{call(expr.OpRound, colA), rowsOf(dec("0.5"), dec("1.5"), dec("2.5"), dec("-2.5"), dec("2.4")), strs("1", "2", "3", "-3", "2")},
		{round(colA, 1), rowsOf(dec("2.45"), dec("-2.45"), dec("2.44")), strs("2.5", "-2.5", "2.4")},
		{round(colA, 3), rowsOf(dec("2.45")), strs("2.450")},
		{round(colA, -2), rowsOf(dec("1250.00"), dec("-1249.99")), strs("1300", "-1200")},
		{round(colA, -2), rowsOf(i64(1250), i64(49), i64(-150)), strs("1300", "0", "-200")},
		{round(colA, 2), rowsOf(i64(5)), strs("5.00")},
		{round(colA, 1), rowsOf(f64(2.25), f64(-0.35)), strs("2.3", "-0.4")},
		{call(expr.OpRound, colA), rowsOf(i64(7)), strs("7")},
		{call(expr.OpCeil, colA), rowsOf(f64(1.2), f64(-1.2), nullF), strs("2", "-1", "NULL")},
		{call(expr.OpCeil, colA), rowsOf(dec("1.20"), dec("-1.20"), dec("2.00")), strs("2", "-1", "2")},
		{call(expr.OpFloor, colA), rowsOf(dec("1.20"), dec("-1.20"), dec("-2.00")), strs("1", "-2", "-2")},
		{call(expr.OpFloor, colA), rowsOf(f64(-0.5), f64(2.5)), strs("-1", "2")},
		{call(expr.OpFloor, colA), rowsOf(i64(3)), strs("3")},
		{call(expr.OpSign, colA), rowsOf(i64(-5), i64(0), i64(9)), strs("-1", "0", "1")},
		{call(expr.OpSign, colA), rowsOf(dec("-0.01"), dec("0.00")), strs("-1", "0")},
		{call(expr.OpSign, colA), rowsOf(f64(-2.5), f64(0)), strs("-1", "0")},
		{call(expr.OpSqrt, colA), rowsOf(f64(2.25), f64(0), nullF), strs("1.5", "0", "NULL")},
		{call(expr.OpSqrt, colA), rowsOf(i64(16)), strs("4")},
		{call(expr.OpSqrt, colA), rowsOf(dec("6.25")), strs("2.5")},
		{call(expr.OpPower, colA, colB), pairs(f64(2), f64(10), f64(2), f64(-1), f64(-8), f64(3), f64(0), f64(0)), strs("1024", "0.5", "-512", "1")},
		{call(expr.OpPower, colA, colB), pairs(i64(2), i64(3)), strs("8")},
		{call(expr.OpLn, colA), rowsOf(f64(1), f64(math.E)), strs("0", "1")},
		{call(expr.OpLog10, colA), rowsOf(f64(1000), f64(0.01)), strs("3", "-2")},
		{call(expr.OpExp, colA), rowsOf(f64(0), f64(1), nullF), strs("1", "2.718281828459045", "NULL")},
	})
}

func TestStrings(t *testing.T) {
	trimChars := func(op expr.Op) *expr.Expr { return call(op, colA, colB) }
	runCases(t, []evalCase{
		{call(expr.OpConcat, colA, colB), pairs(str("ab"), str("cd"), str(""), str(""), str("x"), nullS), strs("abcd", "", "NULL")},
		{call(expr.OpConcat, colA, colB), pairs(str("n="), i64(5), str("f="), i64(-1)), strs("n=5", "f=-1")},
		{call(expr.OpConcat, colA, colB), pairs(f64(1.5), str("!")), strs("1.5!")},
		{call(expr.OpConcat, colA, colB), pairs(dec("1.50"), str("|")), strs("1.50|")},
		{call(expr.OpConcat, colA, colB), pairs(date("1998-12-01"), str("|"), date("1998-01-01"), nullS), strs("1998-12-01|", "NULL")},
		{call(expr.OpConcat, colA, colB), pairs(boolean(true), str("|")), strs("true|")},
		{call(expr.OpConcatFn, colA, colB, colC), [][]expr.Value{{str("a"), nullI, str("c")}, {nullS, nullI, nullS}, {str("x"), i64(1), str("")}},
			strs("ac", "", "x1")},
		{call(expr.OpUpper, colA), rowsOf(str("abc"), str("straße"), str("émile"), str(""), nullS), strs("ABC", "STRAßE", "ÉMILE", "", "NULL")},
		{call(expr.OpLower, colA), rowsOf(str("ABC"), str("ÉMILE"), str("ΣΑΣ")), strs("abc", "émile", "σασ")},
		{call(expr.OpLength, colA), rowsOf(str("abc"), str("émile"), str(""), str("日本語"), nullS), strs("3", "5", "0", "3", "NULL")},
		{call(expr.OpTrim, colA), rowsOf(str("  a b  "), str(""), str("   ")), strs("a b", "", "")},
		{call(expr.OpLTrim, colA), rowsOf(str("  a  ")), strs("a  ")},
		{call(expr.OpRTrim, colA), rowsOf(str("  a  ")), strs("  a")},
		{trimChars(expr.OpTrim), pairs(str("xxaxyx"), str("xy"), str("ééaé"), str("é")), strs("a", "a")},
		{trimChars(expr.OpLTrim), pairs(str("xxaxyx"), str("xy")), strs("axyx")},
		{trimChars(expr.OpRTrim), pairs(str("xxaxyx"), str("xy"), str("abc"), nullS), strs("xxa", "NULL")},
		{call(expr.OpReplace, colA, colB, colC), [][]expr.Value{{str("abcabc"), str("b"), str("XY")}, {str("abc"), str(""), str("X")},
			{str("aaa"), str("aa"), str("b")}, {str("abc"), nullS, str("X")}}, strs("aXYcaXYc", "abc", "ba", "NULL")},
		{call(expr.OpStrpos, colA, colB), pairs(str("hello"), str("ll"), str("hello"), str("z"), str("héllo"), str("llo"),
			str("abc"), str("")), strs("3", "0", "3", "1")},
		{call(expr.OpLeft, colA, colB), pairs(str("abcde"), i64(2), str("abcde"), i64(-2), str("abcde"), i64(9),
			str("abcde"), i64(-9), str("éa"), i64(1)), strs("ab", "abc", "abcde", "", "é")},
		{call(expr.OpRight, colA, colB), pairs(str("abcde"), i64(2), str("abcde"), i64(-2), str("abcde"), i64(0), str("aé"), i64(1)),
			strs("de", "cde", "", "é")},
		{call(expr.OpStartsWith, colA, colB), pairs(str("alphabet"), str("alph"), str("alphabet"), str("beta"), str("x"), nullS),
			strs("true", "false", "NULL")},
		// substring with expressions: PostgreSQL's rules for start < 1.
		{call(expr.OpSubstr, colA, colB, colC), [][]expr.Value{
			{str("hello"), i64(2), i64(3)}, {str("hello"), i64(0), i64(3)}, {str("hello"), i64(-5), i64(3)},
			{str("hello"), i64(4), i64(10)}, {str("hello"), i64(9), i64(1)}, {str("héllo"), i64(2), i64(2)},
			{str("hello"), nullI, i64(1)}, {str("hello"), i64(1), i64(0)}},
			strs("ell", "he", "", "lo", "", "él", "NULL", "")},
		{call(expr.OpSubstr, colA, colB), pairs(str("hello"), i64(3), str("hello"), i64(-1), str("héllo"), i64(2)),
			strs("llo", "hello", "éllo")},
	})
	legacy := call(expr.OpSubstr, colA)
	legacy.N1, legacy.N2 = 0, 3
	runCases(t, []evalCase{{legacy, rowsOf(str("héllo"), nullS), strs("hé", "NULL")}})
}

func TestLike(t *testing.T) {
	like := func(op expr.Op, p string) *expr.Expr {
		e := call(op, colA)
		e.Pattern = p
		return e
	}
	words := rowsOf(str("abc"), str("aXc"), str("ac"), str("éc"), str("a%c"), str("ABC"), nullS)
	runCases(t, []evalCase{
		{like(expr.OpLike, "a_c"), words, strs("true", "true", "false", "false", "true", "false", "NULL")},
		{like(expr.OpLike, "_c"), words, strs("false", "false", "true", "true", "false", "false", "NULL")},
		{like(expr.OpLike, "a%"), words, strs("true", "true", "true", "false", "true", "false", "NULL")},
		{like(expr.OpLike, `a\%c`), words, strs("false", "false", "false", "false", "true", "false", "NULL")},
		{like(expr.OpLike, `%\_%`), rowsOf(str("a_b"), str("ab")), strs("true", "false")},
		{like(expr.OpNotLike, "a_c"), words, strs("false", "false", "true", "true", "false", "true", "NULL")},
		{like(expr.OpILike, "a_c"), words, strs("true", "true", "false", "false", "true", "true", "NULL")},
		{like(expr.OpILike, "É%"), words, strs("false", "false", "false", "true", "false", "false", "NULL")},
		{like(expr.OpNotILike, "%B%"), words, strs("false", "true", "true", "true", "true", "false", "NULL")},
		{like(expr.OpLike, ""), rowsOf(str(""), str("a")), strs("true", "false")},
		{like(expr.OpLike, "%%a%%"), rowsOf(str("banana"), str("xyz")), strs("true", "false")},
	})
	esc, err := expr.LikeEscape("a#%c##", "#")
	if err != nil || esc != `a\%c\#` {
		t.Fatalf(`LikeEscape("a#%%c##", "#") = %q, %v; want a\%%c\#`, esc, err)
	}
	if esc, err := expr.LikeEscape(`a\b%`, ""); err != nil || esc != `a\\b%` {
		t.Fatalf(`LikeEscape with no escape = %q, %v`, esc, err)
	}
	if _, err := expr.LikeEscape("ab#", "#"); err == nil {
		t.Fatal("LikeEscape accepted a pattern ending in the escape character")
	}
}

func TestNullFunctions(t *testing.T) {
	runCases(t, []evalCase{
		{call(expr.OpCoalesce, colA, colB, colC), [][]expr.Value{{i64(1), i64(2), i64(3)}, {nullI, i64(2), i64(3)},
			{nullI, nullI, i64(3)}, {nullI, nullI, nullI}}, strs("1", "2", "3", "NULL")},
		{call(expr.OpCoalesce, colA, litOf(str("none"))), rowsOf(str("x"), nullS), strs("x", "none")},
		{call(expr.OpCoalesce, colA, litOf(i64(0))), rowsOf(f64(1.5), nullF), strs("1.5", "0")},
		{call(expr.OpCoalesce, colA, litOf(str("1998-01-01"))), rowsOf(nullD), strs("1998-01-01")},
		// Later arguments are evaluated only where needed.
		{call(expr.OpCoalesce, colA, call(expr.OpIntDiv, litOf(i64(1)), colB)), pairs(i64(5), i64(0), nullI, i64(1)), strs("5", "1")},
		{call(expr.OpNullIf, colA, colB), pairs(i64(1), i64(1), i64(1), i64(2), nullI, i64(1), i64(1), nullI), strs("NULL", "1", "NULL", "1")},
		{call(expr.OpNullIf, colA, colB), pairs(str("a"), str("a"), str("a"), str("b")), strs("NULL", "a")},
		{call(expr.OpNullIf, colA, litOf(i64(0))), rowsOf(dec("0.00"), dec("1.50")), strs("NULL", "1.50")},
		{call(expr.OpGreatest, colA, colB, colC), [][]expr.Value{{i64(1), i64(3), i64(2)}, {nullI, i64(2), i64(1)}, {nullI, nullI, nullI}},
			strs("3", "2", "NULL")},
		{call(expr.OpLeast, colA, colB, colC), [][]expr.Value{{i64(1), i64(3), i64(2)}, {nullI, i64(2), i64(1)}, {nullI, nullI, nullI}},
			strs("1", "1", "NULL")},
		{call(expr.OpGreatest, colA, colB), pairs(i64(1), f64(1.5), i64(3), f64(math.NaN())), strs("1.5", "NaN")},
		{call(expr.OpLeast, colA, colB), pairs(str("b"), str("ab"), nullS, str("z")), strs("ab", "z")},
		{call(expr.OpGreatest, colA, colB), pairs(date("1998-01-01"), date("1999-01-01")), strs("1999-01-01")},
	})
}

func TestExtract(t *testing.T) {
	ext := func(field string) *expr.Expr {
		e := call(expr.OpExtract, colA)
		e.Name = field
		return e
	}
	days := rowsOf(date("1998-12-01"), date("2000-02-29"), date("2021-01-03"), date("1969-12-31"), nullD)
	runCases(t, []evalCase{
		{ext("year"), days, strs("1998", "2000", "2021", "1969", "NULL")},
		{ext("MONTH"), days, strs("12", "2", "1", "12", "NULL")},
		{ext("day"), days, strs("1", "29", "3", "31", "NULL")},
		{ext("quarter"), days, strs("4", "1", "1", "4", "NULL")},
		{ext("dow"), days, strs("2", "2", "0", "3", "NULL")},
		{ext("isodow"), days, strs("2", "2", "7", "3", "NULL")},
		{ext("doy"), days, strs("335", "60", "3", "365", "NULL")},
		{ext("week"), days, strs("49", "9", "53", "1", "NULL")},
	})
}

func TestCast(t *testing.T) {
	cast := func(to types.Type) *expr.Expr {
		e := call(expr.OpCast, colA)
		e.To = to
		return e
	}
	runCases(t, []evalCase{
		{cast(types.StringType), rowsOf(i64(-12), nullI), strs("-12", "NULL")},
		{cast(types.StringType), rowsOf(f64(1.5), f64(100), f64(1e15), f64(1e14), f64(0.0001), f64(0.00001), f64(1.0/3),
			f64(math.Inf(1)), f64(math.NaN()), f64(math.Copysign(0, -1))),
			strs("1.5", "100", "1e+15", "100000000000000", "0.0001", "1e-05", "0.3333333333333333", "Infinity", "NaN", "-0")},
		{cast(types.StringType), rowsOf(dec("1.50"), dec("-0.05"), dec("12.00")), strs("1.50", "-0.05", "12.00")},
		{cast(types.StringType), rowsOf(date("1998-12-01")), strs("1998-12-01")},
		{cast(types.StringType), rowsOf(boolean(true), boolean(false)), strs("true", "false")},
		{cast(types.Int64Type), rowsOf(str("42"), str(" -7 "), str("+3"), nullS), strs("42", "-7", "3", "NULL")},
		{cast(types.Int32Type), rowsOf(str("2147483647")), strs("2147483647")},
		{cast(types.Float64Type), rowsOf(str("1.5"), str("1e3"), str(" -Infinity"), str("NaN")), strs("1.5", "1000", "-Infinity", "NaN")},
		{cast(types.DecimalType(2)), rowsOf(str("1.005"), str("-1.005"), str("7"), str(".5"), str("1e2")), strs("1.01", "-1.01", "7.00", "0.50", "100.00")},
		{cast(types.DateType), rowsOf(str("1998-12-01"), str(" 2000-02-29 ")), strs("1998-12-01", "2000-02-29")},
		{cast(types.BoolType), rowsOf(str("true"), str("F"), str("yes"), str("off"), str("1"), str(" t ")), strs("true", "false", "true", "false", "true", "true")},
		{cast(types.Int64Type), rowsOf(boolean(true), boolean(false)), strs("1", "0")},
		{cast(types.BoolType), rowsOf(i64(0), i64(-3), i64(1)), strs("false", "true", "true")},
		// float -> int rounds half to even (PostgreSQL's rint); numeric -> int half away from zero.
		{cast(types.Int64Type), rowsOf(f64(2.5), f64(3.5), f64(-2.5), f64(2.6)), strs("2", "4", "-2", "3")},
		{cast(types.Int32Type), rowsOf(f64(0.5), f64(-1.5)), strs("0", "-2")},
		{cast(types.Int64Type), rowsOf(dec("2.50"), dec("-2.50"), dec("2.49")), strs("3", "-3", "2")},
		{cast(types.Int32Type), rowsOf(dec("2.5"), dec("-3.5")), strs("3", "-4")},
		{cast(types.DecimalType(1)), rowsOf(dec("2.25"), dec("-2.25"), dec("2.24")), strs("2.3", "-2.3", "2.2")},
		{cast(types.DecimalType(3)), rowsOf(dec("2.25")), strs("2.250")},
		{cast(types.DecimalType(2)), rowsOf(f64(0.125), f64(-1.005)), strs("0.13", "-1.00")},
		{cast(types.Int32Type), rowsOf(i64(123)), strs("123")},
	})
}

// errCase is an expression that must fail at evaluation with kind and a
// message containing msg.
type errCase struct {
	e    *expr.Expr
	rows [][]expr.Value
	kind error
	msg  string
}

func TestEvalErrors(t *testing.T) {
	cast := func(to types.Type) *expr.Expr {
		e := call(expr.OpCast, colA)
		e.To = to
		return e
	}
	for _, c := range []errCase{
		{call(expr.OpIntDiv, colA, colB), pairs(i64(1), i64(1), i64(7), i64(0)), expr.ErrDivisionByZero, "division by zero"},
		{call(expr.OpIntDiv, colA, colB), pairs(i64(math.MinInt64), i64(-1)), expr.ErrOutOfRange, "bigint out of range"},
		{call(expr.OpIntDiv, colA, colB), pairs(f64(1), f64(0)), expr.ErrDivisionByZero, "division by zero"},
		{call(expr.OpIntDiv, colA, colB), pairs(dec("1.5"), i64(0)), expr.ErrDivisionByZero, "division by zero"},
		{call(expr.OpMod, colA, colB), pairs(i64(7), i64(0)), expr.ErrDivisionByZero, "division by zero"},
		{call(expr.OpMod, colA, colB), pairs(f64(7), f64(0)), expr.ErrDivisionByZero, "division by zero"},
		{call(expr.OpAbs, colA), rowsOf(i64(math.MinInt64)), expr.ErrOutOfRange, "bigint out of range"},
		{call(expr.OpSqrt, colA), rowsOf(f64(-1)), expr.ErrInvalidArgument, "cannot take square root of a negative number"},
		{call(expr.OpLn, colA), rowsOf(f64(0)), expr.ErrInvalidArgument, "cannot take logarithm of zero"},
		{call(expr.OpLog10, colA), rowsOf(f64(-1)), expr.ErrInvalidArgument, "cannot take logarithm of a negative number"},
		{call(expr.OpExp, colA), rowsOf(f64(1000)), expr.ErrOutOfRange, "value out of range: overflow"},
		{call(expr.OpPower, colA, colB), pairs(f64(0), f64(-1)), expr.ErrInvalidArgument, "zero raised to a negative power is undefined"},
		{call(expr.OpPower, colA, colB), pairs(f64(-8), f64(0.5)), expr.ErrInvalidArgument, "complex result"},
		{call(expr.OpSubstr, colA, colB, colC), [][]expr.Value{{str("abc"), i64(1), i64(-1)}}, expr.ErrInvalidArgument, "negative substring length not allowed"},
		{cast(types.Int32Type), rowsOf(str("abc")), expr.ErrInvalidText, `invalid input syntax for type integer: "abc"`},
		{cast(types.Int64Type), rowsOf(str("1.5")), expr.ErrInvalidText, `invalid input syntax for type bigint: "1.5"`},
		{cast(types.Int32Type), rowsOf(str("3000000000")), expr.ErrOutOfRange, `value "3000000000" is out of range for type integer`},
		{cast(types.Float64Type), rowsOf(str("x")), expr.ErrInvalidText, `invalid input syntax for type double precision: "x"`},
		{cast(types.DecimalType(2)), rowsOf(str("1.2.3")), expr.ErrInvalidText, `invalid input syntax for type numeric: "1.2.3"`},
		{cast(types.DateType), rowsOf(str("1998-13-01")), expr.ErrInvalidText, `invalid input syntax for type date: "1998-13-01"`},
		{cast(types.DateType), rowsOf(str("2001-02-29")), expr.ErrInvalidText, `date/time field value out of range: "2001-02-29"`},
		{cast(types.BoolType), rowsOf(str("maybe")), expr.ErrInvalidText, `invalid input syntax for type boolean: "maybe"`},
		{cast(types.Int32Type), rowsOf(i64(1 << 40)), expr.ErrOutOfRange, "integer out of range"},
		{cast(types.Int64Type), rowsOf(f64(1e19)), expr.ErrOutOfRange, "bigint out of range"},
		{cast(types.Int32Type), rowsOf(f64(math.NaN())), expr.ErrOutOfRange, "integer out of range"},
		{cast(types.DecimalType(2)), rowsOf(i64(math.MaxInt64 / 10)), expr.ErrOutOfRange, "numeric field overflow"},
		{call(expr.OpAdd, colA, colB), pairs(date("1998-01-01"), i64(1<<40)), expr.ErrOutOfRange, "date out of range"},
		{call(expr.OpAdd, colA, colB), pairs(i64(1), i64(2), i64(math.MaxInt64), i64(1)), expr.ErrOutOfRange, "bigint out of range"},
		{call(expr.OpSub, colA, colB), pairs(i64(math.MinInt64), i64(1)), expr.ErrOutOfRange, "bigint out of range"},
		{call(expr.OpMul, colA, colB), pairs(i64(1<<32), i64(1<<31)), expr.ErrOutOfRange, "bigint out of range"},
		{call(expr.OpMul, colA, colB), pairs(i64(-1), i64(math.MinInt64)), expr.ErrOutOfRange, "bigint out of range"},
		{call(expr.OpMul, colA, colB), pairs(dec("99999999999.99"), dec("99999999.99")), expr.ErrOutOfRange, "value overflows numeric format"},
		{call(expr.OpNeg, colA), rowsOf(i64(math.MinInt64)), expr.ErrOutOfRange, "bigint out of range"},
	} {
		t.Run(c.e.String(), func(t *testing.T) {
			_, err := evalRows(t, c.e, c.rows)
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s: got error %v, want %v with %q", c.e, err, c.kind, c.msg)
			}
		})
	}
	// A null operand is null, not an error; large operands that do not
	// overflow are exact.
	runCases(t, []evalCase{
		{call(expr.OpMul, colA, colB), pairs(i64(1<<32), i64(1<<30), i64(-1), i64(math.MaxInt64), i64(math.MinInt64), nullI,
			i64(3_000_000_000), i64(-3_000_000_000)), strs("4611686018427387904", "-9223372036854775807", "NULL", "-9000000000000000000")},
		{call(expr.OpAdd, colA, colB), pairs(i64(math.MaxInt64), i64(-1), i64(math.MaxInt64), nullI), strs("9223372036854775806", "NULL")},
		// The value under a null is not looked at, however large.
		{call(expr.OpAdd, colA, colB), pairs(expr.Value{T: types.Int64Type, Null: true, I: math.MaxInt64}, i64(1)), strs("NULL")},
		{call(expr.OpIntDiv, colA, colB), pairs(i64(1), expr.Value{T: types.Int64Type, Null: true}), strs("NULL")},
		{call(expr.OpSub, colA, colB), pairs(i64(math.MinInt64), i64(-1)), strs("-9223372036854775807")},
		{call(expr.OpIntDiv, colA, colB), pairs(nullI, i64(0), i64(1), nullI), strs("NULL", "NULL")},
		{call(expr.OpMod, colA, colB), pairs(nullI, i64(0)), strs("NULL")},
		{cast(types.Int64Type), rowsOf(nullS), strs("NULL")},
	})
}

func TestTypeErrors(t *testing.T) {
	s := types.Schema{{Name: "i", Type: types.Int64Type}, {Name: "s", Type: types.StringType},
		{Name: "d", Type: types.DateType}, {Name: "b", Type: types.BoolType}}
	i, str, d, b := expr.Col("i"), expr.Col("s"), expr.Col("d"), expr.Col("b")
	ext := call(expr.OpExtract, d)
	ext.Name = "century"
	castTo := func(x *expr.Expr, to types.Type) *expr.Expr {
		e := call(expr.OpCast, x)
		e.To = to
		return e
	}
	for _, c := range []struct {
		e   *expr.Expr
		msg string
	}{
		{call(expr.OpUpper, i), "upper needs a string, got int64"},
		{call(expr.OpLength, d), "length needs a string, got date"},
		{call(expr.OpAbs, str), "abs needs a number, got string"},
		{call(expr.OpMod, i, str), "% needs a number, got string"},
		{call(expr.OpIntDiv, b, i), "div needs a number, got bool"},
		{call(expr.OpConcat, i, i), "|| needs a string operand, got int64 and int64"},
		{call(expr.OpCoalesce, i, str), "coalesce values have types int64 and string"},
		{call(expr.OpCoalesce), "coalesce takes at least 1 arguments, got 0"},
		{call(expr.OpReplace, str, str), "replace takes 3 arguments, got 2"},
		{call(expr.OpLeft, str, str), "left needs an integer, got string"},
		{call(expr.OpRound, i, i), "round's number of decimal places must be an integer constant"},
		{ext, `extract field "century" is not supported`},
		{call(expr.OpSub, i, d), "date arithmetic takes"},
		{call(expr.OpAdd, d, d), "date arithmetic takes"},
		{castTo(d, types.Int64Type), "cannot cast date to int64"},
		{castTo(b, types.Float64Type), "cannot cast bool to float64"},
		{call(expr.OpEq, str, i), "cannot compare string with int64"},
		{call(expr.OpGreatest, b, i), "greatest values have types bool and int64"},
	} {
		_, err := expr.Resolve(c.e, s)
		if !errors.Is(err, expr.ErrTypeMismatch) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want a type mismatch saying %q", c.e, err, c.msg)
		}
	}
	// Null literals take the type their place wants.
	for _, e := range []*expr.Expr{
		call(expr.OpUpper, litOf(nullI)),
		call(expr.OpConcat, litOf(nullI), str),
		call(expr.OpCoalesce, litOf(null(types.Type{})), str),
		call(expr.OpAdd, d, litOf(nullI)),
		call(expr.OpExtract, litOf(nullI)),
	} {
		if e.Op == expr.OpExtract {
			e.Name = "year"
		}
		if _, err := expr.Resolve(e, s); err != nil {
			t.Errorf("%s: %v", e, err)
		}
	}
}
