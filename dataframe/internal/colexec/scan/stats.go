package scan

import (
	"hash/maphash"
	"math"
	"math/bits"
	"sync"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Statistician is a source that can estimate how many distinct values a
// column holds (the planner's join size estimates use it).
type Statistician interface {
	// DistinctCount estimates column col's number of distinct non-null
	// values; -1 when unknown.
	DistinctCount(col int) int64
}

// Ranger is a source that knows the least and greatest value of its
// integer columns (dates and decimals too, as stored); the planner's
// estimates of range predicates use them.
type Ranger interface {
	// Range returns column col's least and greatest non-null value; ok is
	// false when unknown (not an integer column, no values, no
	// statistics).
	Range(col int) (lo, hi int64, ok bool)
}

// Uniquer is a source that knows which of its columns are keys.
type Uniquer interface {
	// Unique reports whether column col holds no nulls and no value twice,
	// checked exactly (not estimated): the columns of a row are then
	// determined by its value in col, which the optimizer relies on.
	Unique(col int) bool
}

// memStats holds a MemTable's distinct counts, ranges and keys, computed
// once.
type memStats struct {
	once   sync.Once
	ndv    []int64
	lo, hi []int64
	ranged []bool
	unique []bool
}

// DistinctCount implements Statistician: HyperLogLog sketches of every
// column (about 1.6% error), computed on first use — ComputeStats computes
// them ahead, when a table is loaded.
func (t *MemTable) DistinctCount(col int) int64 {
	t.ComputeStats()
	if col < 0 || col >= len(t.stats.ndv) {
		return -1
	}
	return t.stats.ndv[col]
}

// ComputeStats computes the table's column statistics (once; about 10 ns
// a value, the columns in parallel).
func (t *MemTable) ComputeStats() {
	t.stats.once.Do(func() {
		n := len(t.schema)
		st := &t.stats
		st.ndv, st.lo, st.hi, st.ranged, st.unique = make([]int64, n), make([]int64, n), make([]int64, n), make([]bool, n), make([]bool, n)
		var wg sync.WaitGroup
		for j := range t.schema {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				st.ndv[j] = t.distinct(j)
				st.lo[j], st.hi[j], st.ranged[j] = t.span(j)
				if st.ranged[j] {
					st.unique[j] = t.unique(j, st.lo[j], st.hi[j])
				}
			}(j)
		}
		wg.Wait()
	})
}

// Range implements Ranger, from the statistics ComputeStats computes.
func (t *MemTable) Range(col int) (lo, hi int64, ok bool) {
	t.ComputeStats()
	if col < 0 || col >= len(t.stats.ranged) || !t.stats.ranged[col] {
		return 0, 0, false
	}
	return t.stats.lo[col], t.stats.hi[col], true
}

// Unique implements Uniquer: for an integer column (dates, decimals) with
// no nulls whose values span at most 64 numbers a row, checked exactly with
// a bitmap of the span when the statistics are computed; false for other
// columns.
func (t *MemTable) Unique(col int) bool {
	t.ComputeStats()
	return col >= 0 && col < len(t.stats.unique) && t.stats.unique[col]
}

// maxUniqueSpan bounds the span Unique checks, in numbers per row: the
// bitmap costs at most 8 bytes a row (TPC-H's keys span 1 to 4 a row).
const maxUniqueSpan = 64

// unique reports whether integer column j, whose values lie in [lo, hi],
// holds no null and no value twice.
func (t *MemTable) unique(j int, lo, hi int64) bool {
	span := uint64(hi-lo) + 1
	if t.rows == 0 || span < uint64(t.rows) || span > maxUniqueSpan*uint64(t.rows) {
		return false
	}
	seen := make([]uint64, (span+63)/64)
	id := t.schema[j].Type.ID
	for _, c := range t.chunks {
		v := c.Vecs[j]
		for i := 0; i < c.N; i++ {
			if v.IsNull(i) {
				return false
			}
			x := int64(0)
			if id == types.Int32 || id == types.Date {
				x = int64(v.I32[i])
			} else {
				x = v.I64[i]
			}
			o := uint64(x - lo)
			if seen[o/64]&(1<<(o%64)) != 0 {
				return false
			}
			seen[o/64] |= 1 << (o % 64)
		}
	}
	return true
}

// span is the least and greatest value of integer column j.
func (t *MemTable) span(j int) (lo, hi int64, ok bool) {
	id := t.schema[j].Type.ID
	if id != types.Int32 && id != types.Date && id != types.Int64 && id != types.Decimal {
		return 0, 0, false
	}
	for _, c := range t.chunks {
		v := c.Vecs[j]
		for i := 0; i < c.N; i++ {
			if v.IsNull(i) {
				continue
			}
			x := int64(0)
			if id == types.Int32 || id == types.Date {
				x = int64(v.I32[i])
			} else {
				x = v.I64[i]
			}
			if !ok || x < lo {
				lo = x
			}
			if !ok || x > hi {
				hi = x
			}
			ok = true
		}
	}
	return lo, hi, ok
}

var statsSeed = maphash.MakeSeed()

// exactDistinctRows: tables up to this size are counted exactly (a
// sketch's error shows most on small sets).
const exactDistinctRows = 1 << 16

func (t *MemTable) distinct(j int) int64 {
	if t.schema[j].Type.ID == types.Bool {
		return 2
	}
	if t.rows <= exactDistinctRows {
		seen := map[uint64]struct{}{}
		strs := map[string]struct{}{}
		for _, c := range t.chunks {
			v := c.Vecs[j]
			for i := 0; i < c.N; i++ {
				switch {
				case v.IsNull(i):
				case v.Type.ID == types.String:
					strs[string(v.Bytes(i))] = struct{}{}
				default:
					seen[hashValue(v, i)] = struct{}{}
				}
			}
		}
		return int64(len(seen) + len(strs))
	}
	var h hll
	for _, c := range t.chunks {
		v := c.Vecs[j]
		for i := 0; i < c.N; i++ {
			if v.IsNull(i) {
				continue
			}
			h.add(hashValue(v, i))
		}
	}
	return min(h.estimate(), t.rows)
}

func hashValue(v *coldata.Vec, i int) uint64 {
	switch v.Type.ID {
	case types.Int32, types.Date:
		return mix(uint64(int64(v.I32[i])))
	case types.Int64, types.Decimal:
		return mix(uint64(v.I64[i]))
	case types.Float64:
		return mix(math.Float64bits(v.F64[i]))
	case types.String:
		return maphash.Bytes(statsSeed, v.Bytes(i))
	}
	return 0
}

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// hll is a HyperLogLog sketch with 2^12 registers.
type hll struct {
	reg [1 << hllP]uint8
}

const hllP = 12

func (h *hll) add(x uint64) {
	idx := x >> (64 - hllP)
	rank := uint8(bits.LeadingZeros64(x<<hllP|1<<(hllP-1)) + 1)
	if rank > h.reg[idx] {
		h.reg[idx] = rank
	}
}

func (h *hll) estimate() int64 {
	const m = float64(1 << hllP)
	sum, zeros := 0.0, 0
	for _, r := range h.reg {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros)) // linear counting for small sets
	}
	return int64(e + 0.5)
}
