package coldata

import (
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// DefaultBatchSize is the number of rows operators aim for per batch. Execution
// options carry the value in use, and tests randomize it.
const DefaultBatchSize = 4096

// Strings is an Arrow-layout string column: value i is Data[Offs[i]:Offs[i+1]].
type Strings struct {
	Offs []int32
	Data []byte
}

// Len is the number of values.
func (s *Strings) Len() int {
	if len(s.Offs) == 0 {
		return 0
	}
	return len(s.Offs) - 1
}

// Get returns value i without copying.
func (s *Strings) Get(i int) []byte { return s.Data[s.Offs[i]:s.Offs[i+1]] }

// Append adds one value.
func (s *Strings) Append(b []byte) {
	if len(s.Offs) == 0 {
		s.Offs = append(s.Offs, 0)
	}
	s.Data = append(s.Data, b...)
	s.Offs = append(s.Offs, int32(len(s.Data)))
}

// AppendString adds one value.
func (s *Strings) AppendString(v string) {
	if len(s.Offs) == 0 {
		s.Offs = append(s.Offs, 0)
	}
	s.Data = append(s.Data, v...)
	s.Offs = append(s.Offs, int32(len(s.Data)))
}

// Slice returns values [i, j) sharing memory.
func (s *Strings) Slice(i, j int) Strings { return Strings{Offs: s.Offs[i : j+1], Data: s.Data} }

// Vec is one column of a batch. Exactly one of the typed slices is in use:
// Bool for Bool; I32 for Int32, Date and dictionary codes; I64 for Int64 and
// Decimal; F64 for Float64; Str (or Dict with codes in I32) for String.
// Nulls, when non-nil, marks null rows (true = null). A Const vec holds one
// value (index 0) that stands for every row.
type Vec struct {
	Type  types.Type
	Bool  []bool
	I32   []int32
	I64   []int64
	F64   []float64
	Str   Strings
	Dict  *Strings
	Nulls []bool
	Const bool
}

// IsNull reports whether row i is null.
func (v *Vec) IsNull(i int) bool {
	if v.Nulls == nil {
		return false
	}
	if v.Const {
		return v.Nulls[0]
	}
	return v.Nulls[i]
}

// Bytes returns string row i (dictionary decoded).
func (v *Vec) Bytes(i int) []byte {
	if v.Const {
		i = 0
	}
	if v.Dict != nil {
		return v.Dict.Get(int(v.I32[i]))
	}
	return v.Str.Get(i)
}

// Len returns the physical length of the vec.
func (v *Vec) Len() int {
	switch v.Type.ID {
	case types.Bool:
		return len(v.Bool)
	case types.Int32, types.Date:
		return len(v.I32)
	case types.Int64, types.Decimal:
		return len(v.I64)
	case types.Float64:
		return len(v.F64)
	case types.String:
		if v.Dict != nil {
			return len(v.I32)
		}
		return v.Str.Len()
	}
	return 0
}

// Slice returns rows [i, j) sharing memory.
func (v *Vec) Slice(i, j int) *Vec {
	out := &Vec{Type: v.Type, Dict: v.Dict}
	if v.Nulls != nil {
		out.Nulls = v.Nulls[i:j]
	}
	switch v.Type.ID {
	case types.Bool:
		out.Bool = v.Bool[i:j]
	case types.Int32, types.Date:
		out.I32 = v.I32[i:j]
	case types.Int64, types.Decimal:
		out.I64 = v.I64[i:j]
	case types.Float64:
		out.F64 = v.F64[i:j]
	case types.String:
		if v.Dict != nil {
			out.I32 = v.I32[i:j]
		} else {
			out.Str = v.Str.Slice(i, j)
		}
	}
	return out
}

// NewVec allocates a vec of n rows of type t (no nulls).
func NewVec(t types.Type, n int) *Vec {
	v := &Vec{Type: t}
	switch t.ID {
	case types.Bool:
		v.Bool = make([]bool, n)
	case types.Int32, types.Date:
		v.I32 = make([]int32, n)
	case types.Int64, types.Decimal:
		v.I64 = make([]int64, n)
	case types.Float64:
		v.F64 = make([]float64, n)
	case types.String:
		v.Str.Offs = make([]int32, n+1)
	}
	return v
}

// Batch is a set of equally long vecs. When Sel is non-nil only the rows it lists
// (ascending) are part of the batch; the other rows must be ignored.
type Batch struct {
	N    int
	Vecs []*Vec
	Sel  []int32
}

// Len returns the number of live rows.
func (b *Batch) Len() int {
	if b == nil {
		return 0
	}
	if b.Sel != nil {
		return len(b.Sel)
	}
	return b.N
}

// ForEach calls f for each live row index.
func ForEach(n int, sel []int32, f func(i int)) {
	if sel != nil {
		for _, i := range sel {
			f(int(i))
		}
		return
	}
	for i := 0; i < n; i++ {
		f(i)
	}
}

// Bytes returns the approximate memory held by the vec.
func (v *Vec) Bytes64() int64 {
	n := int64(len(v.Bool) + 4*len(v.I32) + 8*len(v.I64) + 8*len(v.F64) + len(v.Nulls))
	n += int64(4*len(v.Str.Offs) + len(v.Str.Data))
	return n
}

// Bytes returns the approximate memory held by the batch's vecs.
func (b *Batch) Bytes() int64 {
	var n int64
	for _, v := range b.Vecs {
		n += v.Bytes64()
	}
	return n
}
