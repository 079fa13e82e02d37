package arena

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

const testPage = 4096

// testPolicies are the allocator configurations every property test runs.
var testPolicies = []struct {
	name string
	pol  policy
}{
	{"default", defaultPolicy(testPage)},
	{"aligned", policy{page: testPage, hugeAlign: hugePage}},
	{"slabs-256KiB", policy{page: testPage, hugeAlign: hugePage, slabMax: 256 << 10, slabChunk: hugePage}},
	{"slabs-32KiB-unaligned", policy{page: testPage, slabMax: 32 << 10, slabChunk: 1 << 20}},
}

func TestSizeIndexMatchesSortedSlice(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 42} {
		rng := rand.New(rand.NewPCG(seed, 0))
		idx := newSizeIndex(seed)
		var ref []extentKey // sorted
		cmp := func(a, b extentKey) int {
			switch {
			case a.less(b):
				return -1
			case b.less(a):
				return 1
			}
			return 0
		}
		for op := range 5000 {
			k := extentKey{rng.Int64N(64), rng.Int64N(64)}
			i, found := slices.BinarySearchFunc(ref, k, cmp)
			switch rng.IntN(3) {
			case 0:
				if !found {
					idx.insert(k)
					ref = slices.Insert(ref, i, k)
				}
			case 1:
				if got := idx.delete(k); got != found {
					t.Fatalf("seed %d op %d: delete(%v) = %v, want %v", seed, op, k, got, found)
				}
				if found {
					ref = slices.Delete(ref, i, i+1)
				}
			}
			got, ok := idx.ceil(k)
			if want := i < len(ref); ok != want || ok && got != ref[i] {
				t.Fatalf("seed %d op %d: ceil(%v) = %v %v, want %v", seed, op, k, got, ok, ref[i:min(i+1, len(ref))])
			}
			gotMax, ok := idx.max()
			if ok != (len(ref) > 0) || ok && gotMax != ref[len(ref)-1] {
				t.Fatalf("seed %d op %d: max() = %v %v, want the last of %d keys", seed, op, gotMax, ok, len(ref))
			}
			if idx.len() != len(ref) {
				t.Fatalf("seed %d op %d: len() = %d, want %d", seed, op, idx.len(), len(ref))
			}
		}
	}
}

// TestAllocatorProperties runs seeded random sequences of allocations and
// frees and checks the allocator's invariants after every step: spans and
// free extents tile the arena without overlap, free extents are coalesced,
// the accounting adds up; and freeing everything leaves one free extent.
func TestAllocatorProperties(t *testing.T) {
	const size = 64 << 20
	dists := []struct {
		name   string
		lo, hi float64 // log-uniform request sizes
	}{
		{"tiny-to-8MiB", 1, 8 << 20},
		{"64KiB-to-16MiB", 64 << 10, 16 << 20},
		{"shuffle-8KiB-to-8MiB", 8 << 10, 8 << 20},
	}
	for _, p := range testPolicies {
		for _, d := range dists {
			for _, seed := range []uint64{1, 7, 1234} {
				t.Run(fmt.Sprintf("%s/%s/seed-%d", p.name, d.name, seed), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, 99))
					a := newAllocator(size, p.pol)
					var live []Span
					for op := range 1500 {
						fill := float64(a.used) / size
						if len(live) == 0 || rng.Float64() > fill*fill {
							n := int64(math.Exp(math.Log(d.lo) + rng.Float64()*(math.Log(d.hi)-math.Log(d.lo))))
							if rng.IntN(50) == 0 {
								n = 0
							}
							before := a.failed
							s, ok := a.alloc(n)
							if ok {
								live = append(live, s)
							} else if a.failed != before+1 {
								t.Fatalf("op %d: a refused Alloc(%d) did not count as failed", op, n)
							}
						} else {
							i := rng.IntN(len(live))
							if err := a.free(live[i], int64(op)); err != nil {
								t.Fatalf("op %d: %v", op, err)
							}
							live[i] = live[len(live)-1]
							live = live[:len(live)-1]
						}
						checkAllocator(t, a)
					}
					rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
					for _, s := range live {
						if err := a.free(s, 0); err != nil {
							t.Fatal(err)
						}
					}
					checkAllocator(t, a)
					st := a.stats()
					if st.FreeExtents != 1 || st.LargestFree != size || st.Fragmentation != 0 || st.Used != 0 || st.Live != 0 {
						t.Fatalf("after freeing everything: %+v, want one free extent of the whole arena", st)
					}
				})
			}
		}
	}
}

// checkAllocator fails t unless a's structures are consistent.
func checkAllocator(t testing.TB, a *allocator) {
	t.Helper()
	if len(a.byStart) != len(a.byEnd) || len(a.byStart) != a.bySize.len() {
		t.Fatalf("free extent indexes disagree: %d by start, %d by end, %d by size", len(a.byStart), len(a.byEnd), a.bySize.len())
	}
	type piece struct {
		off, len int64
		free     bool
	}
	var pieces []piece
	for off, e := range a.byStart {
		if e.off != off || e.len <= 0 || e.off%a.pol.page != 0 || e.len%a.pol.page != 0 {
			t.Fatalf("bad free extent %+v at key %d", e, off)
		}
		if a.byEnd[e.end()] != off {
			t.Fatalf("free extent %+v missing from the index by end", e)
		}
		if k, ok := a.bySize.ceil(extentKey{e.len, e.off}); !ok || k != (extentKey{e.len, e.off}) {
			t.Fatalf("free extent %+v missing from the index by size", e)
		}
		if e.dirty() && (e.dirtyLo < e.off || e.dirtyHi > e.end()) {
			t.Fatalf("free extent %+v has its dirty range outside it", e)
		}
		pieces = append(pieces, piece{e.off, e.len, true})
	}
	var used, requested int64
	slabLive := map[*slab]int{}
	for off, r := range a.live {
		used += r.cap
		requested += r.len
		if r.len > r.cap {
			t.Fatalf("span at %d: %d bytes in a capacity of %d", off, r.len, r.cap)
		}
		if r.slab != nil {
			s := r.slab
			if off < s.off || off+r.cap > s.off+a.pol.slabChunk || (off-s.off)%s.class.size != 0 || r.cap != s.class.size {
				t.Fatalf("slot at %d (cap %d) is not a slot of slab at %d (class %d)", off, r.cap, s.off, s.class.size)
			}
			slabLive[s]++
			continue
		}
		pieces = append(pieces, piece{off, r.cap, false})
	}
	for s, n := range slabLive {
		if n+len(s.free) != s.nslots {
			t.Fatalf("slab at %d: %d live + %d free slots, want %d", s.off, n, len(s.free), s.nslots)
		}
		pieces = append(pieces, piece{s.off, a.pol.slabChunk, false})
	}
	slices.SortFunc(pieces, func(x, y piece) int { return int(x.off - y.off) })
	var at int64
	for i, p := range pieces {
		if p.off != at {
			t.Fatalf("pieces do not tile the arena: %+v starts at %d, the previous ends at %d", p, p.off, at)
		}
		if i > 0 && p.free && pieces[i-1].free {
			t.Fatalf("free extents %+v and %+v are adjacent, not coalesced", pieces[i-1], p)
		}
		at += p.len
	}
	if at != a.size || a.trimming != 0 {
		t.Fatalf("pieces cover %d bytes (%d being trimmed) of %d", at, a.trimming, a.size)
	}
	st := a.stats()
	if used != a.used || requested != a.requested || st.Used+st.Free != st.Size {
		t.Fatalf("accounting: used %d (recorded %d), requested %d (recorded %d), %+v", used, a.used, requested, a.requested, st)
	}
	if st.Fragmentation < 0 || st.Fragmentation > 1 || st.LargestFree > st.Free {
		t.Fatalf("stats out of range: %+v", st)
	}
}

func TestFreeOfUnallocatedSpanIsRefused(t *testing.T) {
	a := newAllocator(16<<20, defaultPolicy(testPage))
	s1, _ := a.alloc(100 << 10)
	s2, _ := a.alloc(3 << 20)
	if err := a.free(s1, 0); err != nil {
		t.Fatal(err)
	}
	s3, _ := a.alloc(100 << 10) // reuses s1's offset
	if s3.Off != s1.Off {
		t.Fatalf("expected the freed extent back at %d, got %d", s1.Off, s3.Off)
	}
	other := newAllocator(16<<20, defaultPolicy(testPage))
	twin, _ := other.alloc(s1.Len)
	if twin.Off != s3.Off || twin.Len != s3.Len {
		t.Fatalf("setup: %+v in the other arena, want the place of %+v", twin, s3)
	}
	foreign, _ := other.alloc(1 << 20)
	cases := []struct {
		name string
		s    Span
	}{
		{"double free of a reused offset", s1},
		{"zero span", Span{}},
		{"span of another arena", foreign},
		{"span of another arena where one lives here", twin},
		{"forged length", Span{Off: s2.Off, Len: s2.Len + 1, gen: s2.gen}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := a.stats()
			err := a.free(c.s, 0)
			if !errors.Is(err, errBadFree) {
				t.Fatalf("free(%+v) = %v, want errBadFree", c.s, err)
			}
			if after := a.stats(); after != before {
				t.Fatalf("a refused free changed the stats: %+v → %+v", before, after)
			}
			checkAllocator(t, a)
		})
	}
	for _, s := range []Span{s2, s3} {
		if err := a.free(s, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.free(s2, 0); !errors.Is(err, errBadFree) {
		t.Fatalf("second free of %+v = %v, want errBadFree", s2, err)
	}
}

func TestHugeAlignment(t *testing.T) {
	// Set up free extents of 2 MiB that all start one page past a huge
	// page boundary, separated by one allocated page, with or without a
	// large free extent after them.
	cases := []struct {
		name        string
		holes       int
		fillTheRest bool
		wantAligned bool
	}{
		{"the best fit is aligned", 0, false, true},
		{"past a few misaligned best fits", 3, false, true},
		{"past many misaligned best fits", 20, false, true},
		{"no aligned fit: unaligned", 20, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAllocator(128<<20, policy{page: testPage})
			a.alloc(testPage)
			var holes []Span
			for range c.holes {
				s, _ := a.alloc(2 << 20)
				holes = append(holes, s)
				a.alloc(testPage)
			}
			if c.fillTheRest {
				a.alloc(a.size - a.used)
			}
			for _, s := range holes {
				if err := a.free(s, 0); err != nil {
					t.Fatal(err)
				}
			}
			a.pol.hugeAlign = hugePage
			s, ok := a.alloc(2 << 20)
			if !ok || (s.Off%hugePage == 0) != c.wantAligned {
				t.Fatalf("Alloc(2 MiB) = %+v, %v; want aligned: %v", s, ok, c.wantAligned)
			}
			checkAllocator(t, a)
		})
	}
}
