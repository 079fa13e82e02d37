package exchange

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// A map task's shuffle output is one object for all its reducers (the
// layout of Spark's and Ballista's shuffle files, not one object per
// map×reduce pair: Daft measured ~3 KB of driver memory per pair): the rows
// for each reducer as an Arrow IPC file, one after another, then an index
// of where each one lies, with its rows:
//
//	pad | segment 0 | pad | segment 1 | ... | segment R-1 | index | trailer
//	index:   R × (offset u64, length u64, rows u64), little-endian
//	trailer: R u32 | "SHX1"
//
// A reducer reads the trailer and index from the end, then its segment: a
// byte range, from the node that holds the object. Segments are IPC files
// (their footer locates every buffer) starting 8-byte aligned in the stored
// object, whose first byte is the value's codec tag (so offsets here are
// 7 mod 8): a reducer on the same node reads them in place, without a copy.
// They are not compressed: on one machine, or a LAN, compressing costs more
// than the bytes it saves.

const (
	mapOutputMagic = "SHX1"
	trailerSize    = 4 + len(mapOutputMagic)
	indexEntrySize = 24
	// storedOffset is where the value starts in the stored object (after
	// its one-byte codec tag): segments start at value offsets that are
	// 7 mod 8, 8-aligned where stored.
	storedOffset = 1
)

// Segment is where one reducer's rows lie in a map output, in bytes of the
// value.
type Segment struct {
	Offset, Length, Rows int64
}

// MapOutputWriter builds a map task's shuffle output: rows routed to
// reducers as the exchange spec says (Hash by the keys' hash, Broadcast and
// Single to one segment that every reader, or reader 0, reads).
type MapOutputWriter struct {
	spec   Spec
	schema types.Schema
	hasher *Hasher
	parts  [][]*coldata.Batch
	rows   []int64
}

// NewMapOutputWriter returns a writer for rows of schema s.
func NewMapOutputWriter(spec Spec, s types.Schema) (*MapOutputWriter, error) {
	n := 1
	if spec.Kind == Hash {
		if spec.Partitions < 1 {
			return nil, fmt.Errorf("a hash exchange needs at least one partition, got %d", spec.Partitions)
		}
		n = spec.Partitions
	}
	w := &MapOutputWriter{spec: spec, schema: s, parts: make([][]*coldata.Batch, n), rows: make([]int64, n)}
	if spec.Kind == Hash {
		h, err := NewHasher(spec.Keys, s)
		if err != nil {
			return nil, err
		}
		w.hasher = h
	}
	return w, nil
}

// Write routes the live rows of b (which the writer may keep: it copies
// what it keeps).
func (w *MapOutputWriter) Write(b *coldata.Batch) {
	if b.Len() == 0 {
		return
	}
	if w.hasher == nil {
		c := coldata.Compact(b)
		w.parts[0] = append(w.parts[0], c)
		w.rows[0] += int64(c.N)
		return
	}
	n := len(w.parts)
	hs := w.hasher.Hash(b)
	rows := b.Sel
	if rows == nil {
		rows = coldata.Iota(b.N)
	}
	buckets := make([][]int32, n)
	for k, i := range rows {
		p := int((hs[k] >> 32) * uint64(n) >> 32) // as Memory routes
		buckets[p] = append(buckets[p], i)
	}
	for p, idx := range buckets {
		if len(idx) > 0 {
			c := coldata.Compact(&coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: idx})
			w.parts[p] = append(w.parts[p], c)
			w.rows[p] += int64(c.N)
		}
	}
}

// Finish encodes the output: the bytes of the value to store, and where
// each reducer's rows lie in it.
func (w *MapOutputWriter) Finish() ([]byte, []Segment, error) {
	var buf bytes.Buffer
	segs := make([]Segment, len(w.parts))
	arrowSchema := coldata.ArrowSchema(w.schema)
	for p, batches := range w.parts {
		// Align the segment's start in the stored object.
		for (storedOffset+buf.Len())%8 != 0 {
			buf.WriteByte(0)
		}
		start := buf.Len()
		fw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(arrowSchema), ipc.WithAllocator(memory.DefaultAllocator))
		if err != nil {
			return nil, nil, fmt.Errorf("shuffle output: %w", err)
		}
		for _, b := range batches {
			rec := coldata.ToRecord(memory.DefaultAllocator, w.schema, b)
			err := fw.Write(rec)
			rec.Release()
			if err != nil {
				return nil, nil, fmt.Errorf("shuffle output: writing reducer %d's rows: %w", p, err)
			}
		}
		if err := fw.Close(); err != nil {
			return nil, nil, fmt.Errorf("shuffle output: %w", err)
		}
		segs[p] = Segment{Offset: int64(start), Length: int64(buf.Len() - start), Rows: w.rows[p]}
		w.parts[p] = nil
	}
	out := buf.Bytes()
	for _, s := range segs {
		out = binary.LittleEndian.AppendUint64(out, uint64(s.Offset))
		out = binary.LittleEndian.AppendUint64(out, uint64(s.Length))
		out = binary.LittleEndian.AppendUint64(out, uint64(s.Rows))
	}
	out = binary.LittleEndian.AppendUint32(out, uint32(len(segs)))
	out = append(out, mapOutputMagic...)
	return out, segs, nil
}

// TrailerSize is how many bytes from the end of a map output say how many
// segments it has (ParseTrailer).
const TrailerSize = trailerSize

// ParseTrailer returns the number of segments a map output's last
// TrailerSize bytes announce, and the size of its index (read next, from
// the end).
func ParseTrailer(tail []byte) (segments int, indexBytes int64, err error) {
	if len(tail) != trailerSize || string(tail[4:]) != mapOutputMagic {
		return 0, 0, errors.New("not a shuffle map output (its trailer is missing)")
	}
	n := int(binary.LittleEndian.Uint32(tail))
	return n, int64(n) * indexEntrySize, nil
}

// ParseIndex decodes a map output's index (the indexBytes before its
// trailer), checking each segment lies within the size bytes before it.
func ParseIndex(index []byte, size int64) ([]Segment, error) {
	if len(index)%indexEntrySize != 0 {
		return nil, fmt.Errorf("shuffle map output index of %d bytes", len(index))
	}
	segs := make([]Segment, len(index)/indexEntrySize)
	for i := range segs {
		e := index[i*indexEntrySize:]
		s := Segment{Offset: int64(binary.LittleEndian.Uint64(e)), Length: int64(binary.LittleEndian.Uint64(e[8:])),
			Rows: int64(binary.LittleEndian.Uint64(e[16:]))}
		if s.Offset < 0 || s.Length < 0 || s.Offset+s.Length > size {
			return nil, fmt.Errorf("shuffle map output: segment %d [%d, +%d) lies outside its %d bytes", i, s.Offset, s.Length, size)
		}
		segs[i] = s
	}
	return segs, nil
}

// SplitMapOutput parses a whole map output held in memory: its segments.
func SplitMapOutput(data []byte) ([]Segment, error) {
	if len(data) < trailerSize {
		return nil, errors.New("shuffle map output too short for its trailer")
	}
	_, ib, err := ParseTrailer(data[len(data)-trailerSize:])
	if err != nil {
		return nil, err
	}
	body := int64(len(data)) - int64(trailerSize) - ib
	if body < 0 {
		return nil, errors.New("shuffle map output too short for its index")
	}
	return ParseIndex(data[body:len(data)-trailerSize], body)
}

// DecodeSegment reads one reducer's rows, in place: the batches' buffers
// are views of data, which must stay unchanged while they are used.
func DecodeSegment(s types.Schema, data []byte) ([]*coldata.Batch, error) {
	r, err := ipc.NewMappedFileReader(data, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return nil, fmt.Errorf("shuffle segment: %w", err)
	}
	defer r.Close()
	out := make([]*coldata.Batch, 0, r.NumRecords())
	for i := range r.NumRecords() {
		rec, err := r.RecordBatch(i)
		if err != nil {
			return nil, fmt.Errorf("shuffle segment, batch %d: %w", i, err)
		}
		b, err := coldata.FromRecord(s, rec)
		if err != nil {
			return nil, fmt.Errorf("shuffle segment, batch %d: %w", i, err)
		}
		out = append(out, b)
	}
	return out, nil
}
