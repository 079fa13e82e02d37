package dbgen

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
)

// TestChunksConcatenate checks, for every table and several chunk counts
// (more chunks than rows included), that the chunks in order make the
// whole table and that every block is whole lines.
func TestChunksConcatenate(t *testing.T) {
	const sf = 0.01
	for _, table := range Tables() {
		var whole bytes.Buffer
		if err := WriteChunk(context.Background(), &whole, table, sf, 0, 1); err != nil {
			t.Fatal(err)
		}
		rows, err := RowCount(table, sf)
		if err != nil {
			t.Fatal(err)
		}
		if got := int64(bytes.Count(whole.Bytes(), []byte("|\n"))); got != rows {
			t.Errorf("%s: %d lines, RowCount says %d", table, got, rows)
		}
		for _, chunks := range []int{2, 5, 13, 40} {
			var joined bytes.Buffer
			for c := range chunks {
				for block, err := range TextBlocks(context.Background(), table, sf, c, chunks) {
					if err != nil {
						t.Fatal(err)
					}
					if len(block) == 0 || !bytes.HasSuffix(block, []byte("|\n")) {
						t.Fatalf("%s chunk %d/%d: block of %d bytes does not end a line", table, c, chunks, len(block))
					}
					joined.Write(block)
				}
			}
			if !bytes.Equal(joined.Bytes(), whole.Bytes()) {
				t.Errorf("%s: %d chunks differ from the whole table at byte %d", table, chunks, firstDiff(joined.Bytes(), whole.Bytes()))
			}
		}
	}
}

func TestTextBlocksErrors(t *testing.T) {
	tests := []struct {
		name          string
		table         string
		sf            float64
		chunk, chunks int
		want          error
	}{
		{"unknown table", "lineitems", 1, 0, 1, ErrUnknownTable},
		{"zero SF", Orders, 0, 0, 1, ErrScaleFactor},
		{"negative SF", Orders, -0.1, 0, 1, ErrScaleFactor},
		{"NaN SF", Orders, math.NaN(), 0, 1, ErrScaleFactor},
		{"no chunks", Orders, 1, 0, 0, ErrChunk},
		{"chunk past the end", Orders, 1, 3, 3, ErrChunk},
		{"negative chunk", Orders, 1, -1, 3, ErrChunk},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			for block, err := range TextBlocks(context.Background(), tc.table, tc.sf, tc.chunk, tc.chunks) {
				n++
				if block != nil || !errors.Is(err, tc.want) {
					t.Fatalf("got block of %d bytes, error %v; want error %v", len(block), err, tc.want)
				}
			}
			if n != 1 {
				t.Fatalf("iterator yielded %d times, want one error", n)
			}
			if err := WriteChunk(context.Background(), &bytes.Buffer{}, tc.table, tc.sf, tc.chunk, tc.chunks); !errors.Is(err, tc.want) {
				t.Fatalf("WriteChunk error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTextBlocksCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	blocks := 0
	var last error
	for _, err := range TextBlocks(ctx, Lineitem, 1, 0, 1) {
		if err != nil {
			last = err
			break
		}
		blocks++
		if blocks == 3 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) || blocks != 3 {
		t.Fatalf("after cancel: %d blocks, error %v; want 3 blocks and context.Canceled", blocks, last)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteChunkWriterError(t *testing.T) {
	boom := errors.New("disk full")
	if err := WriteChunk(context.Background(), failingWriter{boom}, Region, 1, 0, 1); !errors.Is(err, boom) {
		t.Fatalf("WriteChunk error %v, want %v", err, boom)
	}
}
