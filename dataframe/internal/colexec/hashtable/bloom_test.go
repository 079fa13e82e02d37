package hashtable

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// bloomCase is a table of keys drawn from [1, span] and probes drawn from
// the same range, some of which are in the table.
func bloomCase(keys, span int) (*Table, []int64) {
	rng := rand.New(rand.NewPCG(7, 8))
	seen := map[int64]bool{}
	var words []uint64
	for len(words) < keys {
		k := rng.Int64N(int64(span)) + 1
		if !seen[k] {
			seen[k] = true
			words = append(words, uint64(k))
		}
	}
	t := NewTable(1, keys)
	ids := make([]int32, keys)
	t.FindOrInsert(words, keys, ids)
	probes := make([]int64, 1<<20)
	for i := range probes {
		probes[i] = rng.Int64N(int64(span)) + 1
	}
	return t, probes
}

// A table with a filter answers every probe as one without.
func TestBloomSame(t *testing.T) {
	for _, keys := range []int{bloomMinKeys - 1, bloomMinKeys, 200_000} {
		tb, probes := bloomCase(keys, 6_000_000)
		want := make([]int32, len(probes))
		tb.FindInt64(probes, nil, len(probes), want)
		if got := tb.BuildBloom(); got != (keys >= bloomMinKeys) {
			t.Fatalf("%d keys: BuildBloom() = %v", keys, got)
		}
		got := make([]int32, len(probes))
		tb.FindInt64(probes, nil, len(probes), got)
		sel := []int32{0, 5, 77, 1000}
		gotSel := make([]int32, len(sel))
		tb.FindInt64(probes, sel, len(probes), gotSel)
		hits := 0
		for i := range probes {
			if got[i] != want[i] {
				t.Fatalf("%d keys, probe %d (key %d): id %d with the filter, %d without", keys, i, probes[i], got[i], want[i])
			}
			if want[i] >= 0 {
				hits++
			}
		}
		for r, i := range sel {
			if gotSel[r] != want[i] {
				t.Fatalf("%d keys, selected probe %d: id %d, want %d", keys, i, gotSel[r], want[i])
			}
		}
		if hits == 0 {
			t.Fatalf("%d keys: no probe found a key: the test checks nothing", keys)
		}
	}
}

// BenchmarkBloom probes a table of a year's orders (227k keys over 6M) with
// 1M keys, 4% of them in it, with and without the filter.
func BenchmarkBloom(b *testing.B) {
	for _, filter := range []bool{false, true} {
		b.Run(fmt.Sprintf("filter=%v", filter), func(b *testing.B) {
			tb, probes := bloomCase(227_000, 6_000_000)
			if filter {
				tb.BuildBloom()
			}
			ids := make([]int32, 4096)
			off := 0
			for b.Loop() {
				tb.FindInt64(probes[off:off+4096], nil, 4096, ids)
				off = (off + 4096) % len(probes)
			}
		})
	}
}
