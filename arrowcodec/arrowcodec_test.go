package arrowcodec

import (
	"errors"
	"testing"

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
