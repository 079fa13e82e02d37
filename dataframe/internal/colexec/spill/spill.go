package spill

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Config bounds an operator's memory. Budget is in bytes; Dir is where spill
// files go (os.TempDir when empty); Level counts recursive re-partitionings.
type Config struct {
	Budget int64
	Dir    string
	Level  int
	// OnSpill, when set, is told each time an operator starts spilling
	// (used by tests and statistics).
	OnSpill func(operator string)
}

// Deeper returns the config for a recursive pass.
func (c *Config) Deeper() *Config {
	d := *c
	d.Level++
	return &d
}

// Notify reports a spill to OnSpill.
func (c *Config) Notify(op string) {
	if c.OnSpill != nil {
		c.OnSpill(op)
	}
}

// File is one spill file: written once, then read back.
type File struct {
	schema types.Schema
	f      *os.File
	bw     *bufio.Writer
	w      *ipc.Writer
	rows   int64
}

// NewFile creates a spill file for batches of schema s.
func NewFile(cfg *Config, s types.Schema) (*File, error) {
	f, err := os.CreateTemp(cfg.Dir, "shoal-spill-*.arrows")
	if err != nil {
		return nil, fmt.Errorf("creating spill file in %q: %w", cfg.Dir, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := ipc.NewWriter(bw, ipc.WithSchema(coldata.ArrowSchema(s)), ipc.WithZstd(), ipc.WithAllocator(memory.DefaultAllocator))
	return &File{schema: s, f: f, bw: bw, w: w}, nil
}

// Rows is the number of rows written.
func (f *File) Rows() int64 { return f.rows }

// Write appends the live rows of b.
func (f *File) Write(b *coldata.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	rec := coldata.ToRecord(memory.DefaultAllocator, f.schema, b)
	defer rec.Release()
	f.rows += int64(b.Len())
	if err := f.w.Write(rec); err != nil {
		return fmt.Errorf("writing spill file %s: %w", f.f.Name(), err)
	}
	return nil
}

// finish flushes the writer.
func (f *File) finish() error {
	if f.w == nil {
		return nil
	}
	err := f.w.Close()
	f.w = nil
	if e := f.bw.Flush(); err == nil {
		err = e
	}
	return err
}

// Reader returns an operator that replays the file's batches.
func (f *File) Reader() colexecop.Operator {
	var rd *ipc.Reader
	var recs []arrow.RecordBatch
	return &colexecop.Func{
		OnInit: func(context.Context) {
			if err := f.finish(); err != nil {
				colexecop.Throw(err)
			}
			if _, err := f.f.Seek(0, io.SeekStart); err != nil {
				colexecop.Throw(fmt.Errorf("rewinding spill file: %w", err))
			}
			r, err := ipc.NewReader(bufio.NewReaderSize(f.f, 1<<20), ipc.WithAllocator(memory.DefaultAllocator))
			if err != nil {
				colexecop.Throw(fmt.Errorf("reading spill file %s: %w", f.f.Name(), err))
			}
			rd = r
		},
		OnNext: func() *coldata.Batch {
			for _, r := range recs {
				r.Release()
			}
			recs = recs[:0]
			if rd == nil || !rd.Next() {
				if rd != nil && rd.Err() != nil && !errors.Is(rd.Err(), io.EOF) {
					colexecop.Throw(fmt.Errorf("reading spill file %s: %w", f.f.Name(), rd.Err()))
				}
				return &coldata.Batch{}
			}
			rec := rd.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
			b, err := coldata.FromRecord(f.schema, rec)
			if err != nil {
				colexecop.Throw(err)
			}
			return b
		},
		OnClose: func() error {
			if rd != nil {
				rd.Release()
				rd = nil
			}
			return nil
		},
	}
}

// Close removes the file.
func (f *File) Close() error {
	_ = f.finish()
	name := f.f.Name()
	err := f.f.Close()
	if e := os.Remove(name); err == nil && e != nil && !errors.Is(e, os.ErrNotExist) {
		err = e
	}
	return err
}

// Partitions is a set of spill files, one per hash partition.
type Partitions struct {
	Files []*File
	cfg   *Config
}

// NewPartitions creates n spill files for schema s.
func NewPartitions(cfg *Config, s types.Schema, n int) (*Partitions, error) {
	p := &Partitions{cfg: cfg}
	for i := 0; i < n; i++ {
		f, err := NewFile(cfg, s)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.Files = append(p.Files, f)
	}
	return p, nil
}

// Add writes the live rows of b to their partitions: part[k] is the partition of the k-th live row.
func (p *Partitions) Add(b *coldata.Batch, part []int32) {
	rows := b.Sel
	if rows == nil {
		rows = coldata.Iota(b.N)
	}
	buckets := make([][]int32, len(p.Files))
	for k, i := range rows {
		buckets[part[k]] = append(buckets[part[k]], i)
	}
	for q, idx := range buckets {
		if len(idx) == 0 {
			continue
		}
		if err := p.Files[q].Write(&coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: idx}); err != nil {
			colexecop.Throw(err)
		}
	}
}

// Close removes every file.
func (p *Partitions) Close() error {
	var err error
	for _, f := range p.Files {
		if e := f.Close(); err == nil {
			err = e
		}
	}
	p.Files = nil
	return err
}

// PartitionOf maps a 64-bit key hash to one of n partitions, using different
// bits at each recursion level.
func PartitionOf(h uint64, level, n int) int32 {
	h = (h >> uint((level*7)%40)) * 0xff51afd7ed558ccd
	return int32((h >> 32) % uint64(n))
}
