package types

import (
	"fmt"
	"github.com/shoal-dev/shoal/dataframe/internal/suggest"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// ID names a logical type.
type ID uint8

// The logical types. Decimal is a scaled int64 (value = int / 10^Scale), Date
// counts days since 1970-01-01 (Arrow date32).
const (
	Invalid ID = iota
	Bool
	Int32
	Int64
	Float64
	Decimal
	Date
	String
)

// Type is a logical column type. Scale is used by Decimal only.
type Type struct {
	ID    ID
	Scale int32
}

// Convenience values.
var (
	BoolType    = Type{ID: Bool}
	Int32Type   = Type{ID: Int32}
	Int64Type   = Type{ID: Int64}
	Float64Type = Type{ID: Float64}
	DateType    = Type{ID: Date}
	StringType  = Type{ID: String}
)

// DecimalType returns decimal with the given scale (digits after the point).
func DecimalType(scale int32) Type { return Type{ID: Decimal, Scale: scale} }

// MaxDecimalScale bounds the scale of exact decimal arithmetic (int64 holds 18 digits).
const MaxDecimalScale = 12

func (t Type) String() string {
	switch t.ID {
	case Bool:
		return "bool"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Float64:
		return "float64"
	case Decimal:
		return fmt.Sprintf("decimal(18,%d)", t.Scale)
	case Date:
		return "date"
	case String:
		return "string"
	}
	return "invalid"
}

// IsNumeric reports whether arithmetic is defined on t.
func (t Type) IsNumeric() bool {
	switch t.ID {
	case Int32, Int64, Float64, Decimal:
		return true
	}
	return false
}

// IsInteger reports whether t is an integer type.
func (t Type) IsInteger() bool { return t.ID == Int32 || t.ID == Int64 }

// Field is a named, typed column.
type Field struct {
	Name     string
	Type     Type
	Nullable bool
}

// Schema is an ordered list of fields with unique names.
type Schema []Field

// Index returns the position of the named column or -1.
func (s Schema) Index(name string) int {
	for i, f := range s {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Names lists the column names.
func (s Schema) Names() []string {
	out := make([]string, len(s))
	for i, f := range s {
		out[i] = f.Name
	}
	return out
}

func (s Schema) String() string {
	parts := make([]string, len(s))
	for i, f := range s {
		n := ""
		if f.Nullable {
			n = " null"
		}
		parts[i] = f.Name + " " + f.Type.String() + n
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// ColumnNotFoundError reports a reference to a column that the input does not have.
type ColumnNotFoundError struct {
	Name      string
	Available []string
}

func (e *ColumnNotFoundError) Error() string {
	msg := fmt.Sprintf("column %q not found", e.Name)
	if s := suggest.Closest(e.Name, e.Available); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg + fmt.Sprintf(" (available: %s)", strings.Join(e.Available, ", "))
}

// ToArrow maps a logical type to the Arrow type used at the edges.
func ToArrow(t Type) arrow.DataType {
	switch t.ID {
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	case Int32:
		return arrow.PrimitiveTypes.Int32
	case Int64:
		return arrow.PrimitiveTypes.Int64
	case Float64:
		return arrow.PrimitiveTypes.Float64
	case Decimal:
		return &arrow.Decimal128Type{Precision: 18, Scale: t.Scale}
	case Date:
		return arrow.FixedWidthTypes.Date32
	case String:
		return arrow.BinaryTypes.String
	}
	return arrow.Null
}

// FromArrow maps an Arrow type to a logical type.
func FromArrow(dt arrow.DataType) (Type, error) {
	switch d := dt.(type) {
	case *arrow.BooleanType:
		return BoolType, nil
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Uint8Type, *arrow.Uint16Type:
		return Int32Type, nil
	case *arrow.Int64Type, *arrow.Uint32Type:
		return Int64Type, nil
	case *arrow.Float32Type, *arrow.Float64Type:
		return Float64Type, nil
	case *arrow.Decimal128Type:
		if d.Precision > 18 {
			return Type{}, fmt.Errorf("decimal(%d,%d) has more than 18 digits; Shoal's decimals are 64-bit", d.Precision, d.Scale)
		}
		return DecimalType(d.Scale), nil
	case *arrow.Decimal64Type:
		return DecimalType(d.Scale), nil
	case *arrow.Date32Type:
		return DateType, nil
	case *arrow.StringType, *arrow.LargeStringType, *arrow.BinaryType:
		return StringType, nil
	case *arrow.DictionaryType:
		return FromArrow(d.ValueType)
	}
	return Type{}, fmt.Errorf("unsupported Arrow type %s", dt)
}

// Pow10 holds 10^i for i in [0, 18].
var Pow10 = [19]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}
