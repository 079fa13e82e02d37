package objstore

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/ids"
)

// Benchmarks of Put and Get with and without spilling. Each keeps a window
// of live objects (the oldest is deleted as a new one is put), so the store
// reaches a steady state: in "memory" everything fits, in "spill" the live
// objects are four times the memory budget. Spill files go to the test's
// temporary directory; on a machine with free memory the kernel's page
// cache absorbs them, so these figures measure the store's own cost and
// the copies, not the disk.
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/objstore

const (
	benchMemory = 16 * mib
	benchLive   = 64 * mib
)

var benchSizes = []int{4 * kib, 64 * kib, mib}

func benchStore(b *testing.B, spill bool) *Store {
	mem := int64(NoLimit)
	if spill {
		mem = benchMemory
	}
	s, _ := openTest(b, Config{MemoryBytes: mem, DiskBytes: 4 * benchLive})
	return s
}

func BenchmarkPut(b *testing.B) {
	for _, mode := range []string{"memory", "spill"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%s", mode, bytesize.Format(int64(size))), func(b *testing.B) {
				s := benchStore(b, mode == "spill")
				g := ids.NewGenerator()
				window := make([]ids.ID, benchLive/size)
				data := payload(1, size) // the store never modifies it
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := range b.N {
					slot := &window[i%len(window)]
					if !slot.IsNil() {
						s.Delete(*slot)
					}
					*slot = g.Next()
					if _, err := s.Put(*slot, data); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				u := s.Usage()
				b.ReportMetric(float64(u.Spills)/float64(b.N), "spills/op")
			})
		}
	}
}

func BenchmarkGet(b *testing.B) {
	for _, mode := range []string{"memory", "spill"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%s", mode, bytesize.Format(int64(size))), func(b *testing.B) {
				s := benchStore(b, mode == "spill")
				g := ids.NewGenerator()
				live := make([]ids.ID, benchLive/size)
				for i := range live {
					live[i] = g.Next()
					if _, err := s.Put(live[i], payload(uint64(i), size)); err != nil {
						b.Fatal(err)
					}
				}
				r := rand.New(rand.NewPCG(1, 2))
				before := s.Usage()
				b.SetBytes(int64(size))
				b.ResetTimer()
				for range b.N {
					if _, ok := s.Get(live[r.IntN(len(live))]); !ok {
						b.Fatal("object missing")
					}
				}
				b.StopTimer()
				u := s.Usage()
				b.ReportMetric(float64(u.Restores-before.Restores)/float64(b.N), "restores/op")
			})
		}
	}
}

// BenchmarkGetParallel reads from several goroutines at once, to show what
// the store's one lock costs.
func BenchmarkGetParallel(b *testing.B) {
	for _, mode := range []string{"memory", "spill"} {
		b.Run(mode, func(b *testing.B) {
			const size = 64 * kib
			s := benchStore(b, mode == "spill")
			g := ids.NewGenerator()
			live := make([]ids.ID, benchLive/size)
			for i := range live {
				live[i] = g.Next()
				if _, err := s.Put(live[i], payload(uint64(i), size)); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(size)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 2))
				for pb.Next() {
					if _, ok := s.Get(live[r.IntN(len(live))]); !ok {
						b.Error("object missing")
						return
					}
				}
			})
		})
	}
}
