package coldata

import (
	"unsafe"

	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Gather returns a new vec holding rows idx of v (dictionary codes stay encoded).
func Gather(v *Vec, idx []int32) *Vec {
	out := &Vec{Type: v.Type, Dict: v.Dict}
	n := len(idx)
	if v.Const {
		return expandConst(v, n)
	}
	if v.Nulls != nil {
		out.Nulls = make([]bool, n)
		any := false
		for k, i := range idx {
			if v.Nulls[i] {
				out.Nulls[k] = true
				any = true
			}
		}
		if !any {
			out.Nulls = nil
		}
	}
	switch v.Type.ID {
	case types.Bool:
		out.Bool = gatherT(v.Bool, idx)
	case types.Int32, types.Date:
		out.I32 = gatherT(v.I32, idx)
	case types.Int64, types.Decimal:
		out.I64 = gatherT(v.I64, idx)
	case types.Float64:
		out.F64 = gatherT(v.F64, idx)
	case types.String:
		if v.Dict != nil {
			out.I32 = gatherT(v.I32, idx)
		} else {
			out.Str = gatherStrings(&v.Str, idx)
		}
	}
	return out
}

func gatherT[T any](src []T, idx []int32) []T {
	out := make([]T, len(idx))
	for k, i := range idx {
		out[k] = src[i]
	}
	return out
}

func gatherStrings(s *Strings, idx []int32) Strings {
	total := 0
	for _, i := range idx {
		total += int(s.Offs[i+1] - s.Offs[i])
	}
	out := Strings{Offs: make([]int32, len(idx)+1), Data: make([]byte, 0, total)}
	for k, i := range idx {
		out.Data = append(out.Data, s.Data[s.Offs[i]:s.Offs[i+1]]...)
		out.Offs[k+1] = int32(len(out.Data))
	}
	return out
}

func expandConst(v *Vec, n int) *Vec {
	out := &Vec{Type: v.Type, Dict: v.Dict}
	if v.Nulls != nil && v.Nulls[0] {
		out.Nulls = make([]bool, n)
		for i := range out.Nulls {
			out.Nulls[i] = true
		}
	}
	switch v.Type.ID {
	case types.Bool:
		out.Bool = fill(v.Bool[0], n)
	case types.Int32, types.Date:
		out.I32 = fill(v.I32[0], n)
	case types.Int64, types.Decimal:
		out.I64 = fill(v.I64[0], n)
	case types.Float64:
		out.F64 = fill(v.F64[0], n)
	case types.String:
		if v.Dict != nil {
			out.I32 = fill(v.I32[0], n)
		} else {
			b := v.Str.Get(0)
			out.Str = Strings{Offs: make([]int32, n+1), Data: make([]byte, 0, n*len(b))}
			for i := 0; i < n; i++ {
				out.Str.Data = append(out.Str.Data, b...)
				out.Str.Offs[i+1] = int32(len(out.Str.Data))
			}
		}
	}
	return out
}

func fill[T any](x T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = x
	}
	return out
}

// Compact returns an owning copy of the live rows of b with no selection vector.
func Compact(b *Batch) *Batch {
	n := b.Len()
	idx := b.Sel
	if idx == nil {
		idx = Iota(b.N)
	}
	out := &Batch{N: n, Vecs: make([]*Vec, len(b.Vecs))}
	for i, v := range b.Vecs {
		out.Vecs[i] = Gather(v, idx)
	}
	return out
}

// Iota returns [0, 1, ..., n-1].
func Iota(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// Decode returns v with dictionary-encoded strings turned into flat strings.
func Decode(v *Vec) *Vec {
	if v.Dict == nil {
		return v
	}
	if v.Dict.Len() == 0 {
		// Only nulls (codes point nowhere): decode to empty strings.
		n := len(v.I32)
		if v.Const {
			n = 1
		}
		return &Vec{Type: v.Type, Nulls: v.Nulls, Const: v.Const, Str: Strings{Offs: make([]int32, n+1)}}
	}
	if v.Const {
		out := &Vec{Type: v.Type, Const: true, Nulls: v.Nulls}
		out.Str.Append(v.Dict.Get(int(v.I32[0])))
		return out
	}
	out := &Vec{Type: v.Type, Nulls: v.Nulls}
	out.Str = gatherStrings(v.Dict, v.I32)
	return out
}

// Builder accumulates rows into one growable vec.
type Builder struct {
	V        *Vec
	n        int
	hasNulls bool
}

// NewBuilder starts an empty vec of type t. If dict is non-nil the builder keeps
// codes into it for as long as every appended vec uses the same dictionary.
func NewBuilder(t types.Type, dict *Strings) *Builder {
	b := &Builder{V: &Vec{Type: t, Dict: dict}}
	if t.ID == types.String && dict == nil {
		b.V.Str.Offs = []int32{0}
	}
	return b
}

// Reserve makes room for n more rows.
func (b *Builder) Reserve(n int) { b.resize(n, false) }

// Grow makes room for n more rows, at least doubling the capacity when it
// must grow (append's growth of large slices is 1.25x: gathering a
// shuffle's rows spent half its time copying them again).
func (b *Builder) Grow(n int) { b.resize(n, true) }

func (b *Builder) resize(n int, double bool) {
	v := b.V
	switch v.Type.ID {
	case types.Bool:
		v.Bool = grow(v.Bool, n, double)
	case types.Int32, types.Date:
		v.I32 = grow(v.I32, n, double)
	case types.Int64, types.Decimal:
		v.I64 = grow(v.I64, n, double)
	case types.Float64:
		v.F64 = grow(v.F64, n, double)
	case types.String:
		if v.Dict != nil {
			v.I32 = grow(v.I32, n, double)
		} else {
			v.Str.Offs = grow(v.Str.Offs, n, double)
		}
	}
}

func grow[T any](s []T, n int, double bool) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	c := len(s) + n
	if double {
		c = max(c, 2*cap(s))
	}
	out := make([]T, len(s), c)
	copy(out, s)
	return out
}

// Len is the number of rows appended.
func (b *Builder) Len() int { return b.n }

func (b *Builder) undict() {
	d := Decode(b.V)
	b.V = d
	if b.V.Str.Offs == nil {
		b.V.Str.Offs = []int32{0}
	}
}

// Append adds rows idx of src (all rows when idx is nil: n rows).
func (b *Builder) Append(src *Vec, idx []int32, n int) {
	if idx != nil {
		n = len(idx)
	}
	if src.Type.ID == types.String && b.V.Dict != nil && src.Dict != b.V.Dict {
		b.undict()
	}
	if src.Nulls != nil || b.hasNulls {
		if !b.hasNulls {
			b.V.Nulls = make([]bool, b.n, b.n+n)
			b.hasNulls = true
		}
		for k := 0; k < n; k++ {
			i := k
			if idx != nil {
				i = int(idx[k])
			}
			b.V.Nulls = append(b.V.Nulls, src.IsNull(i))
		}
	}
	b.n += n
	c := src.Const
	switch src.Type.ID {
	case types.Bool:
		b.V.Bool = appendT(b.V.Bool, src.Bool, idx, n, c)
	case types.Int32, types.Date:
		b.V.I32 = appendT(b.V.I32, src.I32, idx, n, c)
	case types.Int64, types.Decimal:
		b.V.I64 = appendT(b.V.I64, src.I64, idx, n, c)
	case types.Float64:
		b.V.F64 = appendT(b.V.F64, src.F64, idx, n, c)
	case types.String:
		if b.V.Dict != nil {
			b.V.I32 = appendT(b.V.I32, src.I32, idx, n, c)
			return
		}
		for k := 0; k < n; k++ {
			i := k
			if idx != nil {
				i = int(idx[k])
			}
			if !src.IsNull(i) {
				b.V.Str.Data = append(b.V.Str.Data, src.Bytes(i)...)
			}
			b.V.Str.Offs = append(b.V.Str.Offs, int32(len(b.V.Str.Data)))
		}
	}
}

// AppendNulls adds n null rows.
func (b *Builder) AppendNulls(n int) {
	if !b.hasNulls {
		b.V.Nulls = make([]bool, b.n, b.n+n)
		b.hasNulls = true
	}
	for k := 0; k < n; k++ {
		b.V.Nulls = append(b.V.Nulls, true)
	}
	b.n += n
	switch b.V.Type.ID {
	case types.Bool:
		b.V.Bool = append(b.V.Bool, make([]bool, n)...)
	case types.Int32, types.Date:
		b.V.I32 = append(b.V.I32, make([]int32, n)...)
	case types.Int64, types.Decimal:
		b.V.I64 = append(b.V.I64, make([]int64, n)...)
	case types.Float64:
		b.V.F64 = append(b.V.F64, make([]float64, n)...)
	case types.String:
		if b.V.Dict != nil {
			b.V.I32 = append(b.V.I32, make([]int32, n)...)
			return
		}
		for k := 0; k < n; k++ {
			b.V.Str.Offs = append(b.V.Str.Offs, int32(len(b.V.Str.Data)))
		}
	}
}

func appendT[T any](dst, src []T, idx []int32, n int, c bool) []T {
	if c {
		x := src[0]
		for k := 0; k < n; k++ {
			dst = append(dst, x)
		}
		return dst
	}
	if idx == nil {
		return append(dst, src[:n]...)
	}
	for _, i := range idx {
		dst = append(dst, src[i])
	}
	return dst
}

// Finish returns the built vec.
func (b *Builder) Finish() *Vec { return b.V }

// Concat joins batches (compacting selections) into one batch of the given types.
func Concat(schema types.Schema, batches []*Batch) *Batch {
	out := &Batch{Vecs: make([]*Vec, len(schema))}
	total := 0
	for _, b := range batches {
		total += b.Len()
	}
	for c, f := range schema {
		var dict *Strings
		if len(batches) > 0 {
			dict = batches[0].Vecs[c].Dict
		}
		bl := NewBuilder(f.Type, dict)
		bl.Reserve(total)
		for _, b := range batches {
			bl.Append(b.Vecs[c], b.Sel, b.N)
		}
		out.Vecs[c] = bl.Finish()
	}
	for _, b := range batches {
		out.N += b.Len()
	}
	return out
}

// DictEncode replaces the low-cardinality string columns of chunks (rows
// rows of schema s, no selection vectors) by codes into one dictionary per
// column, shared by all chunks: at most max(256, min(rows/8, 65536))
// distinct values. Filters, group-bys and joins then work on small
// integers.
func DictEncode(s types.Schema, chunks []*Batch, rows int64) {
	for c, f := range s {
		if f.Type.ID != types.String {
			continue
		}
		limit := max(256, min(rows/8, 1<<16))
		codes := map[string]int32{}
		dict := &Strings{Offs: []int32{0}}
		ok := true
		newCodes := make([][]int32, len(chunks))
	chunks:
		for k, ch := range chunks {
			v := ch.Vecs[c]
			cs := make([]int32, ch.N)
			for i := 0; i < ch.N; i++ {
				if v.IsNull(i) {
					continue
				}
				b := v.Bytes(i)
				code, found := codes[unsafe.String(unsafe.SliceData(b), len(b))]
				if !found {
					if int64(len(codes)) >= limit {
						ok = false
						break chunks
					}
					code = int32(len(codes))
					codes[string(b)] = code
					dict.Append(b)
				}
				cs[i] = code
			}
			newCodes[k] = cs
		}
		if !ok {
			continue
		}
		for k, ch := range chunks {
			old := ch.Vecs[c]
			ch.Vecs[c] = &Vec{Type: f.Type, Dict: dict, I32: newCodes[k], Nulls: old.Nulls}
		}
	}
}
