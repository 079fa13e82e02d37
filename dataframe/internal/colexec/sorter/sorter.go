package sorter

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"slices"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/spill"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Key orders by one column.
type Key struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// CompareRows compares row i of x with row j of y on keys.
func CompareRows(keys []Key, x *coldata.Batch, i int, y *coldata.Batch, j int) int {
	for _, k := range keys {
		a, b := x.Vecs[k.Col], y.Vecs[k.Col]
		an, bn := a.IsNull(i), b.IsNull(j)
		var c int
		switch {
		case an && bn:
			c = 0
		case an || bn:
			// Nulls sort last unless NullsFirst, whatever the direction.
			if an == k.NullsFirst {
				c = -1
			} else {
				c = 1
			}
			if c != 0 {
				return c
			}
		default:
			ai, bj := i, j
			if a.Const {
				ai = 0
			}
			if b.Const {
				bj = 0
			}
			switch a.Type.ID {
			case types.Int32, types.Date:
				c = cmp.Compare(a.I32[ai], b.I32[bj])
			case types.Int64, types.Decimal:
				c = cmp.Compare(a.I64[ai], b.I64[bj])
			case types.Float64:
				c = cmp.Compare(a.F64[ai], b.F64[bj])
			case types.Bool:
				c = cmp.Compare(b2i(a.Bool[ai]), b2i(b.Bool[bj]))
			case types.String:
				c = bytes.Compare(a.Bytes(ai), b.Bytes(bj))
			}
			if k.Desc {
				c = -c
			}
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sortBatch returns the rows of an owned batch (no selection) in key order.
func sortBatch(keys []Key, b *coldata.Batch) []int32 {
	perm := coldata.Iota(b.N)
	slices.SortStableFunc(perm, func(x, y int32) int { return CompareRows(keys, b, int(x), b, int(y)) })
	return perm
}

// Sort orders its whole input. Past its memory budget it writes sorted runs
// to disk and merges them.
type Sort struct {
	Input     colexecop.Operator
	Schema    types.Schema
	Keys      []Key
	BatchSize int
	Spill     *spill.Config
	// Limit, when positive, keeps only the first Limit rows (top-k).
	Limit int64

	ctx    context.Context
	out    colexecop.Operator
	runs   []*spill.File
	sorted *coldata.Batch
	perm   []int32
	pos    int
}

// Init implements colexecop.Operator.
func (s *Sort) Init(ctx context.Context) {
	s.ctx = ctx
	if s.BatchSize <= 0 {
		s.BatchSize = coldata.DefaultBatchSize
	}
	s.Input.Init(ctx)
}

func (s *Sort) consume() {
	var buf []*coldata.Batch
	var rows int
	var bytes int64
	for {
		colexecop.CheckCtx(s.ctx)
		b := s.Input.Next()
		if b.Len() == 0 {
			break
		}
		c := coldata.Compact(b)
		buf = append(buf, c)
		rows += c.N
		bytes += c.Bytes()
		if s.Limit > 0 && int64(rows) > 2*s.Limit+int64(s.BatchSize) {
			// Top-k: keep only the best Limit rows so far.
			all := coldata.Concat(s.Schema, buf)
			perm := sortBatch(s.Keys, all)
			perm = perm[:min(int64(len(perm)), s.Limit)]
			buf = []*coldata.Batch{gatherBatch(all, perm)}
			rows = len(perm)
			bytes = buf[0].Bytes()
			continue
		}
		if s.Spill != nil && s.Limit <= 0 && bytes > s.Spill.Budget {
			s.writeRun(buf)
			buf, rows, bytes = nil, 0, 0
		}
	}
	if len(s.runs) == 0 {
		all := coldata.Concat(s.Schema, buf)
		s.sorted = all
		s.perm = sortBatch(s.Keys, all)
		if s.Limit > 0 && int64(len(s.perm)) > s.Limit {
			s.perm = s.perm[:s.Limit]
		}
		return
	}
	if len(buf) > 0 {
		s.writeRun(buf)
	}
	ins := make([]colexecop.Operator, len(s.runs))
	for i, r := range s.runs {
		ins[i] = r.Reader()
	}
	s.out = &Merge{Inputs: ins, Keys: s.Keys, Schema: s.Schema, BatchSize: s.BatchSize}
	s.out.Init(s.ctx)
}

func (s *Sort) writeRun(buf []*coldata.Batch) {
	if len(s.runs) == 0 {
		s.Spill.Notify("sort")
	}
	all := coldata.Concat(s.Schema, buf)
	perm := sortBatch(s.Keys, all)
	f, err := spill.NewFile(s.Spill, s.Schema)
	if err != nil {
		colexecop.Throw(err)
	}
	s.runs = append(s.runs, f)
	for lo := 0; lo < len(perm); lo += s.BatchSize {
		hi := min(lo+s.BatchSize, len(perm))
		if err := f.Write(&coldata.Batch{N: all.N, Vecs: all.Vecs, Sel: perm[lo:hi]}); err != nil {
			colexecop.Throw(err)
		}
	}
}

func gatherBatch(b *coldata.Batch, idx []int32) *coldata.Batch {
	out := &coldata.Batch{N: len(idx), Vecs: make([]*coldata.Vec, len(b.Vecs))}
	for i, v := range b.Vecs {
		out.Vecs[i] = coldata.Gather(v, idx)
	}
	return out
}

// Next implements colexecop.Operator.
func (s *Sort) Next() *coldata.Batch {
	if s.sorted == nil && s.out == nil {
		s.consume()
	}
	if s.out != nil {
		return s.out.Next()
	}
	if s.pos >= len(s.perm) {
		return &coldata.Batch{}
	}
	hi := min(s.pos+s.BatchSize, len(s.perm))
	out := gatherBatch(s.sorted, s.perm[s.pos:hi])
	s.pos = hi
	return out
}

// Close implements colexecop.Operator.
func (s *Sort) Close() error {
	err := s.Input.Close()
	if s.out != nil {
		if e := s.out.Close(); err == nil {
			err = e
		}
	}
	for _, r := range s.runs {
		if e := r.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Merge merges inputs that are each sorted on Keys into one sorted stream.
type Merge struct {
	Inputs    []colexecop.Operator
	Keys      []Key
	Schema    types.Schema
	BatchSize int
	Limit     int64

	h       mergeHeap
	emitted int64
}

type cursor struct {
	op  colexecop.Operator
	b   *coldata.Batch
	pos int
}

func (c *cursor) row() int {
	if c.b.Sel != nil {
		return int(c.b.Sel[c.pos])
	}
	return c.pos
}

func (c *cursor) advance() bool {
	c.pos++
	if c.pos < c.b.Len() {
		return true
	}
	c.b = coldata.Compact(c.op.Next())
	c.pos = 0
	return c.b.Len() > 0
}

type mergeHeap struct {
	keys []Key
	cs   []*cursor
}

func (h *mergeHeap) Len() int { return len(h.cs) }
func (h *mergeHeap) Less(i, j int) bool {
	a, b := h.cs[i], h.cs[j]
	c := CompareRows(h.keys, a.b, a.row(), b.b, b.row())
	if c == 0 {
		return i < j
	}
	return c < 0
}
func (h *mergeHeap) Swap(i, j int) { h.cs[i], h.cs[j] = h.cs[j], h.cs[i] }
func (h *mergeHeap) Push(x any)    { h.cs = append(h.cs, x.(*cursor)) }
func (h *mergeHeap) Pop() any {
	x := h.cs[len(h.cs)-1]
	h.cs = h.cs[:len(h.cs)-1]
	return x
}

// Init implements colexecop.Operator.
func (m *Merge) Init(ctx context.Context) {
	if m.BatchSize <= 0 {
		m.BatchSize = coldata.DefaultBatchSize
	}
	m.h.keys = m.Keys
	for _, in := range m.Inputs {
		in.Init(ctx)
		// Inputs may reuse batch memory: keep an owned copy of the current batch.
		c := &cursor{op: in, b: coldata.Compact(in.Next())}
		if c.b.Len() > 0 {
			m.h.cs = append(m.h.cs, c)
		}
	}
	heap.Init(&m.h)
}

// Next implements colexecop.Operator.
func (m *Merge) Next() *coldata.Batch {
	if m.Limit > 0 && m.emitted >= m.Limit {
		return &coldata.Batch{}
	}
	builders := make([]*coldata.Builder, len(m.Schema))
	for i, f := range m.Schema {
		builders[i] = coldata.NewBuilder(f.Type, nil)
	}
	n := 0
	for n < m.BatchSize && m.h.Len() > 0 && (m.Limit <= 0 || m.emitted < m.Limit) {
		c := m.h.cs[0]
		r := c.row()
		for i := range builders {
			builders[i].Append(c.b.Vecs[i], []int32{int32(r)}, 0)
		}
		n++
		m.emitted++
		if c.advance() {
			heap.Fix(&m.h, 0)
		} else {
			heap.Pop(&m.h)
		}
	}
	if n == 0 {
		return &coldata.Batch{}
	}
	out := &coldata.Batch{N: n, Vecs: make([]*coldata.Vec, len(builders))}
	for i, b := range builders {
		out.Vecs[i] = b.Finish()
	}
	return out
}

// Close implements colexecop.Operator.
func (m *Merge) Close() error {
	var err error
	for _, in := range m.Inputs {
		if e := in.Close(); err == nil {
			err = e
		}
	}
	return err
}
