package dataframe

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/runner"
)

// ReadCSVStream reads delimited text from r with the given schema. The frame
// is one-shot: it can be collected (or written) once.
func ReadCSVStream(r io.Reader, schema Schema, opts ...CSVOption) *DataFrame {
	var o scan.CSVOptions
	for _, f := range opts {
		f(&o)
	}
	if err := checkSchema(schema); err != nil {
		return errFrame(fmt.Errorf("reading CSV stream: %w", err))
	}
	return sourceFrame(scan.NewCSVStream(r, schema, o))
}

// ParquetOption configures WriteParquet.
type ParquetOption func(*parquetConfig)

type parquetConfig struct {
	rowGroupRows int64
	collect      []CollectOption
	dictCols     []string
	dictSet      bool
}

// DictionaryColumns limits Parquet dictionary encoding to the named columns
// (by default every column is dictionary-encoded while its dictionary stays
// small); for high-cardinality text this saves much of the writing time.
func DictionaryColumns(names ...string) ParquetOption {
	return func(c *parquetConfig) { c.dictCols, c.dictSet = names, true }
}

// RowGroupRows sets the rows per row group (default 131072: small enough for
// row-group pruning on statistics to pay, large enough to compress well).
func RowGroupRows(n int64) ParquetOption { return func(c *parquetConfig) { c.rowGroupRows = n } }

// ParquetCollect passes execution options to the query that produces the rows.
func ParquetCollect(opts ...CollectOption) ParquetOption {
	return func(c *parquetConfig) { c.collect = append(c.collect, opts...) }
}

// WriteParquet runs the frame and streams its rows into a Parquet file at path
// (zstd, dictionary pages, statistics, decimals stored as 64-bit integers).
func (df *DataFrame) WriteParquet(ctx context.Context, path string, opts ...ParquetOption) (err error) {
	if df.err != nil {
		return df.err
	}
	pc := parquetConfig{rowGroupRows: 131072}
	for _, o := range opts {
		o(&pc)
	}
	cfg := newConfig(pc.collect)
	schema := df.node.Schema()
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing Parquet: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing Parquet %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	wopts := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1),
		parquet.WithDictionaryDefault(!pc.dictSet),
		parquet.WithStats(true),
		parquet.WithStoreDecimalAsInteger(true),
		parquet.WithMaxRowGroupLength(pc.rowGroupRows),
	}
	for _, c := range pc.dictCols {
		wopts = append(wopts, parquet.WithDictionaryFor(c, true))
	}
	props := parquet.NewWriterProperties(wopts...)
	w, err := pqarrow.NewFileWriter(coldata.ArrowSchema(schema), struct{ io.Writer }{f}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return fmt.Errorf("writing Parquet %s: %w", path, err)
	}
	// Rows are buffered to whole row groups so that each group's statistics
	// cover a contiguous run of the input.
	var pending []*coldata.Batch
	var pendingRows int64
	flush := func() error {
		if pendingRows == 0 {
			return nil
		}
		all := coldata.Concat(schema, pending)
		pending, pendingRows = nil, 0
		rec := coldata.ToRecord(memory.DefaultAllocator, schema, all)
		defer rec.Release()
		return w.Write(rec)
	}
	err = colexecop.Catch(func() {
		_, phys, err := cfg.plan(df.node, false)
		if err != nil {
			colexecop.Throw(err)
		}
		_, err = runner.Run(ctx, phys, runner.Options{Parallelism: cfg.parallelism, BatchSize: cfg.batchSize,
			MemoryBudget: cfg.budget, SpillDir: cfg.spillDir, OnSpill: cfg.onSpill,
			Sink: func(b *coldata.Batch) error {
				pending = append(pending, coldata.Compact(b))
				pendingRows += int64(b.Len())
				if pendingRows >= pc.rowGroupRows {
					return flush()
				}
				return nil
			}})
		if err != nil {
			colexecop.Throw(err)
		}
		if err := flush(); err != nil {
			colexecop.Throw(err)
		}
	})
	if err != nil {
		w.Close()
		return fmt.Errorf("writing Parquet %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing Parquet %s: %w", path, err)
	}
	return nil
}
