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
// map×reduce pair: Daft measured ~3 KB of driver memory per pair): a header,
// which reducers get rows, an index of where each reducer's rows lie, then
// those rows as one Arrow IPC file per reducer:
//
//	"SHX2" | R u32 | origin [32]byte | rows u64 | bytes u64 | stats: 4 × u64 | non-empty: ⌈R/64⌉ × u64 | index: R × (offset u64, length u64, rows u64) | pad | segment 0 | pad | ... | segment R-1
//
// (origin names the node the output was made on, zero-padded, rows and
// bytes count all its rows and segment bytes; stats are what its task
// read: rows, bytes of map outputs on its node and on others, and how many
// times its operators spilled; bit p of the non-empty bitmap is set when
// reducer p has rows. The coordinator reads the header and the bitmap of
// each map output, R/8 bytes (Spark's compressed map statuses), to pin its
// node and to give each reducer only the outputs that hold rows for it, so
// that a shuffle's metadata grows with the rows, not with maps × reducers.)
// All little-endian. A reducer reads its index entry (24 bytes at
// IndexEntryOffset), then its segment: two byte ranges, from the node that
// holds the object, and never the rest. Segments are IPC files (their
// footer locates every buffer) starting 8-byte aligned in the stored
// object, whose first byte is the value's codec tag (so offsets in the
// value are 7 mod 8): a reducer on the same node reads them in place,
// without a copy. They are not compressed: on one machine, or a LAN,
// compressing costs more than the bytes it saves.

const (
	mapOutputMagic = "SHX2"
	originSize     = 32
	headerSize     = 4 + 4 + originSize + 8 + 8 + 4*8
	indexEntrySize = 24
	// storedOffset is where the value starts in the stored object (after
	// its one-byte codec tag): segments start at value offsets that are
	// 7 mod 8, 8-aligned where stored.
	storedOffset = 1
)

// HeaderSize is the size of a map output's header (ParseHeader).
const HeaderSize = headerSize

// IndexEntrySize is the size of one reducer's index entry (ParseEntry),
// found at IndexEntryOffset.
const IndexEntrySize = indexEntrySize

// NonEmptySize is the size of the non-empty bitmap (ParseNonEmpty) of a map
// output with r segments, found right after the header.
func NonEmptySize(r int) int64 { return int64((r+63)/64) * 8 }

// IndexEntryOffset is where reducer p's index entry lies in a map output
// with r segments.
func IndexEntryOffset(r, p int) int64 { return headerSize + NonEmptySize(r) + int64(p)*indexEntrySize }

// NonEmpty is which segments of a map output hold rows: bit p of word p/64.
type NonEmpty []uint64

// Has reports whether segment p holds rows.
func (n NonEmpty) Has(p int) bool { return p/64 < len(n) && n[p/64]&(1<<(p%64)) != 0 }

// ParseNonEmpty decodes the non-empty bitmap of a map output with r
// segments (NonEmptySize(r) bytes).
func ParseNonEmpty(b []byte, r int) (NonEmpty, error) {
	if int64(len(b)) != NonEmptySize(r) {
		return nil, fmt.Errorf("shuffle map output: a bitmap of %d bytes for %d segments", len(b), r)
	}
	n := make(NonEmpty, len(b)/8)
	for i := range n {
		n[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	if extra := r % 64; extra != 0 && n[len(n)-1]>>extra != 0 {
		return nil, fmt.Errorf("shuffle map output: its bitmap marks segments past its %d", r)
	}
	return n, nil
}

// Segment is where one reducer's rows lie in a map output, in bytes of the
// value.
type Segment struct {
	Offset, Length, Rows int64
}

// MapOutputWriter builds a map task's shuffle output: rows routed to
// reducers as the exchange spec says (Hash by the keys' hash, Broadcast and
// Single to one segment that every reader, or reader 0, reads). Each
// reducer's rows are gathered into chunks (chunk.go), each written as one
// Arrow record.
type MapOutputWriter struct {
	// Origin names the node the output is made on (at most 32 bytes).
	Origin string
	// Read is what the task read, written into the header.
	Read    ReadStats
	spec    Spec
	schema  types.Schema
	hasher  *Hasher
	open    []*chunk   // per reducer, the chunk being filled (nil: none)
	sealed  [][]*chunk // per reducer, the full chunks
	nextCap []int      // per reducer, the next chunk's capacity (0: not started)
	rows    []int64
	counts  []int32
	parts   []uint32
	buckets []int32 // rows grouped by reducer, reducer p's at [starts[p], starts[p+1])
	starts  []int32
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
	w := &MapOutputWriter{spec: spec, schema: s, open: make([]*chunk, n), sealed: make([][]*chunk, n),
		nextCap: make([]int, n), rows: make([]int64, n)}
	if spec.Kind == Hash {
		h, err := NewHasher(spec.Keys, s)
		if err != nil {
			return nil, err
		}
		w.hasher = h
		w.counts = make([]int32, n)
		w.starts = make([]int32, n+1)
	}
	return w, nil
}

// Write routes the live rows of b (copying them: b may be reused).
func (w *MapOutputWriter) Write(b *coldata.Batch) {
	if b.Len() == 0 {
		return
	}
	if w.hasher == nil {
		w.add(0, b, b.Sel)
		return
	}
	n := uint64(len(w.open))
	hs := w.hasher.Hash(b)
	if cap(w.parts) < len(hs) {
		w.parts = make([]uint32, len(hs))
		w.buckets = make([]int32, len(hs))
	}
	parts, counts := w.parts[:len(hs)], w.counts
	clear(counts)
	for k, h := range hs {
		p := uint32((h >> 32) * n >> 32) // as Memory routes
		parts[k] = p
		counts[p]++
	}
	// Rows grouped by reducer, in their order (a counting sort).
	var at int32
	for p, c := range counts {
		w.starts[p] = at
		at += c
	}
	w.starts[len(counts)] = at
	buckets := w.buckets[:len(hs)]
	if b.Sel == nil {
		for k, p := range parts {
			buckets[w.starts[p]] = int32(k)
			w.starts[p]++
		}
	} else {
		for k, p := range parts {
			buckets[w.starts[p]] = b.Sel[k]
			w.starts[p]++
		}
	}
	lo := int32(0)
	for p, c := range counts {
		if c > 0 {
			w.add(p, b, buckets[lo:lo+c])
		}
		lo += c
	}
}

// WriteStable is Write for a batch whose memory stays as it is until the
// output's parts are released (FinishParts): one going to the single
// segment of a broadcast or single exchange is kept by reference, not
// copied, when its columns are shared with Arrow as they are (no
// selection, constants or strings; at least keepMinRows rows, so that a
// record's metadata stays a small part of its bytes). A stage that only
// passes on what it read (a repartition's reducers) thus stores its rows
// with one copy, the node's, instead of two.
func (w *MapOutputWriter) WriteStable(b *coldata.Batch) {
	if w.hasher != nil || !keepable(b) {
		w.Write(b)
		return
	}
	w.flush(0)
	w.sealed[0] = append(w.sealed[0], &chunk{n: b.N, cap: b.N, ext: b})
	w.rows[0] += int64(b.N)
}

// keepMinRows is the smallest batch WriteStable keeps by reference.
const keepMinRows = 1024

func keepable(b *coldata.Batch) bool {
	if b.Sel != nil || b.N < keepMinRows {
		return false
	}
	for _, v := range b.Vecs {
		if v.Const || v.Type.ID == types.String || v.Dict != nil {
			return false
		}
	}
	return true
}

// add appends rows idx of b (all b.N rows when idx is nil) to reducer p's.
func (w *MapOutputWriter) add(p int, b *coldata.Batch, idx []int32) {
	k := b.N
	if idx != nil {
		k = len(idx)
	}
	w.rows[p] += int64(k)
	for lo := 0; lo < k; {
		c := w.open[p]
		if c == nil {
			capacity := w.nextCap[p]
			if capacity == 0 { // the first chunk: about this batch's rows
				capacity = minChunkRows
				for capacity < k-lo && capacity < chunkRows {
					capacity *= 2
				}
			}
			c = newChunk(w.schema, capacity)
			w.open[p] = c
			w.nextCap[p] = min(2*capacity, chunkRows)
		}
		m := min(k-lo, c.cap-c.n)
		c.append(b.Vecs, idx, lo, m)
		lo += m
		if c.n == c.cap {
			w.flush(p)
		}
	}
}

// flush seals reducer p's open chunk.
func (w *MapOutputWriter) flush(p int) {
	c := w.open[p]
	if c == nil {
		return
	}
	w.open[p] = nil
	if c.n == 0 {
		c.recycle()
		return
	}
	w.sealed[p] = append(w.sealed[p], c)
}

// partsWriter collects what an IPC writer writes as the parts of the
// output: large writes (rows' buffers) by reference, without a copy, small
// ones (metadata, padding) copied into buffers of its own. The referenced
// buffers must stay as they are until the parts are used.
type partsWriter struct {
	parts [][]byte
	small []byte // small writes since the last reference
	n     int    // bytes written
}

// refMin is the smallest write kept by reference: below it a part costs
// its reader more than the copy.
const refMin = 8 << 10

func (w *partsWriter) Write(p []byte) (int, error) {
	if len(p) >= refMin {
		w.flushSmall()
		w.parts = append(w.parts, p)
	} else {
		if w.small == nil {
			w.small = make([]byte, 0, 4<<10)
		}
		w.small = append(w.small, p...)
	}
	w.n += len(p)
	return len(p), nil
}

func (w *partsWriter) flushSmall() {
	if len(w.small) > 0 {
		w.parts = append(w.parts, w.small)
		w.small = nil
	}
}

// pad writes zeros until the next write starts 8-aligned in the stored
// object.
func (w *partsWriter) pad() {
	var zeros [8]byte
	if k := (storedOffset + w.n) % 8; k != 0 {
		w.Write(zeros[:8-k])
	}
}

// Finish encodes the output: the bytes of the value to store, and where
// each reducer's rows lie in it.
func (w *MapOutputWriter) Finish() ([]byte, []Segment, error) {
	parts, segs, release, err := w.FinishParts()
	if err != nil {
		return nil, nil, err
	}
	defer release()
	return bytes.Join(parts, nil), segs, nil
}

// FinishParts encodes the output as parts whose concatenation is the value
// to store, without gathering them into one buffer: most parts are the
// rows' buffers themselves. They stay valid until release is called (the
// writer's buffers then go back to their pools), which must happen once,
// also after an error.
func (w *MapOutputWriter) FinishParts() (parts [][]byte, segs []Segment, release func(), err error) {
	r := len(w.sealed)
	for p := range w.sealed {
		w.flush(p)
	}
	sealed := w.sealed
	w.sealed = make([][]*chunk, r)
	release = func() {
		for _, cs := range sealed {
			for _, c := range cs {
				c.recycle() // (encoded, or the output is abandoned)
			}
		}
		clear(sealed)
	}
	chunks := make([][]*coldata.Batch, r)
	for p := range sealed {
		for _, c := range sealed[p] {
			chunks[p] = append(chunks[p], c.batch())
		}
	}
	base := int(IndexEntryOffset(r, r))
	out := &partsWriter{parts: [][]byte{nil}, n: base} // (parts[0]: the header, written last)
	segs = make([]Segment, r)
	for p, batches := range chunks {
		if len(batches) == 0 { // no rows: an empty range (readers skip it)
			segs[p] = Segment{Offset: int64(out.n)}
			continue
		}
		// Align the segment's start in the stored object.
		out.pad()
		start := out.n
		// Low-cardinality strings go as one dictionary per segment.
		coldata.DictEncode(w.schema, batches, w.rows[p])
		fw, err := ipc.NewFileWriter(out, ipc.WithSchema(coldata.WireSchema(w.schema, batches[0])), ipc.WithAllocator(memory.DefaultAllocator))
		if err != nil {
			return nil, nil, release, fmt.Errorf("shuffle output: %w", err)
		}
		for _, b := range batches {
			rec := coldata.ToWireRecord(memory.DefaultAllocator, w.schema, b)
			err := fw.Write(rec)
			rec.Release()
			if err != nil {
				return nil, nil, release, fmt.Errorf("shuffle output: writing reducer %d's rows: %w", p, err)
			}
		}
		if err := fw.Close(); err != nil {
			return nil, nil, release, fmt.Errorf("shuffle output: %w", err)
		}
		segs[p] = Segment{Offset: int64(start), Length: int64(out.n - start), Rows: w.rows[p]}
	}
	out.flushSmall()
	head := make([]byte, 0, base)
	head = append(head, mapOutputMagic...)
	head = binary.LittleEndian.AppendUint32(head, uint32(r))
	var origin [originSize]byte
	copy(origin[:], w.Origin)
	head = append(head, origin[:]...)
	var rows, length int64
	for p, n := range w.rows {
		rows += n
		length += segs[p].Length
	}
	head = binary.LittleEndian.AppendUint64(head, uint64(rows))
	head = binary.LittleEndian.AppendUint64(head, uint64(length))
	for _, x := range []int64{w.Read.Rows, w.Read.LocalBytes, w.Read.RemoteBytes, w.Read.Spills} {
		head = binary.LittleEndian.AppendUint64(head, uint64(x))
	}
	nonEmpty := make(NonEmpty, NonEmptySize(r)/8)
	for p, s := range segs {
		if s.Rows > 0 {
			nonEmpty[p/64] |= 1 << (p % 64)
		}
	}
	for _, word := range nonEmpty {
		head = binary.LittleEndian.AppendUint64(head, word)
	}
	for _, s := range segs {
		head = binary.LittleEndian.AppendUint64(head, uint64(s.Offset))
		head = binary.LittleEndian.AppendUint64(head, uint64(s.Length))
		head = binary.LittleEndian.AppendUint64(head, uint64(s.Rows))
	}
	out.parts[0] = head
	return out.parts, segs, release, nil
}

// ReadStats is what a map task read.
type ReadStats struct {
	// Rows read from earlier stages' map outputs and from sources.
	Rows int64
	// LocalBytes and RemoteBytes are the map output bytes read on the
	// task's own node (in place) and fetched from other nodes.
	LocalBytes, RemoteBytes int64
	// Spills counts the times its operators spilled to disk.
	Spills int64
}

// Header is what a map output's first HeaderSize bytes say.
type Header struct {
	Segments int    // one per reducer (one for broadcast and single)
	Origin   string // the node it was made on
	Rows     int64  // in all segments
	Bytes    int64  // of all segments
	Read     ReadStats
}

// ParseHeader decodes a map output's first HeaderSize bytes.
func ParseHeader(head []byte) (Header, error) {
	if len(head) != headerSize || string(head[:4]) != mapOutputMagic {
		return Header{}, errors.New("not a shuffle map output (its header is missing)")
	}
	u := func(i int) int64 { return int64(binary.LittleEndian.Uint64(head[8+originSize+8*i:])) }
	return Header{Segments: int(binary.LittleEndian.Uint32(head[4:8])), Origin: string(bytes.TrimRight(head[8:8+originSize], "\x00")),
		Rows: u(0), Bytes: u(1), Read: ReadStats{Rows: u(2), LocalBytes: u(3), RemoteBytes: u(4), Spills: u(5)}}, nil
}

// ParseEntry decodes one index entry, checking the segment lies within a
// map output of size bytes.
func ParseEntry(e []byte, size int64) (Segment, error) {
	if len(e) != indexEntrySize {
		return Segment{}, fmt.Errorf("shuffle map output: an index entry of %d bytes", len(e))
	}
	s := Segment{Offset: int64(binary.LittleEndian.Uint64(e)), Length: int64(binary.LittleEndian.Uint64(e[8:])),
		Rows: int64(binary.LittleEndian.Uint64(e[16:]))}
	if s.Offset < 0 || s.Length < 0 || (size >= 0 && s.Offset+s.Length > size) {
		return Segment{}, fmt.Errorf("shuffle map output: segment [%d, +%d) lies outside its %d bytes", s.Offset, s.Length, size)
	}
	return s, nil
}

// SplitMapOutput parses a whole map output held in memory: its segments.
func SplitMapOutput(data []byte) ([]Segment, error) {
	if len(data) < headerSize {
		return nil, errors.New("shuffle map output too short for its header")
	}
	h, err := ParseHeader(data[:headerSize])
	if err != nil {
		return nil, err
	}
	n := h.Segments
	if int64(len(data)) < IndexEntryOffset(n, n) {
		return nil, errors.New("shuffle map output too short for its index")
	}
	nonEmpty, err := ParseNonEmpty(data[headerSize:headerSize+NonEmptySize(n)], n)
	if err != nil {
		return nil, err
	}
	segs := make([]Segment, n)
	for p := range segs {
		off := IndexEntryOffset(n, p)
		if segs[p], err = ParseEntry(data[off:off+indexEntrySize], int64(len(data))); err != nil {
			return nil, err
		}
		if nonEmpty.Has(p) != (segs[p].Rows > 0) {
			return nil, fmt.Errorf("shuffle map output: segment %d holds %d rows, its bitmap says otherwise", p, segs[p].Rows)
		}
	}
	return segs, nil
}

// DecodeSegment reads one reducer's rows, in place: the batches' buffers
// are views of data, which must stay unchanged while they are used.
func DecodeSegment(s types.Schema, data []byte) ([]*coldata.Batch, error) {
	return DecodeSegmentColumns(s, data, nil)
}

// DecodeSegmentColumns is DecodeSegment decoding only the columns cols
// (nil: all); the batches' other columns are nil
// (coldata.FromRecordColumns).
func DecodeSegmentColumns(s types.Schema, data []byte, cols []int) ([]*coldata.Batch, error) {
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
		b, err := coldata.FromRecordColumns(s, rec, cols)
		if err != nil {
			return nil, fmt.Errorf("shuffle segment, batch %d: %w", i, err)
		}
		// Records hold up to chunkRows rows; operators get batches of the
		// usual size (views).
		for lo := 0; lo < b.N; lo += coldata.DefaultBatchSize {
			hi := min(b.N, lo+coldata.DefaultBatchSize)
			if lo == 0 && hi == b.N {
				out = append(out, b)
				break
			}
			part := &coldata.Batch{N: hi - lo, Vecs: make([]*coldata.Vec, len(b.Vecs))}
			for c, v := range b.Vecs {
				if v != nil {
					part.Vecs[c] = v.Slice(lo, hi)
				}
			}
			out = append(out, part)
		}
	}
	return out, nil
}
