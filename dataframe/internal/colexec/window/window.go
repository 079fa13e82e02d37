package window

import (
	"context"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/sorter"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Kind names a window function.
type Kind string

// Window functions.
const (
	RowNumber Kind = "row_number"
	Rank      Kind = "rank"
	DenseRank Kind = "dense_rank"
	Lag       Kind = "lag"
	Lead      Kind = "lead"
	Sum       Kind = "sum"
	Avg       Kind = "avg"
	Min       Kind = "min"
	Max       Kind = "max"
	Count     Kind = "count"
	CountStar Kind = "count_star"
	// Values at positions of the frame, and the partition's distribution.
	FirstValue  Kind = "first_value"
	LastValue   Kind = "last_value"
	NthValue    Kind = "nth_value"
	Ntile       Kind = "ntile"
	PercentRank Kind = "percent_rank"
	CumeDist    Kind = "cume_dist"
)

// KindOf maps an expression operator to its window function; ok is false
// for an operator that cannot be computed over a window.
func KindOf(op expr.Op) (k Kind, ok bool) {
	k, ok = map[expr.Op]Kind{
		expr.OpRowNumber: RowNumber, expr.OpRank: Rank, expr.OpDenseRank: DenseRank,
		expr.OpLag: Lag, expr.OpLead: Lead, expr.OpSum: Sum, expr.OpAvg: Avg, expr.OpMin: Min,
		expr.OpMax: Max, expr.OpCount: Count, expr.OpCountStar: CountStar, expr.OpFirstValue: FirstValue,
		expr.OpLastValue: LastValue, expr.OpNthValue: NthValue, expr.OpNtile: Ntile, expr.OpPercentRank: PercentRank,
		expr.OpCumeDist: CumeDist,
	}[op]
	return k, ok
}

// Func is one window function, described as data: its argument and
// lag/lead's default are input columns (-1: none).
type Func struct {
	Kind    Kind       `json:"kind"`
	Arg     int        `json:"arg"`
	Default int        `json:"default"`
	Offset  int64      `json:"offset,omitempty"`
	Type    types.Type `json:"type"`
}

// Spec is a window and the functions computed over it. Partition and
// Order are columns of the input, which must arrive sorted on Partition
// (in any direction) then Order.
type Spec struct {
	Partition []int        `json:"partition,omitempty"`
	Order     []sorter.Key `json:"order,omitempty"`
	Frame     expr.Frame   `json:"frame,omitempty"`
	Funcs     []Func       `json:"funcs"`
}

// Window computes Spec's functions, appending one column per function to
// the input's.
type Window struct {
	Input     colexecop.Operator
	Schema    types.Schema // the input's
	Spec      Spec
	BatchSize int

	ctx      context.Context
	partKeys []sorter.Key
	pending  []*coldata.Batch // the rows of the partition still being read
	done     bool
	out      *coldata.Batch // computed rows, handed out BatchSize at a time
	pos      int
}

// Init implements colexecop.Operator.
func (w *Window) Init(ctx context.Context) {
	w.ctx = ctx
	if w.BatchSize <= 0 {
		w.BatchSize = coldata.DefaultBatchSize
	}
	for _, c := range w.Spec.Partition {
		w.partKeys = append(w.partKeys, sorter.Key{Col: c})
	}
	w.Input.Init(ctx)
}

// Next implements colexecop.Operator.
func (w *Window) Next() *coldata.Batch {
	for {
		if w.out != nil && w.pos < w.out.N {
			hi := min(w.pos+w.BatchSize, w.out.N)
			b := &coldata.Batch{N: hi - w.pos, Vecs: make([]*coldata.Vec, len(w.out.Vecs))}
			for i, v := range w.out.Vecs {
				b.Vecs[i] = v.Slice(w.pos, hi)
			}
			w.pos = hi
			return b
		}
		w.out = nil
		if w.done {
			return &coldata.Batch{}
		}
		w.fill()
	}
}

// fill reads until some partitions are complete, or the input ends, and
// computes them into w.out.
func (w *Window) fill() {
	for {
		colexecop.CheckCtx(w.ctx)
		b := w.Input.Next()
		if b.Len() == 0 {
			w.done = true
			if len(w.pending) > 0 {
				w.compute(w.pending)
				w.pending = nil
			}
			return
		}
		c := coldata.Compact(b)
		k := w.lastPartitionStart(c)
		switch {
		case k > 0:
			complete := append(w.pending, sliceBatch(c, 0, k))
			w.pending = []*coldata.Batch{sliceBatch(c, k, c.N)}
			w.compute(complete)
			return
		case len(w.pending) > 0 && !w.samePartition(w.pending[len(w.pending)-1], w.pending[len(w.pending)-1].N-1, c, 0):
			complete := w.pending
			w.pending = []*coldata.Batch{c}
			w.compute(complete)
			return
		}
		w.pending = append(w.pending, c)
	}
}

func (w *Window) samePartition(x *coldata.Batch, i int, y *coldata.Batch, j int) bool {
	return sorter.CompareRows(w.partKeys, x, i, y, j) == 0
}

// lastPartitionStart is the first row of c in the partition of its last
// row (rows are sorted on the partition keys).
func (w *Window) lastPartitionStart(c *coldata.Batch) int {
	last := c.N - 1
	if w.samePartition(c, 0, c, last) {
		return 0
	}
	k := last
	for k > 0 && w.samePartition(c, k-1, c, last) {
		k--
	}
	return k
}

func sliceBatch(b *coldata.Batch, i, j int) *coldata.Batch {
	out := &coldata.Batch{N: j - i, Vecs: make([]*coldata.Vec, len(b.Vecs))}
	for c, v := range b.Vecs {
		out.Vecs[c] = v.Slice(i, j)
	}
	return out
}

// compute computes the functions over complete partitions.
func (w *Window) compute(batches []*coldata.Batch) {
	b := coldata.Concat(w.Schema, batches)
	n := b.N
	part, peer := make([]bool, n), make([]bool, n)
	if n > 0 {
		part[0], peer[0] = true, true
	}
	for i := 1; i < n; i++ {
		part[i] = !w.samePartition(b, i-1, b, i)
		peer[i] = part[i] || sorter.CompareRows(w.Spec.Order, b, i-1, b, i) != 0
	}
	frame := peer
	switch w.Spec.Frame {
	case expr.FrameRows:
		frame = make([]bool, n)
		for i := range frame {
			frame[i] = true
		}
	case expr.FramePartition:
		frame = part
	}
	out := &coldata.Batch{N: n, Vecs: append([]*coldata.Vec{}, b.Vecs...)}
	for _, f := range w.Spec.Funcs {
		out.Vecs = append(out.Vecs, w.function(f, b, part, peer, frame))
	}
	w.out, w.pos = out, 0
}

func (w *Window) function(f Func, b *coldata.Batch, part, peer, frame []bool) *coldata.Vec {
	n := b.N
	switch f.Kind {
	case RowNumber, Rank, DenseRank:
		out := coldata.NewVec(types.Int64Type, n)
		var rn, rank, dense int64
		for i := 0; i < n; i++ {
			if part[i] {
				rn, dense = 0, 0
			}
			rn++
			if peer[i] {
				rank = rn
				dense++
			}
			switch f.Kind {
			case RowNumber:
				out.I64[i] = rn
			case Rank:
				out.I64[i] = rank
			default:
				out.I64[i] = dense
			}
		}
		return out
	case Lag, Lead:
		return shift(f, b, part)
	case CountStar:
		out := coldata.NewVec(types.Int64Type, n)
		forFrames(part, frame, func(start, lo, hi int) {
			for i := lo; i < hi; i++ {
				out.I64[i] = int64(hi - start)
			}
		})
		return out
	case Sum, Avg, Count:
		return sumLike(f, b.Vecs[f.Arg], part, frame)
	case Min, Max:
		return minMax(f, b.Vecs[f.Arg], part, frame)
	case FirstValue, LastValue, NthValue:
		return valueAt(f, b.Vecs[f.Arg], part, frame)
	case Ntile, PercentRank, CumeDist:
		return distribution(f, part, peer)
	}
	colexecop.Throwf("unknown window function %q", f.Kind)
	return nil
}

// forFrames calls f for each run [lo, hi) of rows that share a frame end,
// with the first row of their partition (start): an aggregate over the
// frame of these rows covers [start, hi).
func forFrames(part, frame []bool, f func(start, lo, hi int)) {
	n := len(part)
	start := 0
	for lo := 0; lo < n; {
		if part[lo] {
			start = lo
		}
		hi := lo + 1
		for hi < n && !frame[hi] {
			hi++
		}
		f(start, lo, hi)
		lo = hi
	}
}

// valueAt computes first_value, last_value and nth_value: the argument of
// the frame's first row (its partition's), last row, or Offset-th row
// (null when the frame ends before it).
func valueAt(f Func, src *coldata.Vec, part, frame []bool) *coldata.Vec {
	n := len(part)
	idx := make([]int32, n)
	var nulls []bool
	forFrames(part, frame, func(start, lo, hi int) {
		for i := lo; i < hi; i++ {
			switch f.Kind {
			case FirstValue:
				idx[i] = int32(start)
			case LastValue:
				idx[i] = int32(hi - 1)
			default:
				if j := int64(start) + f.Offset - 1; j < int64(hi) {
					idx[i] = int32(j)
				} else {
					if nulls == nil {
						nulls = make([]bool, n)
					}
					idx[i], nulls[i] = int32(start), true
				}
			}
		}
	})
	return withNulls(coldata.Gather(src, idx), nulls)
}

// withNulls marks the rows nulls names null in v.
func withNulls(v *coldata.Vec, nulls []bool) *coldata.Vec {
	if nulls == nil {
		return v
	}
	if v.Nulls == nil {
		v.Nulls = nulls
		return v
	}
	for i, isNull := range nulls {
		v.Nulls[i] = v.Nulls[i] || isNull
	}
	return v
}

// distribution computes ntile, percent_rank and cume_dist over each
// partition (PostgreSQL's definitions: ntile's first m mod Offset buckets
// hold one row more).
func distribution(f Func, part, peer []bool) *coldata.Vec {
	n := len(part)
	var out *coldata.Vec
	if f.Kind == Ntile {
		out = coldata.NewVec(types.Int64Type, n)
	} else {
		out = coldata.NewVec(types.Float64Type, n)
	}
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && !part[hi] {
			hi++
		}
		m := int64(hi - lo)
		switch f.Kind {
		case Ntile:
			q, rem := m/f.Offset, m%f.Offset
			for i := lo; i < hi; i++ {
				r := int64(i - lo)
				switch {
				case r < rem*(q+1):
					out.I64[i] = r/(q+1) + 1
				default:
					out.I64[i] = (r-rem*(q+1))/q + rem + 1
				}
			}
		case PercentRank:
			rank := int64(0)
			for i := lo; i < hi; i++ {
				if peer[i] { // (true at lo: a partition's first row starts a peer group)
					rank = int64(i-lo) + 1
				}
				if m > 1 {
					out.F64[i] = float64(rank-1) / float64(m-1)
				}
			}
		default: // CumeDist
			for i := lo; i < hi; {
				j := i + 1
				for j < hi && !peer[j] {
					j++
				}
				for k := i; k < j; k++ {
					out.F64[k] = float64(j-lo) / float64(m)
				}
				i = j
			}
		}
		lo = hi
	}
	return out
}

// shift computes lag and lead: the argument of the row Offset rows before
// (after) in the partition, else the default column's value, else null.
func shift(f Func, b *coldata.Batch, part []bool) *coldata.Vec {
	n := b.N
	src := b.Vecs[f.Arg]
	missing := -1 // a row with no row at the offset reads missing (then nulled)
	if f.Default >= 0 {
		// Rows n… of the source are the defaults.
		bl := coldata.NewBuilder(src.Type, nil)
		bl.Append(src, nil, n)
		bl.Append(b.Vecs[f.Default], nil, n)
		src = bl.Finish()
		missing = n
	}
	idx := make([]int32, n)
	var nulls []bool
	off := int(f.Offset)
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && !part[hi] {
			hi++
		}
		for i := lo; i < hi; i++ {
			j := i - off
			if f.Kind == Lead {
				j = i + off
			}
			switch {
			case j >= lo && j < hi:
				idx[i] = int32(j)
			case missing >= 0:
				idx[i] = int32(missing + i)
			default:
				if nulls == nil {
					nulls = make([]bool, n)
				}
				nulls[i] = true
			}
		}
		lo = hi
	}
	return withNulls(coldata.Gather(src, idx), nulls)
}

// sumLike computes sum, avg and count over each row's frame.
func sumLike(f Func, v *coldata.Vec, part, frame []bool) *coldata.Vec {
	n := len(part)
	var si []int64
	var sf []float64
	var cnt []int64
	switch v.Type.ID {
	case types.Float64:
		sf, cnt = sums[float64, float64](v.F64, v.Nulls, part, frame)
	case types.Int64, types.Decimal:
		si, cnt = sums[int64, int64](v.I64, v.Nulls, part, frame)
	case types.Int32, types.Date:
		si, cnt = sums[int32, int64](v.I32, v.Nulls, part, frame)
	case types.String, types.Bool:
		// (only count takes these)
		_, cnt = sums[int32, int64](make([]int32, n), v.Nulls, part, frame)
	}
	out := coldata.NewVec(f.Type, n)
	if f.Kind == Count {
		copy(out.I64, cnt)
		return out
	}
	for i, c := range cnt {
		if c == 0 {
			if out.Nulls == nil {
				out.Nulls = make([]bool, n)
			}
			out.Nulls[i] = true
		}
	}
	switch {
	case f.Kind == Sum && sf != nil:
		copy(out.F64, sf)
	case f.Kind == Sum:
		copy(out.I64, si)
	case sf != nil: // avg
		for i, c := range cnt {
			if c > 0 {
				out.F64[i] = sf[i] / float64(c)
			}
		}
	default:
		// As the hash aggregate's avg: the exact sum divided once.
		div := 1.0
		if v.Type.ID == types.Decimal {
			div = float64(types.Pow10[v.Type.Scale])
		}
		for i, c := range cnt {
			if c > 0 {
				out.F64[i] = float64(si[i]) / div / float64(c)
			}
		}
	}
	return out
}

// sums gives each row the sum and the count of the non-null values of its
// frame.
func sums[T int32 | int64 | float64, A int64 | float64](vals []T, nulls []bool, part, frame []bool) ([]A, []int64) {
	s, c := make([]A, len(part)), make([]int64, len(part))
	var acc A
	var k int64
	forFrames(part, frame, func(start, lo, hi int) {
		if start == lo {
			acc, k = 0, 0
		}
		for i := lo; i < hi; i++ {
			if nulls == nil || !nulls[i] {
				acc += A(vals[i])
				k++
			}
		}
		for i := lo; i < hi; i++ {
			s[i], c[i] = acc, k
		}
	})
	return s, c
}

// minMax computes min and max over each row's frame.
func minMax(f Func, v *coldata.Vec, part, frame []bool) *coldata.Vec {
	n := len(part)
	out := &coldata.Vec{Type: f.Type}
	var seen []bool
	isMax := f.Kind == Max
	switch v.Type.ID {
	case types.Int32, types.Date:
		out.I32, seen = extremes(v.I32, v.Nulls, part, frame, isMax)
	case types.Int64, types.Decimal:
		out.I64, seen = extremes(v.I64, v.Nulls, part, frame, isMax)
	case types.Float64:
		out.F64, seen = extremes(v.F64, v.Nulls, part, frame, isMax)
	case types.String:
		out.Str.Offs = append(make([]int32, 0, n+1), 0)
		seen = make([]bool, n)
		var best []byte
		found := false
		forFrames(part, frame, func(start, lo, hi int) {
			if start == lo {
				found = false
			}
			for i := lo; i < hi; i++ {
				if v.IsNull(i) {
					continue
				}
				x := v.Bytes(i)
				if c := compareBytes(x, best); !found || (isMax && c > 0) || (!isMax && c < 0) {
					best, found = x, true
				}
			}
			for i := lo; i < hi; i++ {
				if found {
					out.Str.Append(best)
				} else {
					out.Str.Append(nil)
				}
				seen[i] = found
			}
		})
	default:
		colexecop.Throwf("%s over %s is not supported", f.Kind, v.Type)
	}
	for i, s := range seen {
		if !s {
			if out.Nulls == nil {
				out.Nulls = make([]bool, n)
			}
			out.Nulls[i] = true
		}
	}
	return out
}

func compareBytes(a, b []byte) int {
	switch {
	case string(a) < string(b):
		return -1
	case string(a) > string(b):
		return 1
	}
	return 0
}

// extremes gives each row the least (greatest) non-null value of its
// frame and whether there is one.
func extremes[T int32 | int64 | float64](vals []T, nulls []bool, part, frame []bool, isMax bool) ([]T, []bool) {
	out, seen := make([]T, len(part)), make([]bool, len(part))
	var best T
	found := false
	forFrames(part, frame, func(start, lo, hi int) {
		if start == lo {
			found = false
		}
		for i := lo; i < hi; i++ {
			if nulls != nil && nulls[i] {
				continue
			}
			if x := vals[i]; !found || (isMax && x > best) || (!isMax && x < best) {
				best, found = x, true
			}
		}
		for i := lo; i < hi; i++ {
			out[i], seen[i] = best, found
		}
	})
	return out, seen
}

// Close implements colexecop.Operator.
func (w *Window) Close() error { return w.Input.Close() }
