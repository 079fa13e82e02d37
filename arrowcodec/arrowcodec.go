// Package arrowcodec lets Arrow record batches cross Shoal's wire in Arrow
// IPC format: import it for its side effect,
//
//	import _ "github.com/shoal-dev/shoal/arrowcodec"
//
// and arrow.RecordBatch values can be task arguments, results and Puts.
// Decoding reads the IPC stream without copying the column buffers out of
// the received bytes where the format allows. It lives apart from package
// shoal so that programs which do not use Arrow do not link it.
package arrowcodec

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shoal-dev/shoal/internal/codec"
)

func init() {
	codec.Register(reflect.TypeFor[arrow.RecordBatch](), recordCodec{})
}

type recordCodec struct{}

func (recordCodec) Tag() codec.Tag { return codec.TagArrow }

func (recordCodec) AppendEncode(dst []byte, v any) ([]byte, error) {
	rec, ok := v.(arrow.RecordBatch)
	if !ok {
		return dst, fmt.Errorf("arrow codec: %T is not an arrow.RecordBatch", v)
	}
	buf := bytes.NewBuffer(dst)
	w := ipc.NewWriter(buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return dst, fmt.Errorf("arrow codec: writing IPC: %w", err)
	}
	if err := w.Close(); err != nil {
		return dst, fmt.Errorf("arrow codec: closing IPC stream: %w", err)
	}
	return buf.Bytes(), nil
}

func (recordCodec) Decode(data []byte, v any) error {
	p, ok := v.(*arrow.RecordBatch)
	if !ok {
		return fmt.Errorf("arrow codec: cannot decode a record batch into %T (want *arrow.RecordBatch)", v)
	}
	r, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return fmt.Errorf("%w: arrow IPC: %v", codec.ErrMalformed, err)
	}
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return fmt.Errorf("%w: arrow IPC: %v", codec.ErrMalformed, err)
		}
		return fmt.Errorf("%w: arrow IPC stream holds no record batch", codec.ErrMalformed)
	}
	rec := r.RecordBatch()
	rec.Retain()
	*p = rec
	return nil
}
