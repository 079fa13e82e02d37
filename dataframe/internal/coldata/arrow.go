package coldata

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// FromArrow converts an Arrow array to a vec of logical type t. Fixed-width
// values and strings are shared, not copied; the array must outlive the vec.
func FromArrow(arr arrow.Array, t types.Type) (*Vec, error) {
	v := &Vec{Type: t}
	n := arr.Len()
	if arr.NullN() > 0 {
		v.Nulls = make([]bool, n)
		for i := 0; i < n; i++ {
			v.Nulls[i] = arr.IsNull(i)
		}
	}
	switch a := arr.(type) {
	case *array.Boolean:
		v.Bool = make([]bool, n)
		for i := 0; i < n; i++ {
			v.Bool[i] = a.Value(i)
		}
	case *array.Int8:
		v.I32 = widen(a.Int8Values())
	case *array.Int16:
		v.I32 = widen(a.Int16Values())
	case *array.Uint8:
		v.I32 = widen(a.Uint8Values())
	case *array.Uint16:
		v.I32 = widen(a.Uint16Values())
	case *array.Int32:
		v.I32 = a.Int32Values()
	case *array.Uint32:
		v.I64 = widen64(a.Uint32Values())
	case *array.Int64:
		v.I64 = a.Int64Values()
	case *array.Float32:
		vals := a.Float32Values()
		v.F64 = make([]float64, n)
		for i, x := range vals {
			v.F64[i] = float64(x)
		}
	case *array.Float64:
		v.F64 = a.Float64Values()
	case *array.Date32:
		d := a.Date32Values()
		v.I32 = unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(d))), len(d))
	case *array.Decimal128:
		vals := a.Values()
		v.I64 = make([]int64, n)
		for i := range vals {
			v.I64[i] = int64(vals[i].LowBits())
		}
	case *array.Decimal64:
		vals := a.Values()
		v.I64 = make([]int64, n)
		for i := range vals {
			v.I64[i] = int64(vals[i])
		}
	case *array.String:
		v.Str = Strings{Offs: a.ValueOffsets(), Data: bufBytes(a.Data(), 2)}
	case *array.Binary:
		v.Str = Strings{Offs: a.ValueOffsets(), Data: bufBytes(a.Data(), 2)}
	case *array.LargeString:
		v.Str = Strings{Offs: make([]int32, n+1)}
		for i := 0; i < n; i++ {
			v.Str.Data = append(v.Str.Data, a.Value(i)...)
			v.Str.Offs[i+1] = int32(len(v.Str.Data))
		}
	case *array.Dictionary:
		dv, err := FromArrow(a.Dictionary(), t)
		if err != nil {
			return nil, err
		}
		if dv.Dict != nil || dv.Type.ID != types.String {
			return nil, fmt.Errorf("unsupported dictionary of %s", a.Dictionary().DataType())
		}
		d := dv.Str
		v.Dict = &d
		switch idx := a.Indices().(type) {
		case *array.Int32:
			v.I32 = idx.Int32Values()
		case *array.Int8:
			v.I32 = widen(idx.Int8Values())
		case *array.Int16:
			v.I32 = widen(idx.Int16Values())
		case *array.Uint8:
			v.I32 = widen(idx.Uint8Values())
		case *array.Uint16:
			v.I32 = widen(idx.Uint16Values())
		case *array.Int64:
			v.I32 = make([]int32, n)
			for i, x := range idx.Int64Values() {
				v.I32[i] = int32(x)
			}
		default:
			return nil, fmt.Errorf("unsupported dictionary index type %s", idx.DataType())
		}
		if v.Nulls != nil {
			// Null slots may hold any index; make them safe to decode (in
			// a copy: the codes may be read-only shared memory).
			codes := make([]int32, len(v.I32))
			for i, c := range v.I32 {
				if !v.Nulls[i] {
					codes[i] = c
				}
			}
			v.I32 = codes
		}
	default:
		return nil, fmt.Errorf("unsupported Arrow type %s", arr.DataType())
	}
	if t.ID == types.Int64 && v.I64 == nil && v.I32 != nil {
		v.I64 = widen64(v.I32)
		v.I32 = nil
	}
	if t.ID == types.Float64 && v.F64 == nil {
		switch {
		case v.I32 != nil:
			v.F64 = make([]float64, n)
			for i, x := range v.I32 {
				v.F64[i] = float64(x)
			}
			v.I32 = nil
		case v.I64 != nil:
			v.F64 = make([]float64, n)
			for i, x := range v.I64 {
				v.F64[i] = float64(x)
			}
			v.I64 = nil
		}
	}
	return v, nil
}

func bufBytes(d arrow.ArrayData, i int) []byte {
	b := d.Buffers()[i]
	if b == nil {
		return nil
	}
	return b.Bytes()
}

func widen[T int8 | int16 | uint8 | uint16](src []T) []int32 {
	out := make([]int32, len(src))
	for i, x := range src {
		out[i] = int32(x)
	}
	return out
}

func widen64[T int32 | uint32](src []T) []int64 {
	out := make([]int64, len(src))
	for i, x := range src {
		out[i] = int64(x)
	}
	return out
}

// ToArrow builds an Arrow array from the live rows (sel, or the first n rows) of v.
// Fixed-width columns and plain strings share v's memory (gathered first
// when sel is set): the array must not outlive v.
func ToArrow(mem memory.Allocator, v *Vec, sel []int32, n int) arrow.Array {
	if sel != nil {
		n = len(sel)
	}
	if a := shareArrow(v, sel, n, false); a != nil {
		return a
	}
	row := func(k int) int {
		if v.Const {
			return 0
		}
		if sel != nil {
			return int(sel[k])
		}
		return k
	}
	switch v.Type.ID {
	case types.Bool:
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.Reserve(n)
		for k := 0; k < n; k++ {
			i := row(k)
			if v.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(v.Bool[i])
			}
		}
		return b.NewArray()
	case types.Int32:
		b := array.NewInt32Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for k := 0; k < n; k++ {
			i := row(k)
			if v.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(v.I32[i])
			}
		}
		return b.NewArray()
	case types.Date:
		b := array.NewDate32Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for k := 0; k < n; k++ {
			i := row(k)
			if v.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(arrow.Date32(v.I32[i]))
			}
		}
		return b.NewArray()
	case types.Int64:
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for k := 0; k < n; k++ {
			i := row(k)
			if v.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(v.I64[i])
			}
		}
		return b.NewArray()
	case types.Decimal:
		b := array.NewDecimal128Builder(mem, types.ToArrow(v.Type).(*arrow.Decimal128Type))
		defer b.Release()
		b.Reserve(n)
		for k := 0; k < n; k++ {
			i := row(k)
			if v.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(decimal128.FromI64(v.I64[i]))
			}
		}
		return b.NewArray()
	case types.Float64:
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for k := 0; k < n; k++ {
			i := row(k)
			if v.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(v.F64[i])
			}
		}
		return b.NewArray()
	case types.String:
		b := array.NewStringBuilder(mem)
		defer b.Release()
		b.Reserve(n)
		for k := 0; k < n; k++ {
			i := row(k)
			if v.IsNull(i) {
				b.AppendNull()
			} else {
				bs := v.Bytes(i)
				b.Append(unsafe.String(unsafe.SliceData(bs), len(bs)))
			}
		}
		return b.NewArray()
	}
	panic(fmt.Sprintf("coldata: no Arrow conversion for %s", v.Type))
}

// ArrowSchema converts a logical schema to an Arrow schema.
func ArrowSchema(s types.Schema) *arrow.Schema {
	fields := make([]arrow.Field, len(s))
	for i, f := range s {
		fields[i] = arrow.Field{Name: f.Name, Type: types.ToArrow(f.Type), Nullable: f.Nullable}
	}
	return arrow.NewSchema(fields, nil)
}

// WireSchema is the Arrow schema of batch b of schema s as Shoal's own
// shuffle segments hold it (ToWireRecord): decimals as their scaled int64
// (the reader knows the scale from its schema), not Arrow's 16-byte
// decimal128, and dictionary-encoded strings as their int32 codes with the
// dictionary in the field's metadata (wireDictKey), so that neither side
// converts them value by value. (Not Arrow dictionary arrays: arrow-go's
// NewMappedFileReader, which reads segments in place, cannot read them;
// v18 leaves its dictionary memo nil.)
func WireSchema(s types.Schema, b *Batch) *arrow.Schema {
	fields := make([]arrow.Field, len(s))
	for i, f := range s {
		fields[i] = arrow.Field{Name: f.Name, Type: types.ToArrow(f.Type), Nullable: f.Nullable}
		switch {
		case f.Type.ID == types.Decimal:
			fields[i].Type = arrow.PrimitiveTypes.Int64
		case f.Type.ID == types.String && b != nil && b.Vecs[i].Dict != nil && !b.Vecs[i].Const:
			fields[i].Type = arrow.PrimitiveTypes.Int32
			fields[i].Metadata = arrow.NewMetadata([]string{wireDictKey}, []string{encodeDict(b.Vecs[i].Dict)})
		}
	}
	return arrow.NewSchema(fields, nil)
}

// wireDictKey is the field metadata key of a segment's dictionary.
const wireDictKey = "shoal.dictionary"

func encodeDict(d *Strings) string {
	buf := binary.AppendUvarint(nil, uint64(d.Len()))
	for i := range d.Len() {
		v := d.Get(i)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	return string(buf)
}

func decodeDict(s string) (*Strings, error) {
	b := []byte(s)
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("a malformed dictionary in a segment's schema")
	}
	b = b[k:]
	d := &Strings{Offs: make([]int32, 1, n+1)}
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("a malformed dictionary in a segment's schema")
		}
		d.Append(b[k : k+int(l)])
		b = b[k+int(l):]
	}
	return d, nil
}

// ToWireRecord converts a batch to a record of WireSchema(s, b), sharing
// its memory where it can.
func ToWireRecord(mem memory.Allocator, s types.Schema, b *Batch) arrow.RecordBatch {
	cols := make([]arrow.Array, len(s))
	for i := range s {
		v := b.Vecs[i]
		if v.Dict != nil && !v.Const && s[i].Type.ID == types.String {
			cols[i] = shareArrow(&Vec{Type: types.Type{ID: types.Int32}, I32: v.I32, Nulls: v.Nulls}, b.Sel, b.Len(), false)
			continue
		}
		if a := shareArrow(v, b.Sel, b.Len(), true); a != nil {
			cols[i] = a
			continue
		}
		if s[i].Type.ID == types.Decimal { // (a constant: expand it)
			cols[i] = shareArrow(Gather(v, selOrIota(b)), nil, b.Len(), true)
			continue
		}
		cols[i] = ToArrow(mem, v, b.Sel, b.N)
	}
	rec := array.NewRecordBatch(WireSchema(s, b), cols, int64(b.Len()))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

func selOrIota(b *Batch) []int32 {
	if b.Sel != nil {
		return b.Sel
	}
	return Iota(b.N)
}

// ToRecord converts a batch to an Arrow record batch.
func ToRecord(mem memory.Allocator, s types.Schema, b *Batch) arrow.RecordBatch {
	cols := make([]arrow.Array, len(s))
	for i := range s {
		cols[i] = ToArrow(mem, b.Vecs[i], b.Sel, b.N)
	}
	rec := array.NewRecordBatch(ArrowSchema(s), cols, int64(b.Len()))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// FromRecord converts an Arrow record batch to a batch of the given schema.
func FromRecord(s types.Schema, rec arrow.RecordBatch) (*Batch, error) {
	return FromRecordColumns(s, rec, nil)
}

// FromRecordColumns is FromRecord converting only the columns cols (by
// index; nil: all): the batch has every column of s, nil where not
// converted, for a reader that touches no other (a scan projecting cols).
// A query reading 4 of lineitem's 16 columns from the cluster's store
// spent a fifth of its CPU converting the other 12.
func FromRecordColumns(s types.Schema, rec arrow.RecordBatch, cols []int) (*Batch, error) {
	if int(rec.NumCols()) != len(s) {
		return nil, fmt.Errorf("record has %d columns, schema %s has %d", rec.NumCols(), s, len(s))
	}
	b := &Batch{N: int(rec.NumRows()), Vecs: make([]*Vec, len(s))}
	for i, f := range s {
		if cols != nil && !slices.Contains(cols, i) {
			continue
		}
		if f.Type.ID == types.String {
			if md := rec.Schema().Field(i).Metadata; md.FindKey(wireDictKey) >= 0 {
				// A wire segment's codes, its dictionary in the metadata.
				codes, ok := rec.Column(i).(*array.Int32)
				if !ok {
					return nil, fmt.Errorf("column %q: dictionary codes of type %s", f.Name, rec.Column(i).DataType())
				}
				d, err := decodeDict(md.Values()[md.FindKey(wireDictKey)])
				if err != nil {
					return nil, fmt.Errorf("column %q: %w", f.Name, err)
				}
				v, err := FromArrow(codes, types.Type{ID: types.Int32})
				if err != nil {
					return nil, fmt.Errorf("column %q: %w", f.Name, err)
				}
				for k, c := range v.I32 {
					if (v.Nulls == nil || !v.Nulls[k]) && (c < 0 || int(c) >= d.Len()) {
						return nil, fmt.Errorf("column %q: code %d outside its dictionary of %d values", f.Name, c, d.Len())
					}
				}
				if v.Nulls != nil { // (null slots may hold any code; the codes may be read-only memory)
					cs := make([]int32, len(v.I32))
					for k, c := range v.I32 {
						if !v.Nulls[k] {
							cs[k] = c
						}
					}
					v.I32 = cs
				}
				v.Type, v.Dict = f.Type, d
				b.Vecs[i] = v
				continue
			}
		}
		v, err := FromArrow(rec.Column(i), f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		b.Vecs[i] = v
	}
	return b, nil
}

// shareArrow makes an array over v's own buffers (after gathering sel):
// Int32, Date, Int64, Float64 and plain strings; nil for other columns
// (built value by value). Measured on a shuffle's map side (500,000 rows of
// int64 and float64 to 20 reducers), building value by value was a third
// of the time.
func shareArrow(v *Vec, sel []int32, n int, decimalAsInt64 bool) arrow.Array {
	if v.Const || v.Dict != nil {
		return nil
	}
	switch v.Type.ID {
	case types.Int32, types.Date, types.Int64, types.Float64, types.String:
	case types.Decimal:
		if !decimalAsInt64 {
			return nil
		}
	default:
		return nil
	}
	if sel != nil {
		v = Gather(v, sel)
	}
	var validity *memory.Buffer
	nulls := 0
	if v.Nulls != nil {
		bits := make([]byte, (n+7)/8)
		for i := range n {
			if v.Nulls[i] {
				nulls++
			} else {
				bits[i>>3] |= 1 << (i & 7)
			}
		}
		if nulls > 0 {
			validity = memory.NewBufferBytes(bits)
		}
	}
	var data arrow.ArrayData
	switch v.Type.ID {
	case types.Int32:
		data = array.NewData(arrow.PrimitiveTypes.Int32, n, []*memory.Buffer{validity, memory.NewBufferBytes(sliceBytes(v.I32[:n]))}, nil, nulls, 0)
	case types.Date:
		data = array.NewData(arrow.FixedWidthTypes.Date32, n, []*memory.Buffer{validity, memory.NewBufferBytes(sliceBytes(v.I32[:n]))}, nil, nulls, 0)
	case types.Int64, types.Decimal:
		data = array.NewData(arrow.PrimitiveTypes.Int64, n, []*memory.Buffer{validity, memory.NewBufferBytes(sliceBytes(v.I64[:n]))}, nil, nulls, 0)
	case types.Float64:
		data = array.NewData(arrow.PrimitiveTypes.Float64, n, []*memory.Buffer{validity, memory.NewBufferBytes(sliceBytes(v.F64[:n]))}, nil, nulls, 0)
	case types.String:
		offs := v.Str.Offs[:n+1]
		if offs[0] != 0 { // (a slice of a longer column: rebase)
			base := offs[0]
			re := make([]int32, n+1)
			for i, o := range offs {
				re[i] = o - base
			}
			data = array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{validity, memory.NewBufferBytes(sliceBytes(re)),
				memory.NewBufferBytes(v.Str.Data[base:offs[n]])}, nil, nulls, 0)
		} else {
			data = array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{validity, memory.NewBufferBytes(sliceBytes(offs)),
				memory.NewBufferBytes(v.Str.Data[:offs[n]])}, nil, nulls, 0)
		}
	}
	defer data.Release()
	return array.MakeFromData(data)
}

// sliceBytes views a slice of fixed-width values as bytes.
func sliceBytes[T int32 | int64 | float64](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(s[0])))
}
