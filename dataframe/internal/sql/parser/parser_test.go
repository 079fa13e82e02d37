package parser

import (
	"strings"
	"testing"
)

// statementCorpus is parsed, printed and parsed again by the round-trip and
// fuzz tests.
var statementCorpus = []string{
	`select distinct a, b as "B", t.*, s.t.* from s.t as x (a, b) where a > 1 group by 1, 2 having count(*) > 1 order by 1 desc nulls first, 2 asc nulls last limit 10 offset 5`,
	`select all 1 as from`,
	`select a b, c "D" from t u`,
	`select * from a join b using (id) left join c on a.x = c.x natural join d cross join e right outer join f on true full join g on false inner join h on 1 = 1`,
	`select * from a natural left join b`,
	`select * from (a join b on true) join c on true, ((select 1) as x join y on true)`,
	`select * from ((select 1) union (select 2)) as u`,
	`select * from ((select 1)) as u (n)`,
	`select * from read_parquet('s3://bucket/lineitem/*.parquet') as l, read_csv('x.csv', true) c (a, b), generate_series()`,
	`select * from (values (1, 'a'), (2, 'b')) as v (n, s)`,
	`select * from values (1), (2) v (x)`,
	`values (1, 2), (3, 4)`,
	`values (1) order by 1 limit 1`,
	`select 1 union select 2 intersect select 3 except all select 4 union distinct select 5`,
	`(select 1 order by 1 limit 1) union all (select 2)`,
	`((select 1) union (select 2)) order by 1`,
	`(select 1 limit 1)`,
	`with recursive r (n) as (select 1 union all select n + 1 from r where n < 10), s as (select 2) select * from r, s`,
	`select a from t fetch first 5 rows only`,
	`select a from t offset 2 rows fetch next row only`,
	`select a from t limit all offset 3`,
	`select a from t offset 3 limit 4`,
	`select sum(x) over w, rank() over (w order by y) from t window w as (partition by a), v as (w)`,
	`create table if not exists t (a int not null primary key, b varchar(10) default 'x' null, c decimal(15,2) unique, d double precision, e text, f date, g timestamp, h boolean, i char(1), j bigint, k smallint, l tinyint, m real, primary key (a), constraint u unique (b, c))`,
	`create temporary table t (a int)`,
	`create table t2 (a, b) as select 1, 2`,
	`create table t3 as select * from t`,
	`create or replace temp view v (a) as select 1`,
	`create view s.v as with x as (select 1) select * from x`,
	`drop table if exists a, s.b cascade`,
	`drop view v restrict`,
	`drop index i`,
	`insert into t (a, b) values (1, 'x'), (2, 'y')`,
	`insert into t select * from u`,
	`insert into s.t (select 1)`,
	`update t set a = a + 1, b = 'z' where c is null`,
	`update t as x set a = 1`,
	`delete from t where a in (1, 2)`,
	`delete from t`,
	`create unique index i on t (a, b desc)`,
	`create index if not exists on t using btree (lower(a))`,
	`explain analyze verbose select 1`,
	`explain insert into t values (1)`,
	`set search_path = public`,
	`set work_mem to '64MB'`,
	`set x = -1, 2.5, on`,
	`begin`, `start transaction`, `commit work`, `end`, `rollback`, `abort transaction`,
}

func TestStatementRoundTrip(t *testing.T) {
	for _, src := range statementCorpus {
		s, err := Parse(src)
		if err != nil {
			t.Errorf("%s: %v\n%s", src, err, err.(*Error).Excerpt(src))
			continue
		}
		t.Run("", func(t *testing.T) { checkRoundTrip(t, s) })
		if got := s.SourceSpan().Text(src); got != src {
			t.Errorf("statement span covers %q of %q", got, src)
		}
	}
}

func TestStatementCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT a "A", b AS c FROM t`, `SELECT a AS "A", b AS c FROM t`},
		{`select 1 as from`, `SELECT 1 AS "from"`},
		{`select * from a, b join c using (x) left outer join d on true`, `SELECT * FROM a, ((b JOIN c USING(x)) LEFT JOIN d ON TRUE)`},
		{`select * from a join (b join c on p) on q`, `SELECT * FROM (a JOIN (b JOIN c ON p) ON q)`},
		{`select 1 union select 2 intersect select 3`, `(SELECT 1) UNION ((SELECT 2) INTERSECT (SELECT 3))`},
		{`select 1 union select 2 except select 3`, `((SELECT 1) UNION (SELECT 2)) EXCEPT (SELECT 3)`},
		{`(select 1 limit 1) union select 2`, `(SELECT 1 LIMIT 1) UNION (SELECT 2)`},
		{`select 1 intersect all select 2 union select 3`, `((SELECT 1) INTERSECT ALL (SELECT 2)) UNION (SELECT 3)`},
		{`select a from t fetch first row only`, `SELECT a FROM t LIMIT 1`},
		{`select a from t limit all`, `SELECT a FROM t`},
		{`create table t (a integer null, b int4 not null)`, `CREATE TABLE t (a INTEGER, b INTEGER NOT NULL)`},
		{`set x to DEFAULT`, `SET x = 'default'`},
		{`begin transaction`, `BEGIN`},
		{`select distinct on (a, b+1) a from t order by a`, `SELECT DISTINCT ON (a, (b + 1)) a FROM t ORDER BY a`},
		{`select count(*) from t group by ()`, `SELECT count(*) FROM t GROUP BY ()`},
		{`select a from t group by (), a`, `SELECT a FROM t GROUP BY a`},
		{`select 1 where 2 in ()`, `SELECT 1 WHERE (2 IN ())`},
	}
	for _, tt := range tests {
		s, err := Parse(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if got := s.String(); got != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func TestStatementNodes(t *testing.T) {
	s, err := Parse(`create table lineitem (l_orderkey bigint not null, l_quantity decimal(15, 2), l_comment varchar(44) default 'none', primary key (l_orderkey))`)
	if err != nil {
		t.Fatal(err)
	}
	ct := s.(*CreateTable)
	if ct.Name.Name != "lineitem" || len(ct.Columns) != 3 || len(ct.Constraints) != 1 {
		t.Fatalf("%s", ct)
	}
	if c := ct.Columns[1]; c.Type.Name != "decimal" || len(c.Type.Args) != 2 || c.Type.Args[0] != 15 || c.Type.Args[1] != 2 {
		t.Errorf("decimal: %+v", c.Type)
	}
	if c := ct.Columns[0]; !c.NotNull || c.Type.Name != "bigint" {
		t.Errorf("bigint: %+v", c)
	}
	if k := ct.Constraints[0]; k.Kind != PrimaryKey || k.Columns[0] != "l_orderkey" {
		t.Errorf("key: %+v", k)
	}

	s, err = Parse(`select "Foo".bar from "S"."Foo"`)
	if err != nil {
		t.Fatal(err)
	}
	tb := selectOf(t, s).From[0].(*Table)
	if tb.Name.Schema != "S" || tb.Name.Name != "Foo" || tb.Name.Pos.Col != 23 {
		t.Errorf("table name %+v", tb.Name)
	}

	s, err = Parse(`explain analyze delete from t where a = 1`)
	if err != nil {
		t.Fatal(err)
	}
	if e := s.(*Explain); !e.Analyze || e.Statement.(*Delete).Table.Name != "t" {
		t.Errorf("explain %s", e)
	}

	s, err = Parse(`insert into t values (1, default)`)
	if err == nil {
		t.Errorf("DEFAULT in VALUES parsed: %s", s)
	}
}

func TestScript(t *testing.T) {
	src := "-- a script\n;;select 1;\n/* a /* nested */ comment */ select 2 ;; create table t (a int); drop table t"
	stmts, err := ParseScript(src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range stmts {
		got = append(got, s.SourceSpan().Text(src))
	}
	want := []string{"select 1", "select 2", "create table t (a int)", "drop table t"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("statements %q, want %q", got, want)
	}
	for _, empty := range []string{"", " ; ;", "-- nothing"} {
		if stmts, err := ParseScript(empty); err != nil || len(stmts) != 0 {
			t.Errorf("%q: %d statements, %v", empty, len(stmts), err)
		}
	}
	if _, err := Parse("select 1;"); err != nil {
		t.Errorf("trailing semicolon: %v", err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		in        string
		line, col int
		msg       string
	}{
		{"SELECT * FORM t", 1, 10, `expected FROM, found "FORM"`},
		{"select a form t", 1, 10, `expected FROM, found "form"`},
		{"select *\nfrom lineitem\nwehre l_quantity > 1", 3, 1, `expected WHERE, found "wehre"`},
		{"select a from t where x = 1\n  gruop by a", 2, 3, `expected GROUP, found "gruop"`},
		{"select a from t where x = 1 adn y = 2", 1, 29, `expected AND, found "adn"`},
		{"selct 1", 1, 1, `expected SELECT, found "selct"`},
		{"select * from", 1, 14, `expected a table name, subquery or table function, found end of input`},
		{"select * from where x = 1", 1, 15, `expected a table name, subquery or table function, found "where"`},
		{"select * from t where", 1, 22, `expected an expression, found end of input`},
		{"select a, from t", 1, 11, `expected an expression, found "from"`},
		{"select 'abc", 1, 8, `unterminated string literal`},
		{"select \"abc", 1, 8, `unterminated quoted identifier`},
		{`select "" from t`, 1, 8, `zero-length quoted identifier`},
		{"select 1 /* unterminated", 1, 10, `unterminated /* comment`},
		{"select a from t where a = 1 # 2", 1, 29, `unexpected character '#'`},
		{"select a from t where a = $1", 1, 27, `query parameters are not supported`},
		{"select 1abc", 1, 8, `trailing junk after numeric literal "1a"`},
		{"select (1 + 2", 1, 14, `expected ")", found end of input`},
		{"select (1 + 2))", 1, 15, `expected end of input, found ")"`},
		{"select f(a, b from t", 1, 15, `expected ")", found "from"`},
		{"select 1 2", 1, 10, `expected end of input, found "2"`},
		{"select a from t t2 t3", 1, 20, `expected end of input, found "t3"`},
		{"select 1; select 2", 1, 11, `expected end of input, found "select"`},
		{"select a < b < c", 1, 14, `"<" cannot follow another comparison without parentheses`},
		{"select cast(a as uuid)", 1, 18, `unknown type "uuid"`},
		{"values (1, 2), (3)", 1, 16, `VALUES lists must all be the same length (2, not 1)`},
		{"select * from t where x in 1", 1, 28, `expected "(", found "1"`},
		{"select 'é', ) from t", 1, 13, `expected an expression, found ")"`},
		{"select case when a then 1", 1, 26, `expected END, found end of input`},
		{"select * from a join b", 1, 23, `expected ON or USING, found end of input`},
		{"create table t (a int, b)", 1, 25, `expected a type name, found ")"`},
		{"create table t (a int not null null)", 1, 32, `conflicting NULL/NOT NULL declarations for column "a"`},
		{"select x is maybe", 1, 13, `expected NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM, found "maybe"`},
		{"select * from (a join b on true) as j", 1, 34, `an alias on a parenthesized join is not supported`},
		{"select distinct on a from t", 1, 20, `expected "(", found "a"`},
		{"select a from t where b = any (1, 2)", 1, 31, `ANY and ALL take a subquery`},
		{"select a[1] from t", 1, 9, `array subscripts are not supported`},
		{"select x at time zone 'utc' from t", 1, 10, `AT TIME ZONE is not supported`},
		{"drop schema s", 1, 6, `expected TABLE, VIEW or INDEX, found "schema"`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("%q: got %v, want a syntax error", tt.in, err)
			continue
		}
		if e.Pos.Line != tt.line || e.Pos.Col != tt.col || e.Msg != tt.msg {
			t.Errorf("%q:\n got line %d, column %d: %s\nwant line %d, column %d: %s", tt.in, e.Pos.Line, e.Pos.Col, e.Msg, tt.line, tt.col, tt.msg)
		}
	}
}

func TestErrorText(t *testing.T) {
	src := "select l_orderkey\nfrom lineitem\nwhere l_quantity >\n\tand l_tax < 1"
	_, err := Parse(src)
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("got %v", err)
	}
	if got, want := e.Error(), `syntax error at line 4, column 2: expected an expression, found "and"`; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	want := "LINE 4: \tand l_tax < 1\n        \t^"
	if got := e.Excerpt(src); got != want {
		t.Errorf("excerpt\n%s\nwant\n%s", got, want)
	}

	long := "select " + strings.Repeat("a + ", 40) + "+ from t"
	_, err = Parse(long)
	if err == nil {
		t.Fatal("no error")
	}
	got := err.(*Error).Excerpt(long)
	lines := strings.Split(got, "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "...") || strings.Index(lines[1], "^") != strings.Index(lines[0], "from") {
		t.Errorf("excerpt of a long line:\n%s", got)
	}
}

func TestNestingLimit(t *testing.T) {
	deep := "select " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000)
	_, err := Parse(deep)
	if e, ok := err.(*Error); !ok || !strings.Contains(e.Msg, "nested too deeply") {
		t.Errorf("got %v", err)
	}
	ok := "select " + strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200)
	if _, err := Parse(ok); err != nil {
		t.Errorf("200 parentheses: %v", err)
	}
}
