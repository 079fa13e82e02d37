package scan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Source is a table that can be read in partitions.
type Source interface {
	// Schema is the full schema of the table.
	Schema() types.Schema
	// Identity names the table's content for plan tokens: it changes whenever
	// the data may have changed (a file's content, see fileid.go; a new
	// in-memory table), and with every option that changes what is read.
	Identity() string
	// Describe is a short human description for Explain.
	Describe() string
	// Rows estimates the number of rows (-1 when unknown).
	Rows() int64
	// Open returns an operator over partition req.Partition of req.Partitions.
	Open(ctx context.Context, req Request) (colexecop.Operator, error)
}

// Partitioned is a source made of partitions of its own (objects on a
// cluster): a scan of it has one partition per part.
type Partitioned interface {
	Source
	NumPartitions() int
}

// Request says what part of a source to read.
type Request struct {
	Partition, Partitions int
	// Columns are indexes into the source schema, in output order.
	Columns []int
	// Filter, over the output columns, drops rows early and prunes row groups.
	Filter    *expr.Expr
	BatchSize int
}

// ProjectSchema returns the schema of the chosen columns.
func ProjectSchema(s types.Schema, cols []int) types.Schema {
	out := make(types.Schema, len(cols))
	for i, c := range cols {
		out[i] = s[c]
	}
	return out
}

// NewID returns a random identifier for in-memory data.
func NewID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// MemTable is an immutable in-memory table stored in chunks.
type MemTable struct {
	id     string
	schema types.Schema
	chunks []*coldata.Batch
	rows   int64
	stats  memStats
}

// NewMemTable wraps owned chunks (no selection vectors) as a table.
func NewMemTable(s types.Schema, chunks []*coldata.Batch) *MemTable {
	t := &MemTable{id: NewID(), schema: s}
	for _, c := range chunks {
		if c.Len() == 0 {
			continue
		}
		if c.Sel != nil {
			c = coldata.Compact(c)
		} else {
			// Own the batch header: DictEncode replaces vecs.
			c = &coldata.Batch{N: c.N, Vecs: append([]*coldata.Vec(nil), c.Vecs...)}
		}
		t.chunks = append(t.chunks, c)
		t.rows += int64(c.N)
	}
	return t
}

// Schema implements Source.
func (t *MemTable) Schema() types.Schema { return t.schema }

// Identity implements Source.
func (t *MemTable) Identity() string { return "memory:" + t.id }

// Describe implements Source.
func (t *MemTable) Describe() string {
	return fmt.Sprintf("memory table %s (%d rows)", t.id[:8], t.rows)
}

// Rows implements Source.
func (t *MemTable) Rows() int64 { return t.rows }

// Chunks returns the table's chunks (read-only).
func (t *MemTable) Chunks() []*coldata.Batch { return t.chunks }

// Bytes is the approximate memory held.
func (t *MemTable) Bytes() int64 {
	var n int64
	for _, c := range t.chunks {
		n += c.Bytes()
	}
	return n
}

// Open implements Source: partition p reads a contiguous range of rows.
func (t *MemTable) Open(ctx context.Context, req Request) (colexecop.Operator, error) {
	lo := t.rows * int64(req.Partition) / int64(req.Partitions)
	hi := t.rows * int64(req.Partition+1) / int64(req.Partitions)
	bs := req.BatchSize
	if bs <= 0 {
		bs = coldata.DefaultBatchSize
	}
	var filter eval.Selector
	if req.Filter != nil {
		var err error
		if filter, err = eval.CompileFilter(req.Filter, ProjectSchema(t.schema, req.Columns)); err != nil {
			return nil, err
		}
	}
	chunk, base := 0, int64(0)
	pos := lo
	return &colexecop.Func{
		OnNext: func() *coldata.Batch {
			for pos < hi {
				for chunk < len(t.chunks) && base+int64(t.chunks[chunk].N) <= pos {
					base += int64(t.chunks[chunk].N)
					chunk++
				}
				c := t.chunks[chunk]
				start := int(pos - base)
				end := min(start+bs, c.N, int(hi-base))
				pos = base + int64(end)
				b := &coldata.Batch{N: end - start, Vecs: make([]*coldata.Vec, len(req.Columns))}
				for i, col := range req.Columns {
					b.Vecs[i] = c.Vecs[col].Slice(start, end)
				}
				if filter != nil {
					colexecop.CheckCtx(ctx)
					s := filter.Select(b, nil)
					if len(s) == 0 {
						continue
					}
					if len(s) < b.N {
						b.Sel = s
					}
				}
				return b
			}
			return &coldata.Batch{}
		},
	}, nil
}

// DictEncode replaces low-cardinality string columns by dictionary codes into one
// dictionary per column (shared by all chunks), which makes filters, group-by
// and joins on them work on small integers.
func (t *MemTable) DictEncode() { coldata.DictEncode(t.schema, t.chunks, t.rows) }
