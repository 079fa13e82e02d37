package data

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Rows of Parquet files are values of a struct type T: each exported field
// is a column, named by its `parquet:"name"` tag or else by the field's name
// (matched case-insensitively on reading; a tag of "-" skips the field).
// Field types: bool, the integer kinds, float32, float64, string, []byte,
// slices of numbers (a list column), and pointers to the scalar kinds for
// columns with nulls. A file's columns that T does not name are not read.

// ReadParquet streams the rows of the Parquet files at paths, in order,
// as values of T, in blocks of up to blockRows rows (default 8192). Only the
// columns T names are read. A column T names that a file lacks, a type that
// does not fit its field, or a null in a field that is not a pointer is an
// error naming the file, the column and the row.
func ReadParquet[T any](paths []string, blockRows int) *Dataset[T] {
	if blockRows <= 0 {
		blockRows = 8192
	}
	return &Dataset[T]{blocks: func(ctx context.Context, yield func([]T) bool) error {
		m, err := rowMapping[T]()
		if err != nil {
			return err
		}
		for _, path := range paths {
			more, err := readParquetFile(ctx, path, blockRows, m, yield)
			if err != nil {
				return fmt.Errorf("data: reading %s: %w", path, err)
			}
			if !more {
				return nil
			}
		}
		return nil
	}}
}

func readParquetFile[T any](ctx context.Context, path string, blockRows int, m *mapping, yield func([]T) bool) (bool, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return false, err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(blockRows)}, memory.DefaultAllocator)
	if err != nil {
		return false, err
	}
	schema, err := fr.Schema()
	if err != nil {
		return false, err
	}
	cols := make([]int, len(m.fields))
	for i, f := range m.fields {
		idx := -1
		for j, af := range schema.Fields() {
			if strings.EqualFold(af.Name, f.name) {
				idx = j
				break
			}
		}
		if idx < 0 {
			return false, fmt.Errorf("the file has no column %q for field %s (its columns: %s)", f.name, f.goName, columnNames(schema))
		}
		if err := f.conv.accepts(schema.Field(idx).Type); err != nil {
			return false, fmt.Errorf("column %q (%s) does not fit field %s (%s): %w", f.name, schema.Field(idx).Type, f.goName, f.typ, err)
		}
		cols[i] = idx
	}
	rr, err := fr.GetRecordReader(ctx, cols, nil)
	if err != nil {
		return false, err
	}
	defer rr.Release()
	var row int64
	for rr.Next() {
		rec := rr.RecordBatch()
		n := int(rec.NumRows())
		out := make([]T, n)
		base := reflect.ValueOf(out)
		for i, f := range m.fields {
			col := rec.Column(i)
			for r := range n {
				if err := f.conv.read(col, r, base.Index(r).FieldByIndex(f.index)); err != nil {
					return false, fmt.Errorf("column %q, row %d: %w", f.name, row+int64(r), err)
				}
			}
		}
		row += int64(n)
		if !yield(out) {
			return false, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return false, err
	}
	return true, ctx.Err()
}

func columnNames(s *arrow.Schema) string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// WriteParquet runs the dataset and writes its rows to a Parquet file at
// path (zstd-compressed, one row group per rowGroupRows rows, default
// 131072), streaming: memory holds one row group. It returns the rows
// written. On an error the partial file is removed.
func WriteParquet[T any](ctx context.Context, ds *Dataset[T], path string, rowGroupRows int) (rows int64, err error) {
	if rowGroupRows <= 0 {
		rowGroupRows = 128 << 10
	}
	m, err := rowMapping[T]()
	if err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("data: writing Parquet: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(true))
	w, err := pqarrow.NewFileWriter(m.schema, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return 0, fmt.Errorf("data: writing Parquet %s: %w", path, err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, m.schema)
	defer b.Release()
	pending := 0
	flush := func() error {
		if pending == 0 {
			return nil
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		pending = 0
		return w.Write(rec)
	}
	err = ds.ForEach(ctx, func(block []T) error {
		v := reflect.ValueOf(block)
		for r := range len(block) {
			for i, fl := range m.fields {
				fl.conv.write(b.Field(i), v.Index(r).FieldByIndex(fl.index))
			}
			pending++
			rows++
			if pending == rowGroupRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("data: writing Parquet %s: %w", path, err)
	}
	return rows, nil
}

// mapping is the Parquet/Arrow shape of a row type.
type mapping struct {
	fields []mappedField
	schema *arrow.Schema
}

type mappedField struct {
	name   string // the column's name
	goName string
	typ    reflect.Type
	index  []int
	conv   converter
}

func rowMapping[T any]() (*mapping, error) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("data: Parquet rows must be structs, not %s", t)
	}
	m := &mapping{}
	var afs []arrow.Field
	for _, sf := range reflect.VisibleFields(t) {
		if !sf.IsExported() || sf.Anonymous {
			continue
		}
		name := sf.Name
		if tag, ok := sf.Tag.Lookup("parquet"); ok {
			tag, _, _ = strings.Cut(tag, ",")
			if tag == "-" {
				continue
			}
			if tag != "" {
				name = tag
			}
		}
		conv, err := converterFor(sf.Type)
		if err != nil {
			return nil, fmt.Errorf("data: field %s.%s: %w", t, sf.Name, err)
		}
		m.fields = append(m.fields, mappedField{name: name, goName: sf.Name, typ: sf.Type, index: sf.Index, conv: conv})
		afs = append(afs, arrow.Field{Name: name, Type: conv.arrowType(), Nullable: conv.nullable()})
	}
	if len(m.fields) == 0 {
		return nil, fmt.Errorf("data: %s has no exported fields to map to Parquet columns", t)
	}
	m.schema = arrow.NewSchema(afs, nil)
	return m, nil
}

// converter moves one field's values between Go and Arrow.
type converter interface {
	arrowType() arrow.DataType
	nullable() bool
	accepts(arrow.DataType) error
	read(col arrow.Array, row int, dst reflect.Value) error
	write(b array.Builder, v reflect.Value)
}

func converterFor(t reflect.Type) (converter, error) {
	if t.Kind() == reflect.Pointer {
		inner, err := converterFor(t.Elem())
		if err != nil {
			return nil, err
		}
		if _, ok := inner.(scalarConv); !ok {
			return nil, fmt.Errorf("a pointer to %s is not supported (pointers are for nullable scalar columns)", t.Elem())
		}
		return ptrConv{inner: inner.(scalarConv)}, nil
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.String:
		return scalarConv{kind: t.Kind()}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return scalarConv{kind: reflect.Slice}, nil // []byte: binary
		}
		elem, err := converterFor(t.Elem())
		if err != nil {
			return nil, err
		}
		sc, ok := elem.(scalarConv)
		if !ok || sc.kind == reflect.String || sc.kind == reflect.Slice {
			return nil, fmt.Errorf("a slice of %s is not supported (lists of numbers or bools are)", t.Elem())
		}
		return listConv{elem: sc, typ: t}, nil
	}
	return nil, fmt.Errorf("type %s is not supported (use bool, integers, floats, string, []byte, slices of numbers, or pointers to scalars)", t)
}

// scalarConv is a non-null scalar column.
type scalarConv struct{ kind reflect.Kind }

func (c scalarConv) nullable() bool { return false }

func (c scalarConv) arrowType() arrow.DataType {
	switch c.kind {
	case reflect.Bool:
		return arrow.FixedWidthTypes.Boolean
	case reflect.Int8:
		return arrow.PrimitiveTypes.Int8
	case reflect.Int16:
		return arrow.PrimitiveTypes.Int16
	case reflect.Int32:
		return arrow.PrimitiveTypes.Int32
	case reflect.Int, reflect.Int64:
		return arrow.PrimitiveTypes.Int64
	case reflect.Uint8:
		return arrow.PrimitiveTypes.Uint8
	case reflect.Uint16:
		return arrow.PrimitiveTypes.Uint16
	case reflect.Uint32:
		return arrow.PrimitiveTypes.Uint32
	case reflect.Uint, reflect.Uint64:
		return arrow.PrimitiveTypes.Uint64
	case reflect.Float32:
		return arrow.PrimitiveTypes.Float32
	case reflect.Float64:
		return arrow.PrimitiveTypes.Float64
	case reflect.String:
		return arrow.BinaryTypes.String
	default: // []byte
		return arrow.BinaryTypes.Binary
	}
}

func isInt(k reflect.Kind) bool { return k >= reflect.Int && k <= reflect.Int64 }
func isUint(k reflect.Kind) bool {
	return k >= reflect.Uint && k <= reflect.Uint64
}

func (c scalarConv) accepts(dt arrow.DataType) error {
	id := dt.ID()
	ok := false
	switch {
	case c.kind == reflect.Bool:
		ok = id == arrow.BOOL
	case isInt(c.kind) || isUint(c.kind):
		ok = arrow.IsInteger(id)
	case c.kind == reflect.Float32 || c.kind == reflect.Float64:
		ok = arrow.IsFloating(id) && id != arrow.FLOAT16
	case c.kind == reflect.String:
		ok = id == arrow.STRING || id == arrow.LARGE_STRING
	default:
		ok = id == arrow.BINARY || id == arrow.LARGE_BINARY || id == arrow.STRING
	}
	if !ok {
		return errors.New("change the field's type or cast the column")
	}
	return nil
}

func (c scalarConv) read(col arrow.Array, row int, dst reflect.Value) error {
	if col.IsNull(row) {
		return errors.New("null in a field that is not a pointer (make it a pointer to read nulls)")
	}
	switch a := col.(type) {
	case *array.Boolean:
		dst.SetBool(a.Value(row))
	case *array.Int8:
		return setInt(dst, int64(a.Value(row)))
	case *array.Int16:
		return setInt(dst, int64(a.Value(row)))
	case *array.Int32:
		return setInt(dst, int64(a.Value(row)))
	case *array.Int64:
		return setInt(dst, a.Value(row))
	case *array.Uint8:
		return setUint(dst, uint64(a.Value(row)))
	case *array.Uint16:
		return setUint(dst, uint64(a.Value(row)))
	case *array.Uint32:
		return setUint(dst, uint64(a.Value(row)))
	case *array.Uint64:
		return setUint(dst, a.Value(row))
	case *array.Float32:
		dst.SetFloat(float64(a.Value(row)))
	case *array.Float64:
		dst.SetFloat(a.Value(row))
	case *array.String:
		if dst.Kind() == reflect.String {
			dst.SetString(a.Value(row))
		} else {
			dst.SetBytes([]byte(a.Value(row)))
		}
	case *array.LargeString:
		dst.SetString(a.Value(row))
	case *array.Binary:
		dst.SetBytes(append([]byte(nil), a.Value(row)...))
	case *array.LargeBinary:
		dst.SetBytes(append([]byte(nil), a.Value(row)...))
	default:
		return fmt.Errorf("unsupported column type %s", col.DataType())
	}
	return nil
}

// setInt stores v in an integer field, refusing values the field cannot hold.
func setInt(dst reflect.Value, v int64) error {
	if isUint(dst.Kind()) {
		if v < 0 {
			return fmt.Errorf("value %d does not fit %s", v, dst.Type())
		}
		return setUint(dst, uint64(v))
	}
	if dst.OverflowInt(v) {
		return fmt.Errorf("value %d does not fit %s", v, dst.Type())
	}
	dst.SetInt(v)
	return nil
}

func setUint(dst reflect.Value, v uint64) error {
	if isInt(dst.Kind()) {
		if v > 1<<63-1 || dst.OverflowInt(int64(v)) {
			return fmt.Errorf("value %d does not fit %s", v, dst.Type())
		}
		dst.SetInt(int64(v))
		return nil
	}
	if dst.OverflowUint(v) {
		return fmt.Errorf("value %d does not fit %s", v, dst.Type())
	}
	dst.SetUint(v)
	return nil
}

func (c scalarConv) write(b array.Builder, v reflect.Value) {
	switch b := b.(type) {
	case *array.BooleanBuilder:
		b.Append(v.Bool())
	case *array.Int8Builder:
		b.Append(int8(v.Int()))
	case *array.Int16Builder:
		b.Append(int16(v.Int()))
	case *array.Int32Builder:
		b.Append(int32(v.Int()))
	case *array.Int64Builder:
		b.Append(v.Int())
	case *array.Uint8Builder:
		b.Append(uint8(v.Uint()))
	case *array.Uint16Builder:
		b.Append(uint16(v.Uint()))
	case *array.Uint32Builder:
		b.Append(uint32(v.Uint()))
	case *array.Uint64Builder:
		b.Append(v.Uint())
	case *array.Float32Builder:
		b.Append(float32(v.Float()))
	case *array.Float64Builder:
		b.Append(v.Float())
	case *array.StringBuilder:
		b.Append(v.String())
	case *array.BinaryBuilder:
		b.Append(v.Bytes())
	}
}

// ptrConv is a nullable scalar column: nil is null.
type ptrConv struct{ inner scalarConv }

func (c ptrConv) arrowType() arrow.DataType       { return c.inner.arrowType() }
func (c ptrConv) nullable() bool                  { return true }
func (c ptrConv) accepts(dt arrow.DataType) error { return c.inner.accepts(dt) }

func (c ptrConv) read(col arrow.Array, row int, dst reflect.Value) error {
	if col.IsNull(row) {
		dst.SetZero()
		return nil
	}
	p := reflect.New(dst.Type().Elem())
	if err := c.inner.read(col, row, p.Elem()); err != nil {
		return err
	}
	dst.Set(p)
	return nil
}

func (c ptrConv) write(b array.Builder, v reflect.Value) {
	if v.IsNil() {
		b.AppendNull()
		return
	}
	c.inner.write(b, v.Elem())
}

// listConv is a list column of numbers or bools; a nil slice is null.
type listConv struct {
	elem scalarConv
	typ  reflect.Type
}

func (c listConv) arrowType() arrow.DataType { return arrow.ListOf(c.elem.arrowType()) }
func (c listConv) nullable() bool            { return true }

func (c listConv) accepts(dt arrow.DataType) error {
	lt, ok := dt.(arrow.ListLikeType)
	if !ok {
		return errors.New("the field is a slice, the column is not a list")
	}
	return c.elem.accepts(lt.Elem())
}

func (c listConv) read(col arrow.Array, row int, dst reflect.Value) error {
	if col.IsNull(row) {
		dst.SetZero()
		return nil
	}
	l, ok := col.(array.ListLike)
	if !ok {
		return fmt.Errorf("unsupported column type %s", col.DataType())
	}
	start, end := l.ValueOffsets(row)
	values := l.ListValues()
	s := reflect.MakeSlice(c.typ, int(end-start), int(end-start))
	for i := range int(end - start) {
		if err := c.elem.read(values, int(start)+i, s.Index(i)); err != nil {
			return fmt.Errorf("list element %d: %w", i, err)
		}
	}
	dst.Set(s)
	return nil
}

func (c listConv) write(b array.Builder, v reflect.Value) {
	lb := b.(*array.ListBuilder)
	if v.IsNil() {
		lb.AppendNull()
		return
	}
	lb.Append(true)
	vb := lb.ValueBuilder()
	for i := range v.Len() {
		c.elem.write(vb, v.Index(i))
	}
}
