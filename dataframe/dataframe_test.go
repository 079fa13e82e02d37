package dataframe_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	. "github.com/shoal-dev/shoal/dataframe"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// row is one reference row: nil means null.
type row struct {
	k  *int32  // small key, nullable
	v  *int64  // value, nullable
	d  *int64  // decimal(15,2) as cents, nullable
	s  *string // low-cardinality string, nullable
	id int64   // unique, not null
}

func ptr[T any](x T) *T { return &x }

func randRows(rng *rand.Rand, n int, nullPct int) []row {
	words := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	rows := make([]row, n)
	null := func() bool { return rng.IntN(100) < nullPct }
	for i := range rows {
		r := row{id: int64(i)}
		if !null() {
			r.k = ptr(int32(rng.IntN(20)))
		}
		if !null() {
			r.v = ptr(int64(rng.IntN(2000) - 1000))
		}
		if !null() {
			r.d = ptr(int64(rng.IntN(100000)))
		}
		if !null() {
			r.s = ptr(words[rng.IntN(len(words))])
		}
		rows[i] = r
	}
	return rows
}

// toFrame builds an in-memory frame from rows, split into several records.
func toFrame(t *testing.T, rows []row, prefix string) *DataFrame {
	t.Helper()
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: prefix + "k", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: prefix + "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: prefix + "d", Type: &arrow.Decimal128Type{Precision: 15, Scale: 2}, Nullable: true},
		{Name: prefix + "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: prefix + "id", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	var recs []arrow.RecordBatch
	for lo := 0; lo < len(rows) || lo == 0; lo += 777 {
		hi := min(lo+777, len(rows))
		b := array.NewRecordBuilder(mem, schema)
		for _, r := range rows[lo:hi] {
			if r.k == nil {
				b.Field(0).AppendNull()
			} else {
				b.Field(0).(*array.Int32Builder).Append(*r.k)
			}
			if r.v == nil {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.Int64Builder).Append(*r.v)
			}
			if r.d == nil {
				b.Field(2).AppendNull()
			} else {
				b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(*r.d))
			}
			if r.s == nil {
				b.Field(3).AppendNull()
			} else {
				b.Field(3).(*array.StringBuilder).Append(*r.s)
			}
			b.Field(4).(*array.Int64Builder).Append(r.id)
		}
		recs = append(recs, b.NewRecordBatch())
		b.Release()
		if hi == len(rows) {
			break
		}
	}
	df := FromArrow(recs...)
	for _, r := range recs {
		r.Release()
	}
	if df.Err() != nil {
		t.Fatal(df.Err())
	}
	return df
}

// randomOpts varies batch size and parallelism, as CockroachDB's tests do.
func randomOpts(rng *rand.Rand) []CollectOption {
	return []CollectOption{WithBatchSize(1 + rng.IntN(300)), WithParallelism(1 + rng.IntN(4))}
}

func newRNG(t *testing.T) *rand.Rand {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 7))
}

func collectStrings(t *testing.T, df *DataFrame, opts ...CollectOption) []string {
	t.Helper()
	res, err := df.Collect(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, res.NumRows())
	for i := range out {
		cells := make([]string, len(res.Schema()))
		for j, v := range res.Row(i) {
			cells[j] = FormatValue(v)
		}
		out[i] = strings.Join(cells, "|")
	}
	return out
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprint(*p)
}

func fmtDec(p *int64) string {
	if p == nil {
		return "NULL"
	}
	x := *p
	sign := ""
	if x < 0 {
		sign, x = "-", -x
	}
	return fmt.Sprintf("%s%d.%02d", sign, x/100, x%100)
}

func TestFilterProjectRandom(t *testing.T) {
	rng := newRNG(t)
	for iter := 0; iter < 20; iter++ {
		rows := randRows(rng, rng.IntN(3000), rng.IntN(40))
		df := toFrame(t, rows, "")
		c := int64(rng.IntN(1000) - 500)
		// (v > c AND s IN ('alpha','gamma')) OR k IS NULL, projecting v*2+k and d-1.
		pred := Col("v").Gt(c).And(Col("s").IsIn("alpha", "gamma")).Or(Col("k").IsNull())
		got := collectStrings(t, df.Filter(pred).Select(Col("id"), Col("v").Mul(2).Add(Col("k")).As("x"), Col("d").Sub(1).As("y")), randomOpts(rng)...)
		var want []string
		for _, r := range rows {
			var left *bool
			if r.v != nil && r.s != nil {
				left = ptr(*r.v > c && (*r.s == "alpha" || *r.s == "gamma"))
			} else if (r.v != nil && *r.v <= c) || (r.s != nil && *r.s != "alpha" && *r.s != "gamma") {
				left = ptr(false)
			}
			keep := r.k == nil || (left != nil && *left)
			if !keep {
				continue
			}
			x := "NULL"
			if r.v != nil && r.k != nil {
				x = fmt.Sprint(*r.v*2 + int64(*r.k))
			}
			var y *int64
			if r.d != nil {
				y = ptr(*r.d - 100)
			}
			want = append(want, fmt.Sprintf("%d|%s|%s", r.id, x, fmtDec(y)))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: got %d rows, want %d\ngot  %v\nwant %v", iter, len(got), len(want), head(got), head(want))
		}
	}
}

func head(s []string) []string { return s[:min(len(s), 8)] }

func TestGroupByRandom(t *testing.T) {
	rng := newRNG(t)
	for iter := 0; iter < 15; iter++ {
		rows := randRows(rng, rng.IntN(4000), rng.IntN(30))
		df := toFrame(t, rows, "")
		q := df.GroupBy(Col("s"), Col("k")).Agg(
			Sum(Col("v")).As("sum_v"), Count(Col("v")).As("cnt_v"), CountAll().As("n"),
			Min(Col("d")).As("min_d"), Max(Col("d")).As("max_d"), CountDistinct(Col("v")).As("dv"),
			Sum(Col("d")).As("sum_d"),
		)
		opts := randomOpts(rng)
		if rng.IntN(2) == 0 {
			opts = append(opts, WithMemoryBudget(int64(1+rng.IntN(8))<<10)) // spill
		}
		got := collectStrings(t, q, opts...)
		sort.Strings(got)
		type acc struct {
			sum, sumD      int64
			sumSeen, dSeen bool
			cnt, n         int64
			minD, maxD     *int64
			distinct       map[int64]bool
		}
		groups := map[string]*acc{}
		for _, r := range rows {
			key := fmtPtr(r.s) + "|" + fmtPtr(r.k)
			a := groups[key]
			if a == nil {
				a = &acc{distinct: map[int64]bool{}}
				groups[key] = a
			}
			a.n++
			if r.v != nil {
				a.sum += *r.v
				a.sumSeen = true
				a.cnt++
				a.distinct[*r.v] = true
			}
			if r.d != nil {
				a.sumD += *r.d
				a.dSeen = true
				if a.minD == nil || *r.d < *a.minD {
					a.minD = ptr(*r.d)
				}
				if a.maxD == nil || *r.d > *a.maxD {
					a.maxD = ptr(*r.d)
				}
			}
		}
		var want []string
		for key, a := range groups {
			sum, sumD := "NULL", "NULL"
			if a.sumSeen {
				sum = fmt.Sprint(a.sum)
			}
			if a.dSeen {
				sumD = fmtDec(&a.sumD)
			}
			want = append(want, fmt.Sprintf("%s|%s|%d|%d|%s|%s|%d|%s", key, sum, a.cnt, a.n, fmtDec(a.minD), fmtDec(a.maxD), len(a.distinct), sumD))
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: got %d groups, want %d\ngot  %v\nwant %v", iter, len(got), len(want), head(got), head(want))
		}
	}
}

func TestJoinRandom(t *testing.T) {
	rng := newRNG(t)
	for iter := 0; iter < 40; iter++ {
		nl, nr := rng.IntN(1500), rng.IntN(400)
		if iter%4 >= 2 { // a smaller left side: built and marked by the probes (build-left)
			nl, nr = nr, nl
		}
		left := randRows(rng, nl, rng.IntN(20))
		right := randRows(rng, nr, rng.IntN(20))
		unique := iter%2 == 0
		if unique { // keys unique on the build side: exercises the late-materialized path
			seen := map[int32]bool{}
			var u []row
			for _, r := range right {
				if r.k != nil && !seen[*r.k] {
					seen[*r.k] = true
					u = append(u, r)
				}
			}
			right = u
		}
		how := []JoinType{Inner, LeftOuter, Semi, Anti}[rng.IntN(4)]
		residual := rng.IntN(2) == 0
		on := On("k", "rk")
		if residual {
			on = on.Where(Col("v").Lt(Col("rv")))
		}
		df := toFrame(t, left, "").Join(toFrame(t, right, "r"), how, on)
		opts := randomOpts(rng)
		if rng.IntN(2) == 0 {
			opts = append(opts, WithMemoryBudget(int64(1+rng.IntN(16))<<10), WithBroadcastRows(int64(rng.IntN(100))))
		}
		var got []string
		if how == Semi || how == Anti {
			got = collectStrings(t, df.Select(Col("id")), opts...)
		} else {
			got = collectStrings(t, df.Select(Col("id"), Col("rid")), opts...)
		}
		sort.Strings(got)
		var want []string
		for _, l := range left {
			matched := false
			for _, r := range right {
				if l.k == nil || r.k == nil || *l.k != *r.k {
					continue
				}
				if residual && !(l.v != nil && r.v != nil && *l.v < *r.v) {
					continue
				}
				matched = true
				if how == Inner || how == LeftOuter {
					want = append(want, fmt.Sprintf("%d|%d", l.id, r.id))
				}
			}
			switch {
			case how == Semi && matched, how == Anti && !matched:
				want = append(want, fmt.Sprint(l.id))
			case how == LeftOuter && !matched:
				want = append(want, fmt.Sprintf("%d|NULL", l.id))
			}
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d (%s, residual %v, unique %v): got %d rows, want %d\ngot  %v\nwant %v",
				iter, how, residual, unique, len(got), len(want), head(got), head(want))
		}
	}
}

func TestSortRandom(t *testing.T) {
	rng := newRNG(t)
	for iter := 0; iter < 12; iter++ {
		rows := randRows(rng, rng.IntN(3000), rng.IntN(30))
		df := toFrame(t, rows, "")
		limit := int64(0)
		if iter%3 == 1 {
			limit = int64(1 + rng.IntN(50))
		}
		q := df.Sort(Asc("s"), Desc("k").NullsFirst(), Desc("v"), Asc("id")).Select(Col("id"))
		if limit > 0 {
			q = df.TopK(limit, Asc("s"), Desc("k").NullsFirst(), Desc("v"), Asc("id")).Select(Col("id"))
		}
		var spilled bool
		var mu sync.Mutex
		opts := randomOpts(rng)
		budget := iter%3 == 2
		if budget {
			opts = append(opts, WithMemoryBudget(4<<10), OnSpill(func(op string) {
				mu.Lock()
				spilled = spilled || op == "sort"
				mu.Unlock()
			}))
		}
		got := collectStrings(t, q, opts...)
		ref := slices.Clone(rows)
		cmpNull := func(an, bn bool) (int, bool) {
			switch {
			case an && bn:
				return 0, true
			case an:
				return 1, true // nulls last
			case bn:
				return -1, true
			}
			return 0, false
		}
		slices.SortStableFunc(ref, func(a, b row) int {
			if c, ok := cmpNull(a.s == nil, b.s == nil); ok {
				if c != 0 {
					return c
				}
			} else if c := strings.Compare(*a.s, *b.s); c != 0 {
				return c
			}
			if c, ok := cmpNull(a.k == nil, b.k == nil); ok {
				if c != 0 {
					return -c // nulls first
				}
			} else if *a.k != *b.k {
				if *a.k > *b.k {
					return -1
				}
				return 1
			}
			if c, ok := cmpNull(a.v == nil, b.v == nil); ok {
				if c != 0 {
					return c
				}
			} else if *a.v != *b.v {
				if *a.v > *b.v {
					return -1
				}
				return 1
			}
			return int(a.id - b.id)
		})
		var want []string
		for _, r := range ref {
			want = append(want, fmt.Sprint(r.id))
		}
		if limit > 0 && int64(len(want)) > limit {
			want = want[:limit]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: got %v, want %v", iter, head(got), head(want))
		}
		if budget && len(rows) > 1000 && !spilled {
			t.Fatalf("iteration %d: sort of %d rows with a 4 KiB budget did not spill", iter, len(rows))
		}
	}
}

func TestExpressions(t *testing.T) {
	rows := []row{{k: ptr(int32(3)), v: ptr(int64(10)), d: ptr(int64(1999)), s: ptr("special packages requests"), id: 1},
		{k: nil, v: ptr(int64(-4)), d: ptr(int64(5)), s: ptr("quick"), id: 2}}
	df := toFrame(t, rows, "")
	got := collectStrings(t, df.Select(
		Col("id"),
		When(Col("k").IsNull()).Then(Lit("none")).Otherwise(Lit("some")).As("c"),
		Col("s").Like("%special%requests%").As("like"),
		Col("s").NotLike("q%").As("notlike"),
		Col("s").Substring(2, 3).As("sub"),
		Col("d").Mul(Col("d")).As("dd"),
		Col("d").Div(Col("v")).As("ratio"),
		Date("1996-02-29").AddYears(1).As("date"),
		Date("1995-06-17").Year().As("year"),
		Col("v").Between(-5, 5).As("between"),
		Col("d").Cast(Float64).As("f"),
	))
	want := []string{
		"1|some|true|true|pec|399.6001|1.999|1997-02-28|1995|false|19.99",
		"2|none|false|false|uic|0.0025|-0.0125|1997-02-28|1995|true|0.05",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBadInput(t *testing.T) {
	rows := randRows(rand.New(rand.NewPCG(1, 2)), 10, 0)
	df := toFrame(t, rows, "")
	ctx := context.Background()
	var notFound *ColumnNotFoundError
	_, err := df.Select(Col("nope")).Collect(ctx)
	if !errors.As(err, &notFound) || notFound.Name != "nope" || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing column: got %v", err)
	}
	for name, q := range map[string]*DataFrame{
		"compare string with int": df.Filter(Col("s").Eq(3)),
		"add to a string":         df.Select(Col("s").Add(1)),
		"non-bool filter":         df.Filter(Col("v")),
		"like on an int":          df.Filter(Col("v").Like("%x")),
		"year of an int":          df.Select(Col("v").Year()),
	} {
		if _, err := q.Collect(ctx); !errors.Is(err, ErrTypeMismatch) {
			t.Errorf("%s: got %v, want ErrTypeMismatch", name, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.parquet")
	os.WriteFile(bad, []byte("PAR1 not really parquet PAR1"), 0o644)
	if _, err := ReadParquet(bad).Collect(ctx); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("malformed parquet: got %v, want an error naming %s", err, bad)
	}
	if _, err := ReadParquet("/no/such/file.parquet").Collect(ctx); err == nil || !strings.Contains(err.Error(), "/no/such/file.parquet") {
		t.Errorf("missing parquet: got %v", err)
	}
	if _, err := df.Join(df, Inner, On("k", "k")).Collect(ctx); err == nil || !strings.Contains(err.Error(), "both sides") {
		t.Errorf("clashing join columns: got %v", err)
	}
	csvPath := filepath.Join(t.TempDir(), "x.csv")
	os.WriteFile(csvPath, []byte("1,abc\n2,notanumber\n"), 0o644)
	_, err = ReadCSV(csvPath, Schema{{Name: "a", Type: Int32}, {Name: "b", Type: Int64}}).Collect(ctx)
	if err == nil || !strings.Contains(err.Error(), "column b") || !strings.Contains(err.Error(), csvPath) {
		t.Errorf("bad CSV value: got %v", err)
	}
}

func TestTokensAndCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "t.parquet")
	write := func(rows []row) {
		if err := toFrame(t, rows, "").WriteParquet(ctx, path); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	write(randRows(rng, 500, 10))
	query := func() *DataFrame {
		return ReadParquet(path).Filter(Col("v").Gt(0)).GroupBy().Agg(Sum(Col("v")).As("s"), CountAll().As("n"))
	}
	cache := NewCache(1 << 20)
	t1, err := query().Token()
	if err != nil {
		t.Fatal(err)
	}
	t2, _ := query().Token()
	if t1 != t2 {
		t.Fatalf("the same plan over the same file has tokens %s and %s", t1, t2)
	}
	other, _ := ReadParquet(path).Filter(Col("v").Gt(1)).GroupBy().Agg(Sum(Col("v")).As("s"), CountAll().As("n")).Token()
	if other == t1 {
		t.Fatal("different plans share a token")
	}
	r1, err := query().Collect(ctx, WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := query().Collect(ctx, WithCache(cache))
	if r1 != r2 {
		t.Fatal("second collect of an unchanged plan missed the cache")
	}
	if h, m := cache.Stats(); h != 1 || m != 1 {
		t.Fatalf("hits %d misses %d, want 1 and 1", h, m)
	}
	// Change the input: the token changes and the cache gives the new answer.
	newRows := randRows(rng, 800, 10)
	write(newRows)
	r3, err := query().Collect(ctx, WithCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, r := range newRows {
		if r.v != nil && *r.v > 0 {
			want += *r.v
		}
	}
	if r3 == r1 || r3.Value(0, 0).I != want {
		t.Fatalf("after the file changed: got sum %d (same result: %v), want %d", r3.Value(0, 0).I, r3 == r1, want)
	}
	// Two in-memory tables with equal contents are different inputs.
	rows := randRows(rng, 10, 0)
	a, _ := toFrame(t, rows, "").Token()
	b, _ := toFrame(t, rows, "").Token()
	if a == b {
		t.Fatal("two in-memory tables share a token")
	}
}

func TestExplainAndDistinct(t *testing.T) {
	rows := randRows(rand.New(rand.NewPCG(5, 6)), 20000, 5)
	l, r := toFrame(t, rows, ""), toFrame(t, rows, "r")
	q := l.Join(r, Inner, On("id", "rid")).Filter(Col("rk").Eq(3).And(Col("k").Gt(1))).GroupBy(Col("s")).Agg(Sum(Col("v")).As("sv"))
	text, err := q.Explain(WithParallelism(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"== optimized ==", "HashJoin inner", "HashAgg(partial)", "HashAgg(final)", "Stage 0", "filter"} {
		if !strings.Contains(text, want) {
			t.Errorf("explain lacks %q:\n%s", want, text)
		}
	}
	got := collectStrings(t, l.Select(Col("s")).Distinct().Sort(Asc("s")))
	want := []string{"alpha", "beta", "delta", "epsilon", "gamma", "NULL"}
	if !slices.Equal(got, want) {
		t.Fatalf("distinct: got %v, want %v", got, want)
	}
}

// Repartition moves rows, never changes them: every row once, whatever the
// keys (nullable ints, strings, decimals), partition counts and batch
// sizes; filters above it still apply.
func TestRepartitionRandom(t *testing.T) {
	rng := newRNG(t)
	for iter := 0; iter < 10; iter++ {
		rows := randRows(rng, rng.IntN(3000), rng.IntN(30))
		df := toFrame(t, rows, "")
		keys := [][]any{{"k"}, {Col("s"), "d"}, {Col("id")}}[rng.IntN(3)]
		n := 1 + rng.IntN(9)
		got := collectStrings(t, df.Repartition(n, keys...).Filter(Col("id").Ge(int64(0))), randomOpts(rng)...)
		want := collectStrings(t, df)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: repartition into %d on %v: %d rows, want %d", iter, n, keys, len(got), len(want))
		}
	}
	df := toFrame(t, randRows(rng, 10, 0), "")
	for _, bad := range []struct {
		df   *DataFrame
		want string
	}{
		{df.Repartition(0, Col("k")), "want at least 1"},
		{df.Repartition(2), "at least one key"},
		{df.Repartition(2, Col("nope")), "nope"},
	} {
		if err := bad.df.Err(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("got %v, want an error saying %q", err, bad.want)
		}
	}
}

// UnionAll keeps every row of both sides, whatever the partitioning, batch
// sizes and filters above it (pushed into both sides); Distinct over it is
// SQL's UNION.
func TestUnionAllRandom(t *testing.T) {
	rng := newRNG(t)
	for iter := 0; iter < 10; iter++ {
		a, b := randRows(rng, rng.IntN(3000), rng.IntN(30)), randRows(rng, rng.IntN(3000), rng.IntN(30))
		l, r := toFrame(t, a, ""), toFrame(t, b, "r")
		if rng.IntN(2) == 0 {
			r = r.Repartition(1+rng.IntN(5), Col("rid"))
		}
		got := collectStrings(t, l.UnionAll(r).Filter(Col("id").Ge(int64(100))), randomOpts(rng)...)
		want := append(collectStrings(t, l.Filter(Col("id").Ge(int64(100)))), collectStrings(t, r.Filter(Col("rid").Ge(int64(100))))...)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: union all: %d rows, want %d", iter, len(got), len(want))
		}
		gotD := collectStrings(t, l.Select(Col("k")).UnionAll(r.Select(Col("rk"))).Distinct(), randomOpts(rng)...)
		wantSet := map[string]bool{}
		for _, s := range append(collectStrings(t, l.Select(Col("k"))), collectStrings(t, r.Select(Col("rk")))...) {
			wantSet[s] = true
		}
		if len(gotD) != len(wantSet) {
			t.Fatalf("iteration %d: union: %d distinct rows, want %d", iter, len(gotD), len(wantSet))
		}
	}
	df := toFrame(t, randRows(rng, 10, 0), "")
	for _, bad := range []struct {
		df   *DataFrame
		want string
	}{
		{df.UnionAll(df.Select(Col("k"))), "5 and 1 columns"},
		{df.Select(Col("s")).UnionAll(df.Select(Col("k"))), "no common type"},
	} {
		if err := bad.df.Err(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("got %v, want an error saying %q", err, bad.want)
		}
	}
}

// A subplan the query uses twice (a join and an aggregate, each read by
// two consumers that need different columns) is computed once, by one
// stage both read, and the answer is that of the query as written:
// whatever the partition counts and batch sizes.
func TestSubplanUsedTwiceIsComputedOnce(t *testing.T) {
	rng := newRNG(t)
	for iter := range 12 {
		left, right := toFrame(t, randRows(rng, 3000, 10), ""), toFrame(t, randRows(rng, 40, 10), "r")
		joined := left.Join(right.Filter(Col("rid").Eq(3).Or(Col("rid").Eq(4)).Or(Col("rid").Eq(5))), Inner, On("k", "rk")) // (few rows: worth keeping)
		perKey := left.GroupBy(Col("k")).Agg(Sum(Col("v")).As("sv"), CountAll().As("n"))
		q := joined.Select(Col("id"), Col("v")).
			UnionAll(joined.Select(Col("rid").As("id"), Col("rv").As("v"))).
			Join(perKey.Select(Col("k").As("pk"), Col("sv")), Inner, OnExprs([]Expr{Col("v").Mod(Lit(int64(20)))}, []Expr{Col("pk")})).
			Join(perKey.Filter(Col("n").Gt(Lit(int64(100)))).Select(Col("k").As("qk")), Semi, OnExprs([]Expr{Col("v").Mod(Lit(int64(20)))}, []Expr{Col("qk")})).
			Select(Col("id"), Col("v"), Col("sv"))
		opts := randomOpts(rng)
		text, err := q.Explain(opts...)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(text, "Shared"); n < 4 {
			t.Fatalf("iteration %d: %d shared subplans in the plan, want the join's and the aggregate's at each of their uses:\n%s", iter, n, text)
		}
		// The stages read the large table twice (the join, the
		// aggregate), not once per use.
		stages := text[strings.Index(text, "== stages"):]
		if n := strings.Count(stages, "(3000 rows)"); n != 2 {
			t.Fatalf("iteration %d: the stages scan the table %d times, want 2:\n%s", iter, n, stages)
		}
		got := collectStrings(t, q, opts...)
		want := collectStrings(t, q, append(opts, WithoutOptimizer())...)
		sort.Strings(got)
		sort.Strings(want)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("iteration %d: %d rows, want %d\ngot  %v\nwant %v", iter, len(got), len(want), head(got), head(want))
		}
	}
}
