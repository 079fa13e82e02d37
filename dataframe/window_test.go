package dataframe_test

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	. "github.com/shoal-dev/shoal/dataframe"
)

// cmpNullable orders nullable values with nulls last, whatever the
// direction (as the engine's sort keys without NullsFirst).
func cmpNullable[T cmp.Ordered](a, b *T, desc bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	if desc {
		return cmp.Compare(*b, *a)
	}
	return cmp.Compare(*a, *b)
}

// windowCase is one window of TestWindowRandom with its plain-Go
// reference: the partition key of a row, and the order.
type windowCase struct {
	name    string
	w       Window
	part    func(r row) string
	order   func(a, b row) int
	unique  bool // the order has no ties (row_number, lag, lead and ROWS frames are determined)
	rowsFrm bool // ROWS: the frame ends at the row, not its last peer
	whole   bool // the frame is the whole partition
}

// Window functions give each row the value its window defines, whatever
// the partitioning of the input, batch sizes, nulls in keys and values,
// frames and computed keys: checked against a plain-Go computation per
// row.
func TestWindowRandom(t *testing.T) {
	rng := newRNG(t)
	byV := func(desc bool) func(a, b row) int {
		return func(a, b row) int { return cmpNullable(a.v, b.v, desc) }
	}
	thenID := func(f func(a, b row) int) func(a, b row) int {
		return func(a, b row) int {
			if c := f(a, b); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		}
	}
	none := func(a, b row) int { return 0 }
	partK := func(r row) string { return fmtPtr(r.k) }
	partKS := func(r row) string { return fmtPtr(r.k) + "/" + fmtPtr(r.s) }
	partMod := func(r row) string {
		if r.k == nil {
			return "NULL"
		}
		return fmt.Sprint(*r.k % 3)
	}
	cases := []windowCase{
		{name: "partition k order v", w: PartitionBy("k").OrderBy("v"), part: partK, order: byV(false)},
		{name: "partition k,s order v desc", w: PartitionBy("k", Col("s")).OrderBy(Desc("v")), part: partKS, order: byV(true)},
		{name: "partition k%3 order v, id", w: PartitionBy(Col("k").Mod(3)).OrderBy("v", "id"), part: partMod, order: thenID(byV(false)), unique: true},
		{name: "order id", w: OrderBy(Col("id")), part: func(row) string { return "" }, order: thenID(none), unique: true},
		{name: "partition s", w: PartitionBy("s"), part: func(r row) string { return fmtPtr(r.s) }, order: none},
		{name: "partition k order v rows", w: PartitionBy("k").OrderBy("v", "id").RowsToCurrent(), part: partK, order: thenID(byV(false)), unique: true, rowsFrm: true},
		{name: "partition k order v whole", w: PartitionBy("k").OrderBy("v").WholePartition(), part: partK, order: byV(false), whole: true},
	}
	for iter := 0; iter < 24; iter++ {
		rows := randRows(rng, rng.IntN(3000), rng.IntN(30))
		df := toFrame(t, rows, "")
		if rng.IntN(2) == 0 {
			df = df.Repartition(1+rng.IntN(5), Col("id"))
		}
		minID := int64(rng.IntN(100))
		df = df.Filter(Col("id").Ge(minID))
		var live []row
		for _, r := range rows {
			if r.id >= minID {
				live = append(live, r)
			}
		}
		tc := cases[iter%len(cases)]
		cols := []any{Col("id"), Rank().Over(tc.w).As("rank"), DenseRank().Over(tc.w).As("dense"),
			Sum("v").Over(tc.w).As("sum"), Count("v").Over(tc.w).As("count"), CountAll().Over(tc.w).As("rows"),
			Min("s").Over(tc.w).As("min"), Max("d").Over(tc.w).As("max"), Avg("v").Over(tc.w).As("avg"),
			Col("v").Sub(Min("v").Over(tc.w)).As("above_min"), PercentRank().Over(tc.w).As("pct"), CumeDist().Over(tc.w).As("cume")}
		if tc.unique {
			cols = append(cols, RowNumber().Over(tc.w).As("rn"), Lag("v", 2, -1).Over(tc.w).As("lag"), Lead("s", 1).Over(tc.w).As("lead"),
				FirstValue("v").Over(tc.w).As("first"), LastValue("s").Over(tc.w).As("last"), NthValue("v", 3).Over(tc.w).As("third"),
				Ntile(4).Over(tc.w).As("ntile"))
		}
		got := collectStrings(t, df.Select(cols...), randomOpts(rng)...)
		want := windowReference(live, tc)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("iteration %d (%s): row %d\ngot  %s\nwant %s", iter, tc.name, i, got[i], want[i])
				}
			}
			t.Fatalf("iteration %d (%s): %d rows, want %d", iter, tc.name, len(got), len(want))
		}
	}
}

// windowReference computes TestWindowRandom's columns for rows in plain Go.
func windowReference(rows []row, tc windowCase) []string {
	parts := map[string][]row{}
	for _, r := range rows {
		parts[tc.part(r)] = append(parts[tc.part(r)], r)
	}
	var out []string
	for _, p := range parts {
		sort.SliceStable(p, func(i, j int) bool { return tc.order(p[i], p[j]) < 0 })
		rank, dense := 0, 0
		for i, r := range p {
			if i == 0 || tc.order(p[i-1], r) != 0 {
				rank, dense = i+1, dense+1
			}
			// The frame: up to the last peer, or the row (ROWS).
			end := i + 1
			for !tc.rowsFrm && end < len(p) && tc.order(p[end], r) == 0 {
				end++
			}
			if tc.whole {
				end = len(p)
			}
			var sum, cnt int64
			var minS *string
			var maxD, minV *int64
			for _, x := range p[:end] {
				if x.v != nil {
					sum += *x.v
					cnt++
					if minV == nil || *x.v < *minV {
						minV = x.v
					}
				}
				if x.s != nil && (minS == nil || *x.s < *minS) {
					minS = x.s
				}
				if x.d != nil && (maxD == nil || *x.d > *maxD) {
					maxD = x.d
				}
			}
			sumS, avgS, aboveMin := "NULL", "NULL", "NULL"
			if cnt > 0 {
				sumS, avgS = fmt.Sprint(sum), fmt.Sprint(float64(sum)/float64(cnt))
			}
			if r.v != nil && minV != nil {
				aboveMin = fmt.Sprint(*r.v - *minV)
			}
			// percent_rank and cume_dist go by peers, whatever the frame.
			peersEnd := i + 1
			for peersEnd < len(p) && tc.order(p[peersEnd], r) == 0 {
				peersEnd++
			}
			pct := 0.0
			if len(p) > 1 {
				pct = float64(rank-1) / float64(len(p)-1)
			}
			cells := []string{fmt.Sprint(r.id), fmt.Sprint(rank), fmt.Sprint(dense), sumS, fmt.Sprint(cnt),
				fmt.Sprint(end), fmtPtr(minS), fmtDec(maxD), avgS, aboveMin, fmt.Sprint(pct), fmt.Sprint(float64(peersEnd) / float64(len(p)))}
			if tc.unique {
				lag, lead := "-1", "NULL"
				if i >= 2 {
					lag = fmtPtr(p[i-2].v)
				}
				if i+1 < len(p) {
					lead = fmtPtr(p[i+1].s)
				}
				third := "NULL"
				if end > 2 {
					third = fmtPtr(p[2].v)
				}
				// ntile(4): the first len%4 buckets one row larger.
				q, rem := len(p)/4, len(p)%4
				bucket := i/(q+1) + 1
				if i >= rem*(q+1) {
					bucket = (i-rem*(q+1))/q + rem + 1
				}
				cells = append(cells, fmt.Sprint(i+1), lag, lead, fmtPtr(p[0].v), fmtPtr(p[end-1].s), third, fmt.Sprint(bucket))
			}
			out = append(out, strings.Join(cells, "|"))
		}
	}
	return out
}

// Misused window functions are refused when the frame is built, saying why.
func TestWindowErrors(t *testing.T) {
	df := toFrame(t, randRows(newRNG(t), 10, 0), "")
	w := PartitionBy("k").OrderBy("v")
	for _, bad := range []struct {
		df   *DataFrame
		want string
	}{
		{df.Select(Col("v").Add(1).Over(w)), "cannot be computed over a window"},
		{df.Select(RowNumber()), "needs a window"},
		{df.Filter(RowNumber().Over(w).Gt(1)), "only allowed in Select and WithColumn"},
		{df.Select(Sum("v").Over(PartitionBy("kk"))), `column "kk" not found`},
		{df.Select(Sum(Sum("v")).Over(w)), "cannot hold aggregates or window functions"},
		{df.Select(Sum(RowNumber().Over(w)).Over(w)), "cannot hold aggregates or window functions"},
		{df.Select(Lag("v", -1).Over(w)), "negative offset"},
		{df.Select(Lag("v", 1, "x").Over(w)), "type mismatch"},
		{df.Select(Min("s").Over(PartitionBy(Sum("v")))), "holds an aggregate"},
		{df.Select(Sum("s").Over(w)), "needs a number"},
	} {
		if err := bad.df.Err(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("got %v, want an error saying %q", err, bad.want)
		}
	}
}
