package parser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tpchDir holds the 22 TPC-H queries (the spec's text with its
// qualification parameters) that package tpch runs from SQL.
const tpchDir = "../../../../tpch/sql"

// tpchQueries reads q01.sql ... q22.sql of tpchDir.
func tpchQueries(tb testing.TB) (names, texts []string) {
	tb.Helper()
	files, err := filepath.Glob(tpchDir + "/q*.sql")
	if err != nil || len(files) != 22 {
		tb.Fatalf("want 22 TPC-H queries in %s, found %d (%v)", tpchDir, len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".sql"))
		texts = append(texts, string(b))
	}
	return names, texts
}

// nodes returns every node of type T under n, in walk order.
func nodes[T Node](n Node) []T {
	var out []T
	Inspect(n, func(n Node) bool {
		if t, ok := n.(T); ok {
			out = append(out, t)
		}
		return true
	})
	return out
}

func selectOf(t *testing.T, s Statement) *Select {
	t.Helper()
	q, ok := s.(*Query)
	if !ok {
		t.Fatalf("got %T, want *Query", s)
	}
	sel, ok := q.Body.(*Select)
	if !ok {
		t.Fatalf("query body is %T, want *Select", q.Body)
	}
	return sel
}

// conjuncts splits e at its top-level ANDs.
func conjuncts(e Expr) []Expr {
	if b, ok := e.(*Binary); ok && b.Op == And {
		return append(conjuncts(b.Left), conjuncts(b.Right)...)
	}
	return []Expr{e}
}

func TestTPCH(t *testing.T) {
	checks := map[string]func(t *testing.T, src string, s Statement){
		"q01": func(t *testing.T, src string, s Statement) {
			sel := selectOf(t, s)
			cmp := sel.Where.(*Binary)
			sub := cmp.Right.(*Binary)
			if cmp.Op != Le || sub.Op != Sub {
				t.Fatalf("where: %s", sel.Where)
			}
			if d := sub.Left.(*TypedLiteral); d.Type.Name != "date" || d.Value != "1998-12-01" {
				t.Errorf("date literal: %s", d)
			}
			if iv := sub.Right.(*Interval); iv.Value != "90" || iv.Unit != "day" || iv.Precision != -1 {
				t.Errorf("interval: %+v", iv)
			}
			if got := sel.Items[4].Span.Text(src); got != "sum(l_extendedprice * (1 - l_discount)) as sum_disc_price" {
				t.Errorf("item text %q", got)
			}
			if got := sel.Items[4].Expr.SourceSpan().Text(src); got != "sum(l_extendedprice * (1 - l_discount))" {
				t.Errorf("expression text %q", got)
			}
			if f := sel.Items[9].Expr.(*FuncCall); !f.Star || f.Name != "count" || sel.Items[9].Alias != "count_order" {
				t.Errorf("count(*): %s", sel.Items[9])
			}
		},
		"q02": func(t *testing.T, src string, s Statement) {
			sel := selectOf(t, s)
			cs := conjuncts(sel.Where)
			last := cs[len(cs)-1].(*Binary)
			sub := last.Right.(*Subquery)
			inner := selectOf(t, sub.Query)
			// Correlated: the subquery reads p_partkey of the outer query.
			if c := conjuncts(inner.Where)[0].(*Binary).Left.(*ColumnRef); c.Parts[0] != "p_partkey" {
				t.Errorf("correlated predicate: %s", c)
			}
			q := s.(*Query)
			if q.Limit.(*Literal).Value != "100" || len(q.OrderBy) != 4 || !q.OrderBy[0].Desc {
				t.Errorf("order/limit: %s", q)
			}
		},
		"q04": func(t *testing.T, src string, s Statement) {
			if n := len(nodes[*Exists](s)); n != 1 {
				t.Errorf("%d EXISTS", n)
			}
			if iv := nodes[*Interval](s)[0]; iv.Unit != "month" || iv.Value != "3" {
				t.Errorf("interval %+v", iv)
			}
		},
		"q07": func(t *testing.T, src string, s Statement) {
			d := selectOf(t, s).From[0].(*DerivedTable)
			if d.Alias.Name != "shipping" || d.Alias.Columns != nil {
				t.Errorf("alias %+v", d.Alias)
			}
			if x := nodes[*Extract](s)[0]; x.Field != "year" {
				t.Errorf("extract %s", x)
			}
			inner := selectOf(t, d.Query)
			if tb := inner.From[4].(*Table); tb.Name.Name != "nation" || tb.Alias.Name != "n1" {
				t.Errorf("nation n1: %s", tb)
			}
			if n := len(nodes[*Between](s)); n != 1 {
				t.Errorf("%d BETWEEN", n)
			}
		},
		"q08": func(t *testing.T, src string, s Statement) {
			c := nodes[*Case](s)[0]
			if c.Operand != nil || len(c.Whens) != 1 || c.Else.(*Literal).Value != "0" {
				t.Errorf("case %s", c)
			}
		},
		"q13": func(t *testing.T, src string, s Statement) {
			d := selectOf(t, s).From[0].(*DerivedTable)
			if d.Alias.Name != "c_orders" || strings.Join(d.Alias.Columns, ",") != "c_custkey,c_count" {
				t.Errorf("alias %+v", d.Alias)
			}
			j := selectOf(t, d.Query).From[0].(*Join)
			if j.Kind != LeftJoin || j.Left.(*Table).Name.Name != "customer" || j.Right.(*Table).Name.Name != "orders" {
				t.Errorf("join %s", j)
			}
			on := conjuncts(j.On)
			if l := on[1].(*LikeExpr); !l.Not || l.Pattern.(*Literal).Value != "%special%requests%" {
				t.Errorf("not like %s", l)
			}
		},
		"q15": func(t *testing.T, src string, s Statement) {
			q := s.(*Query)
			if q.With == nil || len(q.With.CTEs) != 1 {
				t.Fatalf("with: %s", q)
			}
			c := q.With.CTEs[0]
			if c.Name != "revenue0" || strings.Join(c.Columns, ",") != "supplier_no,total_revenue" {
				t.Errorf("cte %s", c)
			}
		},
		"q16": func(t *testing.T, src string, s Statement) {
			if f := nodes[*FuncCall](s)[0]; f.Name != "count" || !f.Distinct {
				t.Errorf("count distinct: %s", f)
			}
			if in := nodes[*InSubquery](s)[0]; !in.Not {
				t.Errorf("not in: %s", in)
			}
			if in := nodes[*InList](s)[0]; len(in.List) != 8 || in.Not {
				t.Errorf("in list: %s", in)
			}
		},
		"q18": func(t *testing.T, src string, s Statement) {
			in := nodes[*InSubquery](s)[0]
			if h := selectOf(t, in.Query).Having; h == nil {
				t.Errorf("having: %s", in)
			}
		},
		"q19": func(t *testing.T, src string, s Statement) {
			or := selectOf(t, s).Where.(*Binary)
			if or.Op != Or || or.Left.(*Binary).Op != Or {
				t.Errorf("where: %s", or)
			}
		},
		"q21": func(t *testing.T, src string, s Statement) {
			var notExists int
			for _, u := range nodes[*Unary](s) {
				if _, ok := u.X.(*Exists); ok && u.Op == Not {
					notExists++
				}
			}
			if notExists != 1 || len(nodes[*Exists](s)) != 2 {
				t.Errorf("exists: %d NOT EXISTS of %d", notExists, len(nodes[*Exists](s)))
			}
		},
		"q22": func(t *testing.T, src string, s Statement) {
			d := selectOf(t, s).From[0].(*DerivedTable)
			f := selectOf(t, d.Query).Items[0].Expr.(*FuncCall)
			if f.Name != "substring" || len(f.Args) != 3 || f.Args[1].(*Literal).Value != "1" || f.Args[2].(*Literal).Value != "2" {
				t.Errorf("substring: %s", f)
			}
			if got := f.Span.Text(src); got != "substring(c_phone from 1 for 2)" {
				t.Errorf("substring text %q", got)
			}
		},
	}
	names, texts := tpchQueries(t)
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			src := texts[i]
			stmts, err := ParseScript(src)
			if err != nil {
				t.Fatalf("%v\n%s", err, err.(*Error).Excerpt(src))
			}
			if len(stmts) != 1 {
				t.Fatalf("%d statements", len(stmts))
			}
			if check := checks[name]; check != nil {
				check(t, src, stmts[0])
			}
			checkRoundTrip(t, stmts[0])
			checkSpans(t, src, stmts[0])
		})
	}
}

// checkSpans checks that the text of every expression parses to that
// expression.
func checkSpans(t *testing.T, src string, s Statement) {
	t.Helper()
	Inspect(s, func(n Node) bool {
		e, ok := n.(Expr)
		if _, star := n.(*Star); !ok || star {
			return true
		}
		text := e.SourceSpan().Text(src)
		again, err := ParseExpr(text)
		if err != nil {
			t.Errorf("the text %q of %s does not parse: %v", text, e, err)
			return true
		}
		if !sameTree(e, again) {
			t.Errorf("the text %q of %s parses to %s", text, e, again)
		}
		return true
	})
}

// TestTPCHQ15View parses Q15 as the spec writes it: a script that creates
// a view, queries it and drops it.
func TestTPCHQ15View(t *testing.T) {
	src := `create view revenue0 (supplier_no, total_revenue) as
	select l_suppkey, sum(l_extendedprice * (1 - l_discount))
	from lineitem
	where l_shipdate >= date '1996-01-01' and l_shipdate < date '1996-01-01' + interval '3' month
	group by l_suppkey;

select s_suppkey, s_name, s_address, s_phone, total_revenue
from supplier, revenue0
where s_suppkey = supplier_no and total_revenue = (select max(total_revenue) from revenue0)
order by s_suppkey;

drop view revenue0;
`
	stmts, err := ParseScript(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 3 {
		t.Fatalf("%d statements", len(stmts))
	}
	v := stmts[0].(*CreateView)
	if v.Name.Name != "revenue0" || strings.Join(v.Columns, ",") != "supplier_no,total_revenue" {
		t.Errorf("view %s", v)
	}
	if d := stmts[2].(*Drop); d.Object != ViewObject || d.Names[0].Name != "revenue0" {
		t.Errorf("drop %s", d)
	}
	if got := stmts[2].SourceSpan().Text(src); got != "drop view revenue0" {
		t.Errorf("statement text %q", got)
	}
	for _, s := range stmts {
		checkRoundTrip(t, s)
	}
}

// TestTPCHQ1Precision parses Q1's interval as the spec writes it, with the
// day field's precision.
func TestTPCHQ1Precision(t *testing.T) {
	e, err := ParseExpr("date '1998-12-01' - interval '90' day (3)")
	if err != nil {
		t.Fatal(err)
	}
	iv := e.(*Binary).Right.(*Interval)
	if iv.Value != "90" || iv.Unit != "day" || iv.Precision != 3 {
		t.Errorf("interval %+v", iv)
	}
}

func BenchmarkParseTPCH(b *testing.B) {
	names, texts := tpchQueries(b)
	for i, name := range names {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(texts[i])))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseScript(texts[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
