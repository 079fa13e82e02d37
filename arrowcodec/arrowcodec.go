// Package arrowcodec lets Arrow record batches cross Shoal's wire in Arrow
// IPC format: import it for its side effect,
//
//	import _ "github.com/shoal-dev/shoal/arrowcodec"
//
// and arrow.RecordBatch values can be task arguments, results and Puts.
// Decoding reads the batch in place, without copying its column buffers
// out of the bytes (a batch in a node's shared memory is read there). It
// lives apart from package shoal so that programs which do not use Arrow do
// not link it.
package arrowcodec

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime"

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

// The encoding is an Arrow IPC file (not a stream: a file has a footer
// that locates each buffer, so it can be read in place), after padding
// that puts the file at an 8-byte boundary of the encoded value (the tag
// byte is the value's first byte; the value starts page-aligned in a node's
// store), so that column buffers are aligned where they lie.
const pad = 7

func (recordCodec) AppendEncode(dst []byte, v any) ([]byte, error) {
	rec, ok := v.(arrow.RecordBatch)
	if !ok {
		return dst, fmt.Errorf("arrow codec: %T is not an arrow.RecordBatch", v)
	}
	buf := bytes.NewBuffer(append(dst, make([]byte, pad)...))
	w, err := ipc.NewFileWriter(buf, ipc.WithSchema(rec.Schema()))
	if err != nil {
		return dst, fmt.Errorf("arrow codec: starting an IPC file: %w", err)
	}
	if err := w.Write(rec); err != nil {
		return dst, fmt.Errorf("arrow codec: writing IPC: %w", err)
	}
	if err := w.Close(); err != nil {
		return dst, fmt.Errorf("arrow codec: closing the IPC file: %w", err)
	}
	return buf.Bytes(), nil
}

// Anchor implements codec.Anchored: a batch reaches its bytes through
// its buffers (every array of it, and every slice of those, holds the
// buffers it reads), so each buffer holds a share of the bytes until it is
// collected: a future's batch stays valid while it, or any array of it, is
// reachable, whatever became of the future.
func (recordCodec) Anchor(v any, share func() (drop func())) {
	rec, ok := v.(arrow.RecordBatch)
	if !ok || rec == nil {
		return
	}
	seen := map[*memory.Buffer]bool{}
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		if d == nil || reflect.ValueOf(d).IsNil() { // (no dictionary: a nil *array.Data)
			return
		}
		for _, b := range d.Buffers() {
			if b == nil || seen[b] {
				continue
			}
			seen[b] = true
			if drop := share(); drop != nil {
				runtime.AddCleanup(b, func(drop func()) { drop() }, drop)
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
		walk(d.Dictionary())
	}
	for _, col := range rec.Columns() {
		walk(col.Data())
	}
}

// Decode reads the batch in place: its column buffers are views of data,
// which must stay as it is for as long as the batch is used (a Future's
// value stays valid while the batch, or any array of it, is reachable:
// Anchors).
func (recordCodec) Decode(data []byte, v any) error {
	p, ok := v.(*arrow.RecordBatch)
	if !ok {
		return fmt.Errorf("arrow codec: cannot decode a record batch into %T (want *arrow.RecordBatch)", v)
	}
	if len(data) < pad {
		return fmt.Errorf("%w: arrow IPC: %d bytes", codec.ErrMalformed, len(data))
	}
	r, err := ipc.NewMappedFileReader(data[pad:], ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return fmt.Errorf("%w: arrow IPC: %v", codec.ErrMalformed, err)
	}
	defer r.Close()
	if r.NumRecords() == 0 {
		return fmt.Errorf("%w: arrow IPC file holds no record batch", codec.ErrMalformed)
	}
	rec, err := r.RecordBatch(0)
	if err != nil {
		return fmt.Errorf("%w: arrow IPC: %v", codec.ErrMalformed, err)
	}
	rec.Retain()
	*p = rec
	return nil
}
