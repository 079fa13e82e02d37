package arrowcodec

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shoal-dev/shoal/internal/codec"
)

func TestRecordBatchRoundTrip(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "", "c"}, []bool{true, false, true})
	rec := b.NewRecordBatch()
	defer rec.Release()

	data, err := codec.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if codec.Tag(data[0]) != codec.TagArrow {
		t.Fatalf("tag %d, want Arrow", data[0])
	}
	var got arrow.RecordBatch
	if err := codec.Decode(data, &got); err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if !array.RecordEqual(rec, got) {
		t.Fatalf("round trip changed the batch:\n%v\n%v", rec, got)
	}
	if err := codec.Decode(append([]byte{byte(codec.TagArrow)}, "not arrow"...), &got); !errors.Is(err, codec.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
}

// A decoded batch's column buffers alias the encoded bytes (no copy), so
// that a batch read from a node's shared memory is read in place.
func TestDecodeDoesNotCopyColumns(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Float64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	vals := make([]float64, 1<<16)
	for i := range vals {
		vals[i] = float64(i)
	}
	b.Field(0).(*array.Float64Builder).AppendValues(vals, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	data, err := codec.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	var got arrow.RecordBatch
	if err := codec.Decode(data, &got); err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	col := got.Column(0).Data().Buffers()[1].Bytes()
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(col)))
	if p < lo || p+uintptr(len(col)) > lo+uintptr(len(data)) {
		t.Fatal("the decoded column is a copy, not a view of the encoded bytes")
	}
	if !array.RecordEqual(rec, got) {
		t.Fatal("the view holds other values")
	}
}
