package dataframe_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/shoal-dev/shoal/dataframe"
)

// Column names work wherever a column expression does, and Drop, Union
// and the several-frame UnionAll keep exactly the rows and columns they
// say, against plain Go over random rows with nulls.
func TestFrameOpsRandom(t *testing.T) {
	rng := newRNG(t)
	for iter := 0; iter < 10; iter++ {
		a, b, c := randRows(rng, rng.IntN(2000), rng.IntN(30)), randRows(rng, rng.IntN(2000), rng.IntN(30)), randRows(rng, rng.IntN(500), rng.IntN(30))
		fa, fb, fc := toFrame(t, a, ""), toFrame(t, b, ""), toFrame(t, c, "")
		if rng.IntN(2) == 0 {
			fb = fb.Repartition(1+rng.IntN(4), "id")
		}
		opts := randomOpts(rng)

		// Drop and Select by name.
		got := collectStrings(t, fa.Drop("d", "s"), opts...)
		want := collectStrings(t, fa.Select("k", "v", Col("id")), opts...)
		var ref []string
		for _, r := range a {
			ref = append(ref, fmt.Sprintf("%s|%s|%d", fmtPtr(r.k), fmtPtr(r.v), r.id))
		}
		if !slices.Equal(got, ref) || !slices.Equal(want, ref) {
			t.Fatalf("iteration %d: Drop / Select by name: %v, %v, want %v", iter, head(got), head(want), head(ref))
		}

		// GroupBy a name, aggregates of names.
		got = collectStrings(t, fa.GroupBy("s").Agg(Sum("v").As("sum"), CountAll().As("n")), opts...)
		sums, counts := map[string]*int64{}, map[string]int{}
		for _, r := range a {
			k := fmtPtr(r.s)
			counts[k]++
			if r.v != nil {
				if sums[k] == nil {
					sums[k] = new(int64)
				}
				*sums[k] += *r.v
			}
		}
		ref = nil
		for k, n := range counts {
			ref = append(ref, fmt.Sprintf("%s|%s|%d", k, fmtPtr(sums[k]), n))
		}
		sort.Strings(got)
		sort.Strings(ref)
		if !slices.Equal(got, ref) {
			t.Fatalf("iteration %d: GroupBy(\"s\"): %v, want %v", iter, got, ref)
		}

		// UnionAll of three frames, Union (distinct) of two.
		got = collectStrings(t, fa.Select("k", "s").UnionAll(fb.Select("k", "s"), fc.Select("k", "s")), opts...)
		set := map[string]bool{}
		ref = nil
		for _, rows := range [][]row{a, b, c} {
			for _, r := range rows {
				x := fmtPtr(r.k) + "|" + fmtPtr(r.s)
				ref = append(ref, x)
				set[x] = true
			}
		}
		sort.Strings(got)
		sort.Strings(ref)
		if !slices.Equal(got, ref) {
			t.Fatalf("iteration %d: UnionAll of three: %d rows, want %d", iter, len(got), len(ref))
		}
		got = collectStrings(t, fa.Select("k", "s").Union(fb.Select("k", "s"), fc.Select("k", "s")), opts...)
		ref = ref[:0]
		for x := range set {
			ref = append(ref, x)
		}
		sort.Strings(got)
		sort.Strings(ref)
		if !slices.Equal(got, ref) {
			t.Fatalf("iteration %d: Union: %d rows, want %d", iter, len(got), len(ref))
		}
	}
	df := toFrame(t, randRows(rng, 10, 0), "")
	for _, bad := range []struct {
		df   *DataFrame
		want string
	}{
		{df.Drop("vv"), `column "vv" not found; did you mean "v"?`},
		{df.Drop("k", "v", "d", "s", "id"), "at least one column"},
		{df.Select("idd"), `did you mean "id"?`},
		{df.GroupBy("sx").Agg(CountAll()), `did you mean "s"?`},
		{df.Rename(map[string]string{"kk": "x"}), `did you mean "k"?`},
		{df.Union(df.Select("k")), "5 and 1 columns"},
	} {
		if err := bad.df.Err(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("got %v, want an error saying %q", err, bad.want)
		}
	}
}

// String predicates (with literal and computed arguments, wildcards in
// the literal taken literally) and date parts and arithmetic, against Go's
// strings and time packages over random rows with nulls.
func TestStringDateFunctionsRandom(t *testing.T) {
	rng := newRNG(t)
	base := time.Date(1995, 3, 1, 0, 0, 0, 0, time.UTC)
	for iter := 0; iter < 5; iter++ {
		rows := randRows(rng, rng.IntN(2000), rng.IntN(30))
		df := toFrame(t, rows, "").WithColumn("s", Coalesce(Col("s"), "%_x")) // (a value with wildcards)
		sub := []string{"ph", "a", "et", "%_", "_x", "eps"}[rng.IntN(6)]
		got := collectStrings(t, df.Select(
			Col("id"),
			Col("s").Contains(sub), Col("s").StartsWith(sub), Col("s").EndsWith(sub),
			Col("s").Contains(Col("s").Right(2)).As("c2"), Col("s").EndsWith(Col("s").Substring(2, 1)).As("e2"),
			Lit(base).Add(Col("v")).Month().As("m"), Lit(base).Add(Col("v")).Day().As("d"), Lit(base).Add(Col("v")).Year().As("y"),
			Lit(base).Add(Col("v")).Sub(Lit(base)).As("days"),
		), randomOpts(rng)...)
		var want []string
		for _, r := range rows {
			s := "%_x"
			if r.s != nil {
				s = *r.s
			}
			cells := []string{fmt.Sprint(r.id), fmt.Sprint(strings.Contains(s, sub)), fmt.Sprint(strings.HasPrefix(s, sub)),
				fmt.Sprint(strings.HasSuffix(s, sub)), fmt.Sprint(strings.Contains(s, s[len(s)-2:])), fmt.Sprint(strings.HasSuffix(s, s[1:2]))}
			if r.v == nil {
				cells = append(cells, "NULL", "NULL", "NULL", "NULL")
			} else {
				d := base.AddDate(0, 0, int(*r.v))
				cells = append(cells, fmt.Sprint(int(d.Month())), fmt.Sprint(d.Day()), fmt.Sprint(d.Year()), fmt.Sprint(*r.v))
			}
			want = append(want, strings.Join(cells, "|"))
		}
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("iteration %d (sub %q): got %s, want %s", iter, sub, got[i], want[i])
				}
			}
			t.Fatalf("iteration %d: %d rows, want %d", iter, len(got), len(want))
		}
	}
}

// WriteTable aligns names, types and values (numbers to the right) and
// counts the rows; Head keeps the first rows.
func TestWriteTable(t *testing.T) {
	rows := []row{
		{k: ptr(int32(7)), v: ptr(int64(-7)), d: ptr(int64(250)), s: ptr("Straße"), id: 1},
		{k: nil, v: ptr(int64(12345)), d: nil, s: ptr("b"), id: 2},
		{k: ptr(int32(-3)), v: nil, d: ptr(int64(-125)), s: nil, id: 3},
	}
	res, err := toFrame(t, rows, "").Select("s", "v", "d").Head(2).Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := res.WriteTable(&sb, 0); err != nil {
		t.Fatal(err)
	}
	want := ` s      |     v |             d
 string | int64 | decimal(18,2)
--------+-------+---------------
 Straße |    -7 |          2.50
 b      | 12345 |          NULL
(2 rows)
`
	if sb.String() != want {
		t.Errorf("got\n%s\nwant\n%s", sb.String(), want)
	}
	sb.Reset()
	if err := res.WriteTable(&sb, 1); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(sb.String(), " Straße |    -7 |          2.50\n(2 rows, the first 1 shown)\n") {
		t.Errorf("one row of two:\n%s", sb.String())
	}
}

// ReadCSV without a schema infers it; a directory or a glob reads every
// file it names, with the rows of all of them.
func TestReadCSVDirectoryAndGlob(t *testing.T) {
	rng := newRNG(t)
	dir := t.TempDir()
	var want []string
	for f := 0; f < 3; f++ {
		var sb strings.Builder
		sb.WriteString("id,name,day,x\n")
		for i := 0; i < rng.IntN(500); i++ {
			id := f*1000 + i
			x := ""
			if rng.IntN(5) > 0 {
				x = fmt.Sprint(rng.IntN(100)) + ".5"
			}
			day := fmt.Sprintf("1998-%02d-%02d", 1+rng.IntN(12), 1+rng.IntN(28))
			fmt.Fprintf(&sb, "%d,n%d,%s,%s\n", id, id%7, day, x)
			if x == "" {
				x = "NULL"
			}
			want = append(want, fmt.Sprintf("%d|n%d|%s|%s", id, id%7, day, x))
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part%d.csv", f)), []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(want)
	for _, path := range []string{dir, filepath.Join(dir, "part*.csv")} {
		df := ReadCSV(path, nil)
		s, err := df.Schema()
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(s); !strings.Contains(got, "int64") || !strings.Contains(got, "date") || !strings.Contains(got, "float64") {
			t.Errorf("%s: inferred schema %s", path, got)
		}
		got := collectStrings(t, df, randomOpts(rng)...)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %d rows, want %d (%v, %v)", path, len(got), len(want), head(got), head(want))
		}
	}
	if err := ReadCSV(filepath.Join(dir, "nope*.csv"), nil).Err(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a glob matching nothing: %v", err)
	}
}
