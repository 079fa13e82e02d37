package dataframe_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	. "github.com/shoal-dev/shoal/dataframe"
)

// string_agg (ordered, with FILTER, DISTINCT) over random rows, batch
// sizes and partitions, the hash aggregation spilling under small memory
// budgets, against a reference: single-phase aggregation keeps each
// group's rows together and the order keys give one answer.
func TestSQLStringAggRandom(t *testing.T) {
	rng := newRNG(t)
	const query = `select k, v % 7 as m,
		string_agg(s, ',' order by v desc nulls last, id) as a,
		string_agg(s || id, '' order by id) filter (where v > 0) as b,
		string_agg(distinct s, '+' order by s) as c
		from t group by k, v % 7`
	spills := 0
	for iter := 0; iter < 12; iter++ {
		n := rng.IntN(3000)
		if iter%3 == 0 {
			n = 8192 + rng.IntN(4000) // several partitions, exchanged on the keys
		}
		rows := randRows(rng, n, rng.IntN(30))
		cat := NewCatalog()
		if err := cat.Register("t", toFrame(t, rows, "")); err != nil {
			t.Fatal(err)
		}
		df, err := cat.SQL(context.Background(), query)
		if err != nil {
			t.Fatal(err)
		}
		opts := randomOpts(rng)
		var spilled atomic.Bool
		if iter%2 == 1 {
			opts = append(opts, WithMemoryBudget(int64(1+rng.IntN(8))<<10), OnSpill(func(string) { spilled.Store(true) }))
		}
		got := collectStrings(t, df, opts...)
		if spilled.Load() {
			spills++
		}
		sort.Strings(got)
		want := stringAggReference(rows)
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: got %d groups, want %d\ngot  %v\nwant %v", iter, len(got), len(want), head(got), head(want))
		}
	}
	t.Logf("%d of 6 runs with a budget spilled", spills)
}

// stringAggReference computes TestSQLStringAggRandom's query.
func stringAggReference(rows []row) []string {
	groups := map[string][]row{}
	for _, r := range rows {
		m := "NULL"
		if r.v != nil {
			m = fmt.Sprint(*r.v % 7)
		}
		key := fmtPtr(r.k) + "|" + m
		groups[key] = append(groups[key], r)
	}
	join := func(parts []string, sep string) string {
		if len(parts) == 0 {
			return "NULL"
		}
		return strings.Join(parts, sep)
	}
	var want []string
	for key, g := range groups {
		byV := slices.Clone(g)
		slices.SortStableFunc(byV, func(x, y row) int {
			switch {
			case x.v == nil && y.v == nil:
			case x.v == nil:
				return 1 // nulls last
			case y.v == nil:
				return -1
			case *x.v != *y.v:
				if *x.v > *y.v {
					return -1
				}
				return 1
			}
			return int(x.id - y.id)
		})
		var a, b []string
		distinct := map[string]bool{}
		for _, r := range byV {
			if r.s != nil {
				a = append(a, *r.s)
				distinct[*r.s] = true
			}
		}
		for _, r := range g { // (rows come in id order)
			if r.s != nil && r.v != nil && *r.v > 0 {
				b = append(b, fmt.Sprintf("%s%d", *r.s, r.id))
			}
		}
		c := make([]string, 0, len(distinct))
		for s := range distinct {
			c = append(c, s)
		}
		sort.Strings(c)
		want = append(want, fmt.Sprintf("%s|%s|%s|%s", key, join(a, ","), join(b, ""), join(c, "+")))
	}
	sort.Strings(want)
	return want
}
