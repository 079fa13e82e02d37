package parser

import (
	"strings"
	"testing"
)

// TestExprCanonical checks precedence and the special forms through the
// canonical text, which parenthesizes every compound expression.
func TestExprCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		// Arithmetic.
		{"1 + 2 * 3", "(1 + (2 * 3))"},
		{"1 - 2 - 3", "((1 - 2) - 3)"},
		{"a % b * c / d", "(((a % b) * c) / d)"},
		{"2 ^ 3 ^ 2", "((2 ^ 3) ^ 2)"},
		{"2 * 3 ^ 2", "(2 * (3 ^ 2))"},
		{"-2 ^ 2", "(-2 ^ 2)"},
		{"-a ^ 2", "((- a) ^ 2)"},
		{"-a * b", "((- a) * b)"},
		{"- a::int", "(- CAST(a AS INTEGER))"},
		{"- - 1", "1"},
		{"-(1)", "-1"},
		{"+a", "(+ a)"},
		{"a - -1", "(a - -1)"},
		{"a || b || c", "((a || b) || c)"},
		{"a + b || c", "((a + b) || c)"},
		{"a ~ 'x' || b", "((a ~ 'x') || b)"},
		{"a || b ~* 'x' = c !~ 'y'", "(((a || b) ~* 'x') = (c !~ 'y'))"},
		{"a!~*b AND NOT a~b", "((a !~* b) AND (NOT (a ~ b)))"},
		// Boolean operators and predicates.
		{"a OR b AND c", "(a OR (b AND c))"},
		{"a AND b OR c", "((a AND b) OR c)"},
		{"NOT a AND b", "((NOT a) AND b)"},
		{"NOT a = b", "(NOT (a = b))"},
		{"NOT NOT a", "(NOT (NOT a))"},
		{"a = NOT b", "(a = (NOT b))"},
		{"a = b IS NULL", "((a = b) IS NULL)"},
		{"NOT a IS NULL", "(NOT (a IS NULL))"},
		{"a + 1 IS NOT NULL", "((a + 1) IS NOT NULL)"},
		{"a ISNULL OR b NOTNULL", "((a IS NULL) OR (b IS NOT NULL))"},
		{"a IS UNKNOWN", "(a IS NULL)"},
		{"a IS TRUE AND b IS NOT FALSE", "((a IS TRUE) AND (b IS NOT FALSE))"},
		{"a IS NOT DISTINCT FROM b + 1", "(a IS NOT DISTINCT FROM (b + 1))"},
		{"a IS DISTINCT FROM b = c", "(a IS DISTINCT FROM (b = c))"},
		{"a || b = c", "((a || b) = c)"},
		{"a < b + 1", "(a < (b + 1))"},
		{"a != b", "(a <> b)"},
		{"a BETWEEN 1 AND 2 AND b", "((a BETWEEN 1 AND 2) AND b)"},
		{"a NOT BETWEEN b + 1 AND c * 2", "(a NOT BETWEEN (b + 1) AND (c * 2))"},
		{"a BETWEEN 1 AND 2 = b", "((a BETWEEN 1 AND 2) = b)"},
		{"a = b BETWEEN 1 AND 2", "(a = (b BETWEEN 1 AND 2))"},
		{"a LIKE b || '%'", "(a LIKE (b || '%'))"},
		{"a NOT LIKE 'x!%' ESCAPE '!'", "(a NOT LIKE 'x!%' ESCAPE '!')"},
		{"a ILIKE 'x' OR a NOT ILIKE 'y'", "((a ILIKE 'x') OR (a NOT ILIKE 'y'))"},
		{"a SIMILAR TO 'x%'", "(a SIMILAR TO 'x%')"},
		{"a IN (1, 2) = TRUE", "((a IN (1, 2)) = TRUE)"},
		{"a NOT IN (1)", "(a NOT IN (1))"},
		{"a IN (SELECT b FROM t)", "(a IN (SELECT b FROM t))"},
		{"(a, b) IN (SELECT 1, 2)", "(ROW(a, b) IN (SELECT 1, 2))"},
		{"a IN ((SELECT 1) UNION (SELECT 2))", "(a IN ((SELECT 1) UNION (SELECT 2)))"},
		{"a = ANY (SELECT b FROM t)", "(a = ANY (SELECT b FROM t))"},
		{"a < SOME (SELECT 1)", "(a < ANY (SELECT 1))"},
		{"a >= ALL (SELECT 1)", "(a >= ALL (SELECT 1))"},
		{"EXISTS (SELECT 1) AND NOT EXISTS (SELECT 2)", "(EXISTS (SELECT 1) AND (NOT EXISTS (SELECT 2)))"},
		// Parentheses: an expression, a subquery, a row.
		{"(a)", "a"},
		{"((a + b)) * c", "((a + b) * c)"},
		{"(SELECT 1)", "(SELECT 1)"},
		{"((SELECT 1))", "(SELECT 1)"},
		{"((SELECT 1) UNION SELECT 2)", "((SELECT 1) UNION (SELECT 2))"},
		{"((SELECT 1) ORDER BY 1)", "(SELECT 1 ORDER BY 1)"},
		{"(SELECT 1) + 1", "((SELECT 1) + 1)"},
		{"(a, b)", "ROW(a, b)"},
		{"ROW(a)", "ROW(a)"},
		{"ROW()", "ROW()"},
		{"a = (SELECT max(b) FROM t WHERE t.c = a)", "(a = (SELECT max(b) FROM t WHERE (t.c = a)))"},
		// Literals.
		{"'it''s'", "'it''s'"},
		{"9223372036854775808", "9223372036854775808"},
		{"-9223372036854775808", "-9223372036854775808"},
		{"1.5 + .5 + 1e-3 + 1. + 2E+10", "((((1.5 + .5) + 1e-3) + 1.) + 2E+10)"},
		{"TRUE AND NOT FALSE OR NULL", "((TRUE AND (NOT FALSE)) OR NULL)"},
		{"DATE '1998-12-01' - INTERVAL '90' DAY", "(DATE '1998-12-01' - INTERVAL '90' DAY)"},
		{"date '1998-12-01' - interval '90' day (3)", "(DATE '1998-12-01' - INTERVAL '90' DAY(3))"},
		{"interval '3' month", "INTERVAL '3' MONTH"},
		{"interval '1' year", "INTERVAL '1' YEAR"},
		{"interval '3 months'", "INTERVAL '3 months'"},
		{"timestamp '2024-01-01 10:00:00'", "TIMESTAMP '2024-01-01 10:00:00'"},
		{"date + 1", "(date + 1)"},
		// Names.
		{`"Foo"."Bar" + t.a + s.t.a`, `(("Foo"."Bar" + t.a) + s.t.a)`},
		{`"select" + "a""b"`, `("select" + "a""b")`},
		{`FOO + Foo`, `(foo + foo)`},
		{`year + value + position`, `((year + value) + position)`},
		// Special forms and calls.
		{"CASE WHEN a THEN 1 WHEN b THEN 2 ELSE 3 END", "CASE WHEN a THEN 1 WHEN b THEN 2 ELSE 3 END"},
		{"CASE x WHEN 1 THEN 'a' END", "CASE x WHEN 1 THEN 'a' END"},
		{"CAST(a AS varchar(10))", "CAST(a AS VARCHAR(10))"},
		{"a::numeric(15,2)::double precision", "CAST(CAST(a AS DECIMAL(15, 2)) AS DOUBLE)"},
		{"a::float(10) + a::float + a::int8 + a::character varying(3)", "(((CAST(a AS REAL) + CAST(a AS DOUBLE)) + CAST(a AS BIGINT)) + CAST(a AS VARCHAR(3)))"},
		{"a::timestamp without time zone", "CAST(a AS TIMESTAMP)"},
		{"extract(YEAR from d)", "EXTRACT(year FROM d)"},
		{"extract('month' from d)", "EXTRACT(month FROM d)"},
		{"substring(s from 1 for 2)", "substring(s, 1, 2)"},
		{"substring(s from 2)", "substring(s, 2)"},
		{"substring(s for 2)", "substring(s, 1, 2)"},
		{"substring(s, 1, 2)", "substring(s, 1, 2)"},
		{"position('a' in s)", "position('a', s)"},
		{"position('a' || b in s || 'c')", "position(('a' || b), (s || 'c'))"},
		{"position(a = b, c)", "position((a = b), c)"},
		{"trim(s)", "btrim(s)"},
		{"trim(both 'x' from s)", "btrim(s, 'x')"},
		{"trim(leading from s)", "ltrim(s)"},
		{"trim(trailing 'y' from s)", "rtrim(s, 'y')"},
		{"trim(s, 'x')", "btrim(s, 'x')"},
		{"coalesce(a, b, 0) + nullif(a, 0) + greatest(a, b) + least(a, b)", "(((coalesce(a, b, 0) + nullif(a, 0)) + greatest(a, b)) + least(a, b))"},
		{"left(s, 2) || right(s, 1)", "(left(s, 2) || right(s, 1))"},
		{"count(*) + count(DISTINCT x) + count(ALL x)", "((count(*) + count(DISTINCT x)) + count(x))"},
		{"now()", "now()"},
		{`"trim"(x)`, `"trim"(x)`},
		{"current_date + 1", "(CURRENT_DATE + 1)"},
		{"string_agg(x, ',' ORDER BY y DESC)", "string_agg(x, ',' ORDER BY y DESC)"},
		{"count(*) FILTER (WHERE a > 1)", "count(*) FILTER (WHERE (a > 1))"},
		{"sum(x) OVER (PARTITION BY a ORDER BY b DESC NULLS LAST ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
			"sum(x) OVER (PARTITION BY a ORDER BY b DESC NULLS LAST ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"},
		{"row_number() OVER (ROWS UNBOUNDED PRECEDING)", "row_number() OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"},
		{"rank() OVER w", "rank() OVER (w)"},
		{"rank() OVER (w ORDER BY a RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)", "rank() OVER (w ORDER BY a RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)"},
		{"lag(x, 1) OVER (ORDER BY t GROUPS BETWEEN 2 PRECEDING AND 2 FOLLOWING)", "lag(x, 1) OVER (ORDER BY t GROUPS BETWEEN 2 PRECEDING AND 2 FOLLOWING)"},
	}
	for _, tt := range tests {
		e, err := ParseExpr(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.in, got, tt.want)
			continue
		}
		again, err := ParseExpr(e.String())
		if err != nil || !sameTree(e, again) {
			t.Errorf("%s: canonical text %s reads back as %v (%v)", tt.in, e, again, err)
		}
		if got := e.SourceSpan().Text(tt.in); strings.TrimSpace(tt.in) != got && !strings.HasPrefix(tt.in, "(") {
			t.Errorf("%s: span covers %q", tt.in, got)
		}
	}
}

// TestExprNodes checks fields the canonical text does not show.
func TestExprNodes(t *testing.T) {
	e, err := ParseExpr(`t."MixedCase" + 9223372036854775808 * 1.5`)
	if err != nil {
		t.Fatal(err)
	}
	b := e.(*Binary)
	if c := b.Left.(*ColumnRef); strings.Join(c.Parts, ".") != "t.MixedCase" {
		t.Errorf("parts %q", c.Parts)
	}
	m := b.Right.(*Binary)
	if l := m.Left.(*Literal); l.Kind != LitInteger || l.Value != "9223372036854775808" {
		t.Errorf("integer %+v", l)
	}
	if l := m.Right.(*Literal); l.Kind != LitNumeric || l.Value != "1.5" {
		t.Errorf("numeric %+v", l)
	}
	if p := m.Right.Position(); p.Offset != 38 || p.Line != 1 || p.Col != 39 {
		t.Errorf("position %+v", p)
	}

	e, err = ParseExpr("f(a)\n  OVER w")
	if err != nil {
		t.Fatal(err)
	}
	if f := e.(*FuncCall); f.Over.Name != "w" || f.Over.PartitionBy != nil || f.End != len("f(a)\n  OVER w") {
		t.Errorf("over %+v", f.Over)
	}
}
