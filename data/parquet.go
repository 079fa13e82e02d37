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

	"github.com/shoal-dev/shoal/internal/arrowrows"
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
		m, err := arrowrows.For[T]()
		if err != nil {
			return fmt.Errorf("data: Parquet rows: %w", err)
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

func readParquetFile[T any](ctx context.Context, path string, blockRows int, m *arrowrows.Mapping, yield func([]T) bool) (bool, error) {
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
	cols := make([]int, len(m.Fields))
	for i, f := range m.Fields {
		idx := -1
		for j, af := range schema.Fields() {
			if strings.EqualFold(af.Name, f.Name) {
				idx = j
				break
			}
		}
		if idx < 0 {
			return false, fmt.Errorf("the file has no column %q for field %s (its columns: %s)", f.Name, f.GoName, columnNames(schema))
		}
		if err := f.Accepts(schema.Field(idx).Type); err != nil {
			return false, fmt.Errorf("column %q (%s) does not fit field %s (%s): %w", f.Name, schema.Field(idx).Type, f.GoName, f.Type, err)
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
		for i, f := range m.Fields {
			col := rec.Column(i)
			for r := range n {
				if err := f.Read(col, r, base.Index(r).FieldByIndex(f.Index)); err != nil {
					return false, fmt.Errorf("column %q, row %d: %w", f.Name, row+int64(r), err)
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
	m, err := arrowrows.For[T]()
	if err != nil {
		return 0, fmt.Errorf("data: Parquet rows: %w", err)
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
	w, err := pqarrow.NewFileWriter(m.Schema, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return 0, fmt.Errorf("data: writing Parquet %s: %w", path, err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, m.Schema)
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
			for i, fl := range m.Fields {
				fl.Write(b.Field(i), v.Index(r).FieldByIndex(fl.Index))
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
