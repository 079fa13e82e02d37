//go:build linux

package arena

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shoal-dev/shoal/internal/bigbuf"
)

// benchPolicies are the allocator designs BenchmarkChurn compares.
var benchPolicies = []struct {
	name string
	pol  policy
}{
	{"best-fit", policy{page: testPage}},
	{"best-fit+align-2MiB", policy{page: testPage, hugeAlign: hugePage}},
	{"slabs-32KiB", policy{page: testPage, slabMax: 32 << 10, slabChunk: hugePage}},
	{"slabs-256KiB", policy{page: testPage, slabMax: 256 << 10, slabChunk: hugePage}},
}

// BenchmarkChurn allocates and frees spans of random sizes (log-uniform)
// holding the requested bytes at a fill level of the arena; an allocation
// that fails frees a random span instead (as a store spills). One op is one
// Alloc or Free. Reported: mean fragmentation (1 - LargestFree/Free),
// the share of allocations refused (fail%) and of those larger than all
// the free memory (too-big%: refused by any allocator), and the memory
// lost to rounding.
func BenchmarkChurn(b *testing.B) {
	dists := []struct {
		name   string
		lo, hi float64
		arena  int64
	}{
		{"4KiB-64MiB", 4 << 10, 64 << 20, 16 << 30},
		{"shuffle-8KiB-8MiB", 8 << 10, 8 << 20, 4 << 30},
	}
	for _, d := range dists {
		for _, fill := range []float64{0.8, 0.95} {
			for _, p := range benchPolicies {
				if p.pol.page != defaultPolicy(testPage).page {
					b.Skip("page size is not 4 KiB")
				}
				b.Run(fmt.Sprintf("%s/fill-%.0f%%/%s", d.name, fill*100, p.name), func(b *testing.B) {
					a := newTestArena(b, d.arena, Options{}, p.pol)
					rng := rand.New(rand.NewPCG(1, 2))
					logLo, logHi := math.Log(d.lo), math.Log(d.hi)
					target := int64(fill * float64(a.Size()))
					var live []Span
					var requested, attempts, failed, unavoidable int64
					step := func() {
						if requested < target {
							n := int64(math.Exp(logLo + rng.Float64()*(logHi-logLo)))
							attempts++
							if n > a.Size()-requested {
								unavoidable++ // no allocator could place it
							}
							if s, ok := a.Alloc(n); ok {
								live = append(live, s)
								requested += n
								return
							}
							failed++
						}
						i := rng.IntN(len(live))
						a.Free(live[i])
						requested -= live[i].Len
						live[i] = live[len(live)-1]
						live = live[:len(live)-1]
					}
					for requested < target {
						step()
					}
					for range 50 * len(live) {
						step()
					}
					attempts, failed, unavoidable = 0, 0, 0
					var frag, waste float64
					var samples int
					b.ResetTimer()
					for i := range b.N {
						step()
						if i%256 == 0 {
							st := a.Stats()
							frag += st.Fragmentation
							waste += float64(st.Used-st.Requested) / float64(st.Used)
							samples++
						}
					}
					b.StopTimer()
					b.ReportMetric(frag/float64(samples), "frag")
					b.ReportMetric(100*float64(failed)/float64(max(attempts, 1)), "fail%")
					b.ReportMetric(100*float64(unavoidable)/float64(max(attempts, 1)), "too-big%")
					b.ReportMetric(100*waste/float64(samples), "rounding%")
					b.ReportMetric(float64(len(live)), "live")
				})
			}
		}
	}
}

// BenchmarkWrite copies 256 MiB into a span of a new arena (every page
// faults in), into a span reused from a previous object (no fault), into
// a span of a new arena populated first (Populate, timed), into a span of
// an arena prefaulted in New (timed), into a fresh Go slice (make: faults
// or memclr), and into a buffer from bigbuf.Alloc (the store's buffers
// today).
func BenchmarkWrite(b *testing.B) {
	const n = 256 << 20
	src := make([]byte, n)
	fill(src, 1)
	gbps := func(b *testing.B) {
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	}
	b.Run("new-arena", func(b *testing.B) {
		b.SetBytes(n)
		for range b.N {
			b.StopTimer()
			a, err := New(n, Options{})
			if err != nil {
				b.Fatal(err)
			}
			s, _ := a.Alloc(n)
			b.StartTimer()
			copy(a.Bytes(s), src)
			b.StopTimer()
			a.Close()
			b.StartTimer()
		}
		gbps(b)
	})
	b.Run("new-arena-populate", func(b *testing.B) {
		b.SetBytes(n)
		for range b.N {
			b.StopTimer()
			a, err := New(n, Options{})
			if err != nil {
				b.Fatal(err)
			}
			s, _ := a.Alloc(n)
			b.StartTimer()
			if err := a.Populate(s); err != nil {
				b.Fatal(err)
			}
			copy(a.Bytes(s), src)
			b.StopTimer()
			a.Close()
			b.StartTimer()
		}
		gbps(b)
	})
	b.Run("reused-span", func(b *testing.B) {
		a := newTestArena(b, n, Options{}, defaultPolicy(testPage))
		s, _ := a.Alloc(n)
		copy(a.Bytes(s), src)
		b.SetBytes(n)
		b.ResetTimer()
		for range b.N {
			a.Free(s)
			s, _ = a.Alloc(n)
			copy(a.Bytes(s), src)
		}
		gbps(b)
	})
	b.Run("go-make", func(b *testing.B) {
		b.SetBytes(n)
		var sink []byte
		for range b.N {
			sink = make([]byte, n)
			copy(sink, src)
		}
		_ = sink
		gbps(b)
	})
	b.Run("bigbuf-alloc", func(b *testing.B) {
		b.SetBytes(n)
		var sink []byte
		for range b.N {
			sink = bigbuf.Alloc(n)
			copy(sink, src)
		}
		_ = sink
		gbps(b)
	})
	b.Run("new-arena-prefault", func(b *testing.B) {
		b.SetBytes(n)
		for range b.N {
			a, err := New(n, Options{Prefault: true})
			if err != nil {
				b.Fatal(err)
			}
			s, _ := a.Alloc(n)
			copy(a.Bytes(s), src)
			b.StopTimer()
			a.Close()
			b.StartTimer()
		}
		gbps(b)
	})
}
