package scan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Parquet is a source over one or more Parquet files with the same schema.
type Parquet struct {
	path   string // as given: a file, a directory or a glob
	files  []parquetFile
	schema types.Schema
	rows   int64
	ident  string
}

type parquetFile struct {
	path      string
	rowGroups []rowGroupStats
}

type rowGroupStats struct {
	rows int64
	// per schema column: min/max when known
	min, max []expr.Value
}

// NewParquet opens path (a file, a directory of *.parquet files, or a glob)
// and reads the footers.
func NewParquet(path string) (*Parquet, error) {
	paths, err := expand(path)
	if err != nil {
		return nil, err
	}
	p := &Parquet{path: path}
	var ident strings.Builder
	ident.WriteString("parquet")
	budget := newHashBudget()
	for i, fp := range paths {
		_, id, err := fileIDs.identify(fp, &budget)
		if err != nil {
			return nil, fmt.Errorf("reading Parquet: %w", err)
		}
		ident.WriteString("|" + id)
		rdr, err := file.OpenParquetFile(fp, false)
		if err != nil {
			return nil, fmt.Errorf("reading Parquet file %s: %w", fp, err)
		}
		fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			rdr.Close()
			return nil, fmt.Errorf("reading Parquet file %s: %w", fp, err)
		}
		as, err := fr.Schema()
		if err != nil {
			rdr.Close()
			return nil, fmt.Errorf("reading Parquet schema of %s: %w", fp, err)
		}
		s := make(types.Schema, as.NumFields())
		for k, f := range as.Fields() {
			t, err := types.FromArrow(f.Type)
			if err != nil {
				rdr.Close()
				return nil, fmt.Errorf("Parquet file %s, column %q: %w", fp, f.Name, err)
			}
			s[k] = types.Field{Name: f.Name, Type: t, Nullable: f.Nullable}
		}
		if i == 0 {
			p.schema = s
		} else if s.String() != p.schema.String() {
			rdr.Close()
			return nil, fmt.Errorf("Parquet file %s has schema %s, but %s has %s", fp, s, paths[0], p.schema)
		}
		pf := parquetFile{path: fp}
		md := rdr.MetaData()
		for g := 0; g < md.NumRowGroups(); g++ {
			rg := md.RowGroup(g)
			st := rowGroupStats{rows: rg.NumRows(), min: make([]expr.Value, len(s)), max: make([]expr.Value, len(s))}
			for c := range s {
				if c >= rg.NumColumns() {
					break
				}
				cc, err := rg.ColumnChunk(c)
				if err != nil {
					continue
				}
				st.min[c], st.max[c] = chunkStats(cc, s[c].Type)
			}
			pf.rowGroups = append(pf.rowGroups, st)
			p.rows += rg.NumRows()
		}
		rdr.Close()
		p.files = append(p.files, pf)
	}
	p.ident = ident.String()
	return p, nil
}

func expand(path string) ([]string, error) {
	if strings.ContainsAny(path, "*?[") {
		m, err := filepath.Glob(path)
		if err != nil {
			return nil, fmt.Errorf("reading Parquet: bad pattern %q: %w", path, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("reading Parquet: no files match %q", path)
		}
		sort.Strings(m)
		return m, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading Parquet: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	m, _ := filepath.Glob(filepath.Join(path, "*.parquet"))
	if len(m) == 0 {
		return nil, fmt.Errorf("reading Parquet: directory %s holds no *.parquet files", path)
	}
	sort.Strings(m)
	return m, nil
}

func chunkStats(cc *metadata.ColumnChunkMetaData, t types.Type) (lo, hi expr.Value) {
	lo.T, hi.T = t, t
	lo.Null, hi.Null = true, true
	ok, err := cc.StatsSet()
	if err != nil || !ok {
		return
	}
	st, err := cc.Statistics()
	if err != nil || st == nil || !st.HasMinMax() {
		return
	}
	switch s := st.(type) {
	case *metadata.Int32Statistics:
		lo.I, hi.I = int64(s.Min()), int64(s.Max())
	case *metadata.Int64Statistics:
		lo.I, hi.I = s.Min(), s.Max()
	case *metadata.ByteArrayStatistics:
		if t.ID != types.String {
			return
		}
		lo.S, hi.S = string(s.Min()), string(s.Max())
	default:
		return
	}
	if t.ID == types.Float64 || t.ID == types.Bool {
		return
	}
	lo.Null, hi.Null = false, false
	return
}

// Schema implements Source.
func (p *Parquet) Schema() types.Schema { return p.schema }

// Identity implements Source.
func (p *Parquet) Identity() string { return p.ident }

// Describe implements Source.
func (p *Parquet) Describe() string {
	if len(p.files) == 1 {
		return "parquet " + p.files[0].path
	}
	return fmt.Sprintf("parquet %s (+%d files)", p.files[0].path, len(p.files)-1)
}

// Rows implements Source.
func (p *Parquet) Rows() int64 { return p.rows }

// DistinctCount implements Statistician from the footers' min/max: a
// column of integers (dates and decimals too) whose values span at most
// half as many numbers as the files have rows holds at most that many
// distinct values, and likely about as many (c_nationkey's 0..24,
// o_orderdate's 2,406 days). A wider span tells little: a key, or sparse
// values (l_orderkey spans 6.0M numbers in 6.0M rows and holds 1.5M): -1,
// as for other types and columns without statistics in every row group.
func (p *Parquet) DistinctCount(col int) int64 {
	if col < 0 || col >= len(p.schema) {
		return -1
	}
	if p.schema[col].Type.ID == types.Bool {
		return 2
	}
	lo, hi, ok := p.Range(col)
	if !ok {
		return -1
	}
	if span := uint64(hi-lo) + 1; span <= uint64(p.rows)/2 {
		return int64(span)
	}
	return -1
}

// Range implements Ranger from the footers' min/max of every row group.
func (p *Parquet) Range(col int) (lo, hi int64, ok bool) {
	if col < 0 || col >= len(p.schema) {
		return 0, 0, false
	}
	switch p.schema[col].Type.ID {
	case types.Int32, types.Int64, types.Date, types.Decimal:
	default:
		return 0, 0, false
	}
	for _, f := range p.files {
		for _, g := range f.rowGroups {
			if g.rows == 0 {
				continue
			}
			if g.min[col].Null || g.max[col].Null {
				return 0, 0, false
			}
			if !ok || g.min[col].I < lo {
				lo = g.min[col].I
			}
			if !ok || g.max[col].I > hi {
				hi = g.max[col].I
			}
			ok = true
		}
	}
	return lo, hi, ok
}

type unit struct {
	file, group int
	rows        int64
}

// Units lists the row groups that survive pruning by filter (over the full schema).
func (p *Parquet) Units(filter *expr.Expr) (kept []unit, total int) {
	conj := expr.Conjuncts(filter)
	for fi, f := range p.files {
		for g, st := range f.rowGroups {
			total++
			if pruned(conj, p.schema, st) {
				continue
			}
			kept = append(kept, unit{fi, g, st.rows})
		}
	}
	return kept, total
}

// pruned reports whether some conjunct is false for every row of the group.
func pruned(conj []*expr.Expr, s types.Schema, st rowGroupStats) bool {
	for _, c := range conj {
		switch {
		case c.Op.IsComparison():
			col, lit := c.Args[0], c.Args[1]
			op := c.Op
			if col.Op == expr.OpLit && lit.Op == expr.OpCol {
				col, lit = lit, col
				op = mirror(op)
			}
			if col.Op != expr.OpCol || lit.Op != expr.OpLit || lit.Val.Null {
				continue
			}
			i := s.Index(col.Name)
			if i < 0 || st.min[i].Null || s[i].Type != lit.Val.T {
				continue
			}
			lo, hi := compareValue(st.min[i], lit.Val), compareValue(st.max[i], lit.Val)
			switch op {
			case expr.OpEq:
				if lo > 0 || hi < 0 {
					return true
				}
			case expr.OpLt:
				if lo >= 0 {
					return true
				}
			case expr.OpLe:
				if lo > 0 {
					return true
				}
			case expr.OpGt:
				if hi <= 0 {
					return true
				}
			case expr.OpGe:
				if hi < 0 {
					return true
				}
			}
		case c.Op == expr.OpIn && c.Args[0].Op == expr.OpCol:
			i := s.Index(c.Args[0].Name)
			if i < 0 || st.min[i].Null {
				continue
			}
			any := false
			for _, v := range c.List {
				if v.Null || v.T != s[i].Type {
					any = true
					break
				}
				if compareValue(st.min[i], v) <= 0 && compareValue(st.max[i], v) >= 0 {
					any = true
					break
				}
			}
			if !any {
				return true
			}
		}
	}
	return false
}

func mirror(op expr.Op) expr.Op {
	switch op {
	case expr.OpLt:
		return expr.OpGt
	case expr.OpLe:
		return expr.OpGe
	case expr.OpGt:
		return expr.OpLt
	case expr.OpGe:
		return expr.OpLe
	}
	return op
}

func compareValue(a, b expr.Value) int {
	if a.T.ID == types.String {
		return bytes.Compare([]byte(a.S), []byte(b.S))
	}
	switch {
	case a.I < b.I:
		return -1
	case a.I > b.I:
		return 1
	}
	return 0
}

// Open implements Source: the surviving row groups are split between partitions
// in contiguous runs.
func (p *Parquet) Open(ctx context.Context, req Request) (colexecop.Operator, error) {
	outSchema := ProjectSchema(p.schema, req.Columns)
	// A query may need no column at all (count(*)): read the first one for
	// the row counts and drop it.
	readCols, readSchema := req.Columns, outSchema
	if len(readCols) == 0 {
		readCols = []int{0}
		readSchema = ProjectSchema(p.schema, readCols)
	}
	var full *expr.Expr
	if req.Filter != nil {
		// Re-express the filter over the full schema for pruning (names are the same).
		full = req.Filter
	}
	units, _ := p.Units(full)
	lo := len(units) * req.Partition / req.Partitions
	hi := len(units) * (req.Partition + 1) / req.Partitions
	mine := units[lo:hi]
	bs := req.BatchSize
	if bs <= 0 {
		bs = coldata.DefaultBatchSize
	}
	var filter eval.Selector
	if req.Filter != nil {
		var err error
		if filter, err = eval.CompileFilter(req.Filter, outSchema); err != nil {
			return nil, err
		}
	}
	var (
		cur     pqarrow.RecordReader
		curFile *file.Reader
		rec     arrow.RecordBatch
		batch   *coldata.Batch
		off     int
		ui      int
	)
	closeCur := func() {
		if rec != nil {
			rec.Release()
			rec = nil
		}
		if cur != nil {
			cur.Release()
			cur = nil
		}
		if curFile != nil {
			curFile.Close()
			curFile = nil
		}
	}
	openNext := func() bool {
		closeCur()
		if ui >= len(mine) {
			return false
		}
		// Group consecutive units of the same file into one reader.
		fi := mine[ui].file
		var groups []int
		for ui < len(mine) && mine[ui].file == fi {
			groups = append(groups, mine[ui].group)
			ui++
		}
		path := p.files[fi].path
		rdr, err := file.OpenParquetFile(path, false)
		if err != nil {
			colexecop.Throw(fmt.Errorf("reading Parquet file %s: %w", path, err))
		}
		curFile = rdr
		fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: int64(max(bs, 64*1024))}, memory.DefaultAllocator)
		if err != nil {
			colexecop.Throw(fmt.Errorf("reading Parquet file %s: %w", path, err))
		}
		rr, err := fr.GetRecordReader(ctx, readCols, groups)
		if err != nil {
			colexecop.Throw(fmt.Errorf("reading Parquet file %s: %w", path, err))
		}
		cur = rr
		return true
	}
	return &colexecop.Func{
		OnNext: func() *coldata.Batch {
			for {
				colexecop.CheckCtx(ctx)
				if batch == nil || off >= batch.N {
					if rec != nil {
						rec.Release()
						rec = nil
					}
					if cur == nil || !cur.Next() {
						if cur != nil && cur.Err() != nil {
							colexecop.Throw(fmt.Errorf("reading Parquet: %w", cur.Err()))
						}
						if !openNext() {
							return &coldata.Batch{}
						}
						continue
					}
					rec = cur.RecordBatch()
					rec.Retain()
					b, err := coldata.FromRecord(readSchema, rec)
					if err != nil {
						colexecop.Throw(fmt.Errorf("reading Parquet: %w", err))
					}
					if len(req.Columns) == 0 {
						b.Vecs = nil
					}
					batch, off = b, 0
				}
				end := min(off+bs, batch.N)
				b := &coldata.Batch{N: end - off, Vecs: make([]*coldata.Vec, len(batch.Vecs))}
				for i, v := range batch.Vecs {
					b.Vecs[i] = v.Slice(off, end)
				}
				off = end
				if filter != nil {
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
		},
		OnClose: func() error { closeCur(); return nil },
	}, nil
}
