package dataframe_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/internal/slt"
)

type sltEngine struct{ cat *dataframe.Catalog }

func (e sltEngine) Exec(ctx context.Context, sql string) (int64, error) {
	_, n, err := e.cat.ExecStatement(ctx, sql)
	return n, err
}

func (e sltEngine) Query(ctx context.Context, sql string) (int, [][]any, error) {
	cols, rows, err := e.cat.QueryValues(ctx, sql)
	return len(cols), rows, err
}

// TestSQLLogic runs the sqllogictest files of testdata/sql (expected
// results from DuckDB, checked against PostgreSQL's rules): every record
// must pass.
func TestSQLLogic(t *testing.T) {
	files, err := filepath.Glob("testdata/sql/*.slt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sum, err := slt.Run(context.Background(), func() (slt.Engine, error) {
				return sltEngine{dataframe.NewCatalog()}, nil
			}, []string{f}, slt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, fl := range sum.Failures {
				t.Error(fl.String())
			}
			if sum.Passed == 0 || sum.Failed > 0 {
				t.Errorf("%s", sum)
			}
		})
	}
}

// Errors say what is wrong and where: a misspelled column with a
// suggestion, a syntax error with its position, a type mismatch.
func TestSQLErrors(t *testing.T) {
	ctx := context.Background()
	cat := dataframe.NewCatalog()
	if _, err := cat.Exec(ctx, "create table orders(o_id integer, o_total decimal(12,2), o_note varchar)"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sql       string
		line, col int
		want      []string
	}{
		{"select o_totl from orders", 1, 8, []string{`column "o_totl" does not exist`, `did you mean "o_total"?`}},
		{"select o_id\nfrom orderz", 2, 6, []string{`table "orderz" does not exist`, `did you mean "orders"?`}},
		{"select o_id from orders\nwhere o_id = 1\n  and o_note + 1 > 2", 3, 7, []string{"type mismatch", "string"}},
		{"select o_id form orders", 1, 18, []string{"syntax error"}}, // (form is o_id's alias)
		{"selec o_id from orders", 1, 1, []string{"syntax error", "SELECT"}},
		{"select o_id from orders where (o_id = 1", 1, 40, []string{"syntax error"}},
		{"select sum(o_total), o_note from orders", 1, 22, []string{`"o_note" must appear in the GROUP BY clause`}},
		{"select o_id from orders where rank() over (order by o_id) = 1", 1, 31, []string{"window functions are not allowed here"}},
		{"select median(o_total) over () from orders", 1, 8, []string{"median is not a window function"}},
		{"select rank() over (partition by o_nte) from orders", 1, 34, []string{`column "o_nte" does not exist`, `did you mean "o_note"?`}},
		{"select sum(o_total) over (order by o_id rows 2 preceding) from orders", 1, 41, []string{"frames starting at n PRECEDING are not supported"}},
		{"select rank(o_id) over () from orders", 1, 8, []string{"rank takes no arguments"}},
		{"select string_agg(o_note, ',') over () from orders", 1, 8, []string{"string_agg is not supported as a window function"}},
		{"select o_id from orders where o_note ~ '(a)\\1'", 1, 31, []string{`invalid regular expression '(a)\1'`, `backreferences (\1) are not supported`}},
		{"select o_id from orders where o_note !~* 'a(?!b)'", 1, 31, []string{"lookahead and lookbehind constraints are not supported"}},
		{"select regexp_replace(o_note, 'a', 'b', 'gx') from orders", 1, 8, []string{"expanded (x)"}},
		{"select o_id ~ 'a' from orders", 1, 8, []string{"operator does not exist", "::text"}},
	} {
		_, err := cat.SQL(ctx, tc.sql)
		var se *dataframe.SQLError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a *SQLError", tc.sql, err)
			continue
		}
		if se.Line != tc.line || se.Column != tc.col {
			t.Errorf("%q: error at line %d, column %d, want %d, %d: %v", tc.sql, se.Line, se.Column, tc.line, tc.col, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not say %q", tc.sql, err, w)
			}
		}
		if !strings.Contains(se.Excerpt, "^") {
			t.Errorf("%q: excerpt %q has no caret", tc.sql, se.Excerpt)
		}
	}
}

// makeTable creates table name of integer columns cols in cat, with rows
// rows whose value in column c of row i is f(i, c).
func makeTable(t *testing.T, cat *dataframe.Catalog, name string, cols []string, rows int, f func(i, c int) int64) {
	t.Helper()
	ctx := context.Background()
	sb := strings.Builder{}
	fmt.Fprintf(&sb, "create table %s(%s integer", name, cols[0])
	for _, c := range cols[1:] {
		fmt.Fprintf(&sb, ", %s integer", c)
	}
	sb.WriteString(")")
	if _, err := cat.Exec(ctx, sb.String()); err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo < rows; lo += 1000 {
		sb.Reset()
		fmt.Fprintf(&sb, "insert into %s values ", name)
		for i := lo; i < min(rows, lo+1000); i++ {
			if i > lo {
				sb.WriteString(", ")
			}
			sb.WriteString("(")
			for c := range cols {
				if c > 0 {
					sb.WriteString(", ")
				}
				fmt.Fprint(&sb, f(i, c))
			}
			sb.WriteString(")")
		}
		if _, err := cat.Exec(ctx, sb.String()); err != nil {
			t.Fatal(err)
		}
	}
}

// explainOptimized returns the optimized plan EXPLAIN prints for query.
func explainOptimized(t *testing.T, cat *dataframe.Catalog, query string) string {
	t.Helper()
	text := explainText(t, cat, "explain "+query)
	return text[strings.Index(text, "== optimized =="):strings.Index(text, "== stages ==")]
}

// explainText runs an EXPLAIN statement and returns its text.
func explainText(t *testing.T, cat *dataframe.Catalog, stmt string, opts ...dataframe.CollectOption) string {
	t.Helper()
	res, err := cat.Exec(context.Background(), stmt, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 0; i < res.NumRows(); i++ {
		lines = append(lines, res.Value(i, 0).S)
	}
	return strings.Join(lines, "\n")
}

// Over Parquet files (no statistics gathered: only the footers' row counts
// and min/max), a TPC-H Q5-shaped query does not join customer with
// supplier on their nation first — a many-to-many join, 100 times the
// rows of either — but through orders and lineitem, as over loaded tables;
// and its answer is the same either way.
func TestSQLJoinOrderParquet(t *testing.T) {
	ctx := context.Background()
	build := dataframe.NewCatalog()
	tables := []struct {
		name string
		cols []string
		rows int
		f    func(i, c int) int64
	}{
		{"nation", []string{"n_key", "n_region"}, 25, func(i, c int) int64 { return int64([]int{i, i % 5}[c]) }},
		{"supplier", []string{"s_key", "s_nation"}, 500, func(i, c int) int64 { return int64([]int{i + 1, i % 25}[c]) }},
		{"customer", []string{"c_key", "c_nation"}, 5000, func(i, c int) int64 { return int64([]int{i + 1, i * 7 % 25}[c]) }},
		{"orders", []string{"o_key", "o_cust", "o_day"}, 20000, func(i, c int) int64 { return int64([]int{4*i + 1, i*13%5000 + 1, i % 1000}[c]) }},
		{"lineitem", []string{"l_order", "l_supp", "l_price"}, 80000, func(i, c int) int64 { return int64([]int{4*(i/4) + 1, i*31%500 + 1, i % 97}[c]) }},
	}
	dir := t.TempDir()
	files := dataframe.NewCatalog()
	loaded := dataframe.NewCatalog()
	for _, tb := range tables {
		makeTable(t, build, tb.name, tb.cols, tb.rows, tb.f)
		makeTable(t, loaded, tb.name, tb.cols, tb.rows, tb.f)
		df, err := build.SQL(ctx, "select * from "+tb.name)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, tb.name+".parquet")
		if err := df.WriteParquet(ctx, path); err != nil {
			t.Fatal(err)
		}
		if err := files.Register(tb.name, dataframe.ReadParquet(path)); err != nil {
			t.Fatal(err)
		}
	}
	q := `select n_key, sum(l_price) as revenue from customer, orders, lineitem, supplier, nation
		where c_key = o_cust and l_order = o_key and l_supp = s_key and c_nation = s_nation
		  and s_nation = n_key and n_region = 1 and o_day < 250
		group by n_key order by n_key`
	opt := explainOptimized(t, files, q)
	for line := range strings.Lines(opt) {
		if strings.Contains(line, "Join inner on [c_nation] = [s_nation]") || strings.Contains(line, "Join inner on [s_nation] = [c_nation]") {
			t.Errorf("customer is joined with supplier on their nation alone:\n%s", opt)
		}
	}
	a, err := files.Exec(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loaded.Exec(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() || a.NumRows() == 0 {
		t.Errorf("over Parquet:\n%s\nover loaded tables:\n%s", a, b)
	}
}

// The join order comes from the tables' statistics: the same query joins
// the small, selective dimension first whichever order FROM names them.
func TestSQLJoinOrder(t *testing.T) {
	cat := dataframe.NewCatalog()
	mk := func(name string, cols []string, rows int, f func(i, c int) int64) {
		makeTable(t, cat, name, cols, rows, f)
	}
	mk("fact", []string{"f_a", "f_b", "f_v"}, 20000, func(i, c int) int64 { return int64([]int{i % 1000, i % 2000, i}[c]) })
	mk("dim_a", []string{"a_key", "a_x"}, 1000, func(i, c int) int64 { return int64([]int{i, i % 10}[c]) })
	mk("dim_b", []string{"b_key", "b_y"}, 2000, func(i, c int) int64 { return int64([]int{i, i}[c]) })
	for _, from := range []string{"fact, dim_a, dim_b", "dim_b, dim_a, fact", "dim_a, fact, dim_b"} {
		// b_y = 7 keeps one row of dim_b; a_x = 3 a tenth of dim_a.
		opt := explainOptimized(t, cat, "select sum(f_v) from "+from+" where f_a = a_key and f_b = b_key and a_x = 3 and b_y = 7")
		// The deepest join (printed last) is fact with dim_b.
		first := strings.LastIndex(opt, "Join inner")
		if first < 0 || !strings.Contains(opt[first:], "b_key") {
			t.Errorf("FROM %s: fact is not joined with dim_b first:\n%s", from, opt)
		}
	}
}

// A fact table is probed into the small table first when a larger one
// keeps about as few of its rows: probing a hash table that stays in cache
// costs a fraction of probing one that does not (TPC-H Q5: lineitem into
// a region's suppliers before a year's orders).
func TestSQLJoinOrderProbeCost(t *testing.T) {
	ctx := context.Background()
	cat := dataframe.NewCatalog()
	for _, stmt := range []string{
		"create table fact as select i as f_o, i % 10000 as f_s from generate_series(1, 3000000) g(i)",
		"create table big as select i as b_k, i % 6 as b_d from generate_series(1, 750000) g(i)", // b_d = 3 keeps 125k rows, a sixth
		"create table small as select i as s_k, i % 5 as s_n from generate_series(0, 9999) g(i)", // s_n = 1 keeps 2,000, a fifth
	} {
		if _, err := cat.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	q := "select count(*) from fact, big, small where f_o = b_k and f_s = s_k and b_d = 3 and s_n = 1"
	opt := explainOptimized(t, cat, q)
	first := strings.LastIndex(opt, "Join inner")
	if first < 0 || !strings.Contains(opt[first:strings.IndexByte(opt[first:], '\n')+first], "s_k") {
		t.Errorf("fact is not joined with small first:\n%s", opt)
	}
	res, err := cat.Exec(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	// f_o = b_k for f_o <= 750000; b_d = 3 and s_n = 1: f_o % 6 = 3 and f_o % 5 = 1, f_o % 30 = 21.
	if got := res.Value(0, 0).I; got != 750000/30 {
		t.Errorf("count %d, want %d", got, 750000/30)
	}
}

// EXPLAIN ANALYZE runs the query and gives each stage its wall time and
// each operator the rows it returned and its time.
func TestSQLExplainAnalyze(t *testing.T) {
	ctx := context.Background()
	cat := dataframe.NewCatalog()
	if _, err := cat.Exec(ctx, "create table t as select i as k, i % 7 as g from generate_series(1, 20000) g(i)"); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.Exec(ctx, "create table d as select i as dk, i * 10 as dv from generate_series(0, 6) g(i)"); err != nil {
		t.Fatal(err)
	}
	text := explainText(t, cat, "explain analyze select g, count(*), sum(dv) from t join d on g = dk where k <= 14000 group by g order by g", dataframe.WithParallelism(2))
	stages := text[strings.Index(text, "== stages =="):]
	op := regexp.MustCompile(`\[(\d+) rows, (\d+(\.\d+)?(ns|µs|ms|s))\]$`)
	stage := regexp.MustCompile(`^Stage \d+: .*  \[\d+(\.\d+)?(ns|µs|ms|s)\]$`)
	var scanRows, joinRows []string
	for _, l := range strings.Split(stages, "\n") {
		switch {
		case strings.HasPrefix(l, "Stage "):
			if !stage.MatchString(l) {
				t.Errorf("stage line without its time: %q", l)
			}
		case strings.Contains(l, "Scan memory table") && strings.Contains(l, "filter"):
			if m := op.FindStringSubmatch(l); m != nil {
				scanRows = append(scanRows, m[1])
			}
		case strings.Contains(l, "HashJoin"):
			if m := op.FindStringSubmatch(l); m != nil {
				joinRows = append(joinRows, m[1])
			}
		}
	}
	if len(scanRows) != 1 || scanRows[0] != "14000" {
		t.Errorf("the filtered scan of t returned %v rows, want [14000]:\n%s", scanRows, stages)
	}
	if len(joinRows) != 1 || joinRows[0] != "14000" {
		t.Errorf("the join returned %v rows, want [14000]:\n%s", joinRows, stages)
	}
	if !strings.Contains(stages, "== analyze ==\n7 rows in ") {
		t.Errorf("no summary of 7 rows:\n%s", stages)
	}
}

// Range predicates are estimated from the column's least and greatest
// value, the bounds on one column together: in memory and over Parquet.
func TestSQLRangeEstimates(t *testing.T) {
	ctx := context.Background()
	mem := dataframe.NewCatalog()
	if _, err := mem.Exec(ctx, "create table t as select i as k, i % 7 as g from generate_series(1, 10000) g(i)"); err != nil {
		t.Fatal(err)
	}
	df, err := mem.SQL(ctx, "select * from t")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "t.parquet")
	if err := df.WriteParquet(ctx, path); err != nil {
		t.Fatal(err)
	}
	files := dataframe.NewCatalog()
	if err := files.Register("t", dataframe.ReadParquet(path)); err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`Scan .*\(~(\d+) rows\)`)
	for _, tc := range []struct {
		where string
		want  int
	}{
		{"k >= 1001 and k < 2001", 1000},
		{"2001 > k and k >= 1001", 1000},
		{"k <= 2500", 2500},
		{"k > 9000", 1000},
		{"k > 3000 and k <= 3000", 1}, // (nothing: one row, the least estimate)
		{"k >= 1001 and k < 2001 and g = 3", 1000 / 7},
	} {
		for name, cat := range map[string]*dataframe.Catalog{"memory": mem, "parquet": files} {
			opt := explainOptimized(t, cat, "select k from t where "+tc.where)
			m := rows.FindStringSubmatch(opt)
			if m == nil {
				t.Fatalf("%s, where %s: no scan estimate in\n%s", name, tc.where, opt)
			}
			got, _ := strconv.Atoi(m[1])
			if d := got - tc.want; d > tc.want/50+1 || -d > tc.want/50+1 {
				t.Errorf("%s, where %s: estimated %d rows, want %d", name, tc.where, got, tc.want)
			}
		}
	}
}

// A grouping by a table's key and other columns of the same table groups
// by the key alone, the others carried through (any_value); the columns of
// the same table read twice (a self join) are not taken for one row; the
// answers are those of the grouping by every key.
func TestSQLDependentKeys(t *testing.T) {
	ctx := context.Background()
	// ref holds the same tables, but for two customers with one key, whom
	// no order refers to: ck is no key there, so nothing is reduced.
	cat, ref := dataframe.NewCatalog(), dataframe.NewCatalog()
	for _, stmt := range []string{
		"create table cust as select i as ck, 'name' || cast(i as varchar) as cname, i % 5 as cnation from generate_series(1, 3000) g(i)",
		"create table ord as select i as ok, i % 3000 + 1 as ocust, i % 11 as oval from generate_series(1, 20000) g(i)",
		// dup: a key with one value twice, so not a key.
		"create table dup as select i % 2999 + 1 as dk, 'name' || cast(i as varchar) as dname from generate_series(1, 3000) g(i)",
	} {
		for _, c := range []*dataframe.Catalog{cat, ref} {
			if _, err := c.Exec(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := ref.Exec(ctx, "insert into cust values (3001, 'nobody', 1), (3001, 'nobody either', 1)"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, query string
		anyValue    bool
	}{
		{"key and its row's columns", "select ck, cname, cnation, sum(oval) from cust join ord on ck = ocust group by ck, cname, cnation order by ck", true},
		{"the key not first", "select cname, sum(oval), ck from cust join ord on ck = ocust group by cname, ck order by ck", true},
		{"a self join", "select a.ck, b.cname, count(*) from cust a join cust b on a.cnation = b.cnation where a.ck <= 20 and b.ck <= 20 group by a.ck, b.cname order by 1, 2", false},
		{"a WITH query joined with itself", "with c as (select ck, cname, cnation from cust where ck <= 20) select a.ck, b.cname, count(*) from c a join c b on a.cnation = b.cnation group by a.ck, b.cname order by 1, 2", false},
		{"not a key", "select dk, dname, count(*) from dup group by dk, dname order by 1, 2", false},
		{"a computed key", "select ck + 0 as k, cname, count(*) from cust where ck <= 3000 group by ck + 0, cname order by 1", false},
	} {
		if got := strings.Contains(explainOptimized(t, cat, tc.query), "any_value("); got != tc.anyValue {
			t.Errorf("%s: any_value in the plan %v, want %v", tc.name, got, tc.anyValue)
		}
		if strings.Contains(explainOptimized(t, ref, tc.query), "any_value(") {
			t.Errorf("%s: keys reduced by a column with a value twice", tc.name)
		}
		got, err := cat.Exec(ctx, tc.query)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Exec(ctx, tc.query)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() || got.NumRows() == 0 {
			t.Errorf("%s: with the keys reduced\n%s\nwithout\n%s", tc.name, got, want)
		}
	}
}

// A WITH query used twice is planned once: one stage computes it and both
// uses read that stage; the answer is that of the query written out twice.
func TestSQLSharedCTE(t *testing.T) {
	ctx := context.Background()
	cat := dataframe.NewCatalog()
	var sb strings.Builder
	sb.WriteString("create table t(k integer, v integer); insert into t values ")
	for i := 0; i < 20000; i++ { // (past 8,192 rows a scan is read in parallel)
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "(%d, %d)", i%50, i)
	}
	if _, err := cat.Exec(ctx, sb.String()); err != nil {
		t.Fatal(err)
	}
	shared := "with r as (select k, sum(v) as s from t group by k) select a.k, a.s, b.s from r a join r b on a.k = b.k + 1 where a.s > (select avg(s) from r) order by 1"
	written := "select a.k, a.s, b.s from (select k, sum(v) as s from t group by k) a join (select k, sum(v) as s from t group by k) b on a.k = b.k + 1 where a.s > (select avg(s) from (select k, sum(v) as s from t group by k) c) order by 1"
	res, err := cat.Exec(ctx, "explain "+shared)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for i := 0; i < res.NumRows(); i++ {
		plan.WriteString(res.Value(i, 0).S + "\n")
	}
	stages := plan.String()[strings.Index(plan.String(), "== stages =="):]
	if n := strings.Count(stages, "HashAgg(partial) keys 1"); n != 1 {
		t.Errorf("the WITH query's grouping is planned %d times, want once:\n%s", n, stages)
	}
	a, err := cat.Exec(ctx, shared, dataframe.WithParallelism(3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := cat.Exec(ctx, written, dataframe.WithParallelism(3))
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() || a.NumRows() == 0 {
		t.Errorf("shared:\n%s\nwritten out:\n%s", a, b)
	}
}

// No statement text makes the SQL front end panic: it parses, binds and
// plans, or says what is wrong.
func FuzzSQL(f *testing.F) {
	for _, seed := range []string{
		"select a, b from t where a in (select b from t) order by 1",
		"select count(*), sum(b) from t group by a having count(*) > 1",
		"with r as (select a from t) select * from r x join r y on x.a = y.a",
		"select (select max(b) from t u where u.a = t.a) from t",
		"select a from t union select b from t except select 1",
		"insert into t values (1, 'x'), (null, null)",
		"update t set b = 'y' where a not in (select a from t where b is null)",
		"select case when a > 1 then 'p' end, coalesce(a, 0) % 3, a || b from t",
		"select * from t natural full join t",
		"explain select * from t where exists (select * from t s where s.a > t.a)",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, q string) {
		ctx := context.Background()
		cat := dataframe.NewCatalog()
		if _, err := cat.Exec(ctx, "create table t(a integer, b varchar)"); err != nil {
			t.Fatal(err)
		}
		df, err := cat.SQL(ctx, q)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%q: %v", q, err)
			}
			return
		}
		if _, err := df.Explain(); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%q: %v", q, err)
		}
	})
}

// A CSV file with a header line is a table whose types are inferred; its
// empty non-text fields are NULL.
func TestSQLReadCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fruit.csv")
	data := "id,name,price,day,ok\n1,apple,1.5,2024-01-02,true\n2,pear,,2024-02-03,false\n3,,2,2024-03-04,\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cat := dataframe.NewCatalog()
	if names, err := cat.RegisterDir(dir); err != nil || len(names) != 1 || names[0] != "fruit" {
		t.Fatalf("RegisterDir: %v %v", names, err)
	}
	ctx := context.Background()
	df, err := cat.SQL(ctx, "select * from fruit")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := df.Schema()
	if got := s.String(); !strings.Contains(got, "id int64") || !strings.Contains(got, "price float64") || !strings.Contains(got, "day date") || !strings.Contains(got, "ok bool") || !strings.Contains(got, "name string") {
		t.Errorf("inferred schema %s", got)
	}
	cols, rows, err := cat.QueryValues(ctx, "select count(*), sum(price), count(ok) from read_csv('"+path+"') where id > 1")
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 3 || fmt.Sprint(rows) != "[[2 2 1]]" {
		t.Errorf("got %v %v", cols, rows)
	}
}
