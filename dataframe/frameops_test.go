package dataframe_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

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
