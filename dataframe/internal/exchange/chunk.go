package exchange

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// A map output gathers each reducer's rows into chunks of fixed capacity,
// each of which becomes one record of the reducer's segment. A chunk never
// grows: when it is full it is sealed and the next one starts, twice as
// large up to chunkRows, so no row is copied twice and a reducer with few
// rows holds little memory. Fixed-width columns (the usual shuffle keys and
// values) are written in place into buffers recycled between map tasks of a
// process, so that a task does not pay for fresh zeroed pages; other
// columns (strings, booleans, columns with nulls) use coldata.Builder.

const (
	// chunkRows bounds the rows of one record of a segment: few records,
	// so that their metadata is a small part of the bytes (~300 bytes per
	// record against 16 KiB per 8-byte column).
	chunkRows = 1 << 14
	// minChunkRows is the smallest first chunk of a reducer.
	minChunkRows = 1 << 8
	chunkClasses = 7 // capacities minChunkRows << 0..6
)

// slicePool recycles fixed-width column buffers of the chunk capacities,
// keeping at most maxPooledBytes of them (a sync.Pool kept what every
// task of the last two collections let go: with 256 reducers, 60 MB of an
// executor's heap in an 8x-budget shuffle).
type slicePool[T any] struct {
	mu      sync.Mutex
	classes [chunkClasses][][]T
	bytes   int
}

// maxPooledBytes bounds what one slicePool keeps: a map task's chunks of
// one 8-byte column of an 8 MiB partition, twice over.
const maxPooledBytes = 16 << 20

// chunkClass is the class of a capacity that is a power of two between
// minChunkRows and chunkRows (ok false otherwise).
func chunkClass(n int) (int, bool) {
	if n < minChunkRows || n > chunkRows || n&(n-1) != 0 {
		return 0, false
	}
	return bits.TrailingZeros(uint(n)) - bits.TrailingZeros(uint(minChunkRows)), true
}

func (p *slicePool[T]) get(n int) []T {
	if c, ok := chunkClass(n); ok {
		p.mu.Lock()
		if free := p.classes[c]; len(free) > 0 {
			s := free[len(free)-1]
			free[len(free)-1] = nil
			p.classes[c] = free[:len(free)-1]
			p.bytes -= cap(s) * elemSize[T]()
			p.mu.Unlock()
			return s[:n]
		}
		p.mu.Unlock()
	}
	return make([]T, n)
}

func elemSize[T any]() int {
	var z T
	return int(unsafe.Sizeof(z))
}

func (p *slicePool[T]) put(s []T) {
	c, ok := chunkClass(cap(s))
	if !ok {
		return
	}
	size := cap(s) * elemSize[T]()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bytes+size > maxPooledBytes {
		return // (to the collector)
	}
	p.classes[c] = append(p.classes[c], s[:cap(s)])
	p.bytes += size
}

var (
	i64Pool slicePool[int64]
	f64Pool slicePool[float64]
	i32Pool slicePool[int32]
)

// chunkCol is one column of a chunk: a fixed-width buffer of the chunk's
// capacity written in place, or a builder.
type chunkCol struct {
	t   types.Type
	i64 []int64
	f64 []float64
	i32 []int32
	b   *coldata.Builder
}

// chunk is up to cap rows of one reducer being gathered, or a batch kept
// as it is (ext: MapOutputWriter.WriteStable).
type chunk struct {
	n, cap int
	cols   []chunkCol
	ext    *coldata.Batch
}

func newChunk(s types.Schema, capacity int) *chunk {
	c := &chunk{cap: capacity, cols: make([]chunkCol, len(s))}
	for i, f := range s {
		col := &c.cols[i]
		col.t = f.Type
		switch f.Type.ID {
		case types.Int64, types.Decimal:
			col.i64 = i64Pool.get(capacity)
		case types.Float64:
			col.f64 = f64Pool.get(capacity)
		case types.Int32, types.Date:
			col.i32 = i32Pool.get(capacity)
		default:
			col.b = coldata.NewBuilder(f.Type, nil)
			col.b.Reserve(capacity)
		}
	}
	return c
}

// toBuilder moves column col's first n rows into a builder (a vec with
// nulls, or a constant, arrived).
func (col *chunkCol) toBuilder(n, capacity int) {
	b := coldata.NewBuilder(col.t, nil)
	b.Reserve(capacity)
	v := col.vec(n)
	b.Append(v, nil, n)
	col.recycle()
	col.b = b
}

// vec is the column's first n rows (its builder's vec once it has one).
func (col *chunkCol) vec(n int) *coldata.Vec {
	if col.b != nil {
		return col.b.Finish()
	}
	v := &coldata.Vec{Type: col.t}
	switch {
	case col.i64 != nil:
		v.I64 = col.i64[:n]
	case col.f64 != nil:
		v.F64 = col.f64[:n]
	case col.i32 != nil:
		v.I32 = col.i32[:n]
	}
	return v
}

// recycle gives the column's fixed-width buffer back to its pool.
func (col *chunkCol) recycle() {
	switch {
	case col.i64 != nil:
		i64Pool.put(col.i64)
	case col.f64 != nil:
		f64Pool.put(col.f64)
	case col.i32 != nil:
		i32Pool.put(col.i32)
	}
	col.i64, col.f64, col.i32 = nil, nil, nil
}

// append adds m rows of vecs, idx[lo:lo+m] (rows lo..lo+m-1 when idx is
// nil); the chunk has room for them.
func (c *chunk) append(vecs []*coldata.Vec, idx []int32, lo, m int) {
	var rows []int32
	if idx != nil {
		rows = idx[lo : lo+m]
	}
	for i, v := range vecs {
		col := &c.cols[i]
		if col.b == nil && (v.Nulls != nil || v.Const) {
			col.toBuilder(c.n, c.cap)
		}
		if col.b != nil {
			if col.t.ID == types.String && !v.Const {
				reserveStringBytes(col.b, v, rows, lo, m)
			}
			switch {
			case rows != nil:
				col.b.Append(v, rows, 0)
			case v.Const:
				col.b.Append(v, nil, m)
			default:
				col.b.Append(v.Slice(lo, lo+m), nil, m)
			}
			continue
		}
		switch {
		case col.i64 != nil:
			gatherInto(col.i64[c.n:c.n+m], v.I64, rows, lo)
		case col.f64 != nil:
			gatherInto(col.f64[c.n:c.n+m], v.F64, rows, lo)
		case col.i32 != nil:
			gatherInto(col.i32[c.n:c.n+m], v.I32, rows, lo)
		}
	}
	c.n += m
}

// reserveStringBytes makes room in a flat string builder for the bytes of
// the rows to append (appending them row by row grew it 1.25x at a time:
// most of a TPC-H table load's copying).
func reserveStringBytes(b *coldata.Builder, v *coldata.Vec, rows []int32, lo, m int) {
	if b.V.Dict != nil {
		return
	}
	offs := v.Str.Offs
	if v.Dict != nil {
		offs = v.Dict.Offs
	}
	need := 0
	switch {
	case v.Dict != nil && rows != nil:
		for _, i := range rows {
			if !v.IsNull(int(i)) { // (a null's code may point nowhere)
				c := v.I32[i]
				need += int(offs[c+1] - offs[c])
			}
		}
	case v.Dict != nil:
		for i := lo; i < lo+m; i++ {
			if !v.IsNull(i) {
				c := v.I32[i]
				need += int(offs[c+1] - offs[c])
			}
		}
	case rows != nil:
		for _, i := range rows {
			need += int(offs[i+1] - offs[i])
		}
	default:
		need = int(offs[lo+m] - offs[lo])
	}
	d := b.V.Str.Data
	if cap(d)-len(d) < need {
		nd := make([]byte, len(d), max(2*cap(d), len(d)+need))
		copy(nd, d)
		b.V.Str.Data = nd
	}
}

// gatherInto writes src[rows] (src[lo:lo+len(dst)] when rows is nil) into dst.
func gatherInto[T any](dst, src []T, rows []int32, lo int) {
	if rows == nil {
		copy(dst, src[lo:lo+len(dst)])
		return
	}
	dst = dst[:len(rows)]
	for k, i := range rows {
		dst[k] = src[i]
	}
}

// batch is the chunk's rows as a batch (sharing its buffers).
func (c *chunk) batch() *coldata.Batch {
	if c.ext != nil {
		return c.ext
	}
	b := &coldata.Batch{N: c.n, Vecs: make([]*coldata.Vec, len(c.cols))}
	for i := range c.cols {
		b.Vecs[i] = c.cols[i].vec(c.n)
	}
	return b
}

// recycle gives the chunk's fixed-width buffers back (once its rows are
// encoded).
func (c *chunk) recycle() {
	for i := range c.cols {
		c.cols[i].recycle()
	}
}
