// Package arrowrows maps Go structs to and from rows of Arrow record
// batches, by reflection: each exported field is a column. The data
// package reads and writes Parquet rows with it, and dataframe scans query
// results into structs with it (one mapping for both).
//
// Field types: bool, the integer kinds, float32, float64, string, []byte,
// time.Time (a date or timestamp column), slices of numbers (a list
// column), and pointers to the scalar kinds and time.Time for columns with
// nulls. A decimal column fills a float64 or a string field.
package arrowrows

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Mapping is the Arrow shape of a row type: a column per field.
type Mapping struct {
	Fields []Field
	// Schema is the Arrow schema of rows of the type (for writing them).
	Schema *arrow.Schema
}

// Field is one field of a row type and its column.
type Field struct {
	Name   string // the column's name
	GoName string
	Type   reflect.Type
	Index  []int // for reflect.Value.FieldByIndex
	conv   converter
}

// Accepts says why a column of type dt cannot fill the field (nil: it can).
func (f *Field) Accepts(dt arrow.DataType) error { return f.conv.accepts(dt) }

// Read sets dst, the field of a row, from row of col.
func (f *Field) Read(col arrow.Array, row int, dst reflect.Value) error {
	return f.conv.read(col, row, dst)
}

// Write appends v, the field of a row, to b (a builder of Schema's column).
func (f *Field) Write(b array.Builder, v reflect.Value) { f.conv.write(b, v) }

// For returns the mapping of the struct type T: each exported field is a
// column, named by its `parquet:"name"` tag (the tag the data package's
// Parquet rows use) or else by the field's name; a tag of "-" skips the
// field.
func For[T any]() (*Mapping, error) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("rows must be structs, not %s", t)
	}
	m := &Mapping{}
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
			return nil, fmt.Errorf("field %s.%s: %w", t, sf.Name, err)
		}
		m.Fields = append(m.Fields, Field{Name: name, GoName: sf.Name, Type: sf.Type, Index: sf.Index, conv: conv})
		afs = append(afs, arrow.Field{Name: name, Type: conv.arrowType(), Nullable: conv.nullable()})
	}
	if len(m.Fields) == 0 {
		return nil, fmt.Errorf("%s has no exported fields to map to columns", t)
	}
	m.Schema = arrow.NewSchema(afs, nil)
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
		if _, ok := inner.(listConv); ok {
			return nil, fmt.Errorf("a pointer to %s is not supported (pointers are for nullable scalar columns)", t.Elem())
		}
		return ptrConv{inner: inner}, nil
	}
	if t == timeType {
		return timeConv{}, nil
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
	return nil, fmt.Errorf("type %s is not supported (use bool, integers, floats, string, []byte, time.Time, slices of numbers, or pointers to scalars)", t)
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
		ok = (arrow.IsFloating(id) && id != arrow.FLOAT16) || id == arrow.DECIMAL128
	case c.kind == reflect.String:
		ok = id == arrow.STRING || id == arrow.LARGE_STRING || id == arrow.DECIMAL128
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
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		text := a.Value(row).ToString(scale)
		if dst.Kind() == reflect.String {
			dst.SetString(text)
			break
		}
		// (Through the text: correctly rounded, where ToFloat64 is not.)
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return fmt.Errorf("decimal %s: %w", text, err)
		}
		dst.SetFloat(f)
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

// timeConv is a date or timestamp column in a time.Time field (UTC);
// written, a timestamp in microseconds.
type timeConv struct{}

var timeType = reflect.TypeFor[time.Time]()

func (timeConv) arrowType() arrow.DataType { return arrow.FixedWidthTypes.Timestamp_us }
func (timeConv) nullable() bool            { return false }

func (timeConv) accepts(dt arrow.DataType) error {
	switch dt.ID() {
	case arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP:
		return nil
	}
	return errors.New("a time.Time field takes a date or timestamp column")
}

func (timeConv) read(col arrow.Array, row int, dst reflect.Value) error {
	if col.IsNull(row) {
		return errors.New("null in a field that is not a pointer (make it a pointer to read nulls)")
	}
	var t time.Time
	switch a := col.(type) {
	case *array.Date32:
		t = a.Value(row).ToTime()
	case *array.Date64:
		t = a.Value(row).ToTime()
	case *array.Timestamp:
		t = a.Value(row).ToTime(a.DataType().(*arrow.TimestampType).Unit)
	default:
		return fmt.Errorf("unsupported column type %s", col.DataType())
	}
	dst.Set(reflect.ValueOf(t.UTC()))
	return nil
}

func (timeConv) write(b array.Builder, v reflect.Value) {
	b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.Interface().(time.Time).UnixMicro()))
}

// ptrConv is a nullable scalar column: nil is null.
type ptrConv struct{ inner converter }

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
