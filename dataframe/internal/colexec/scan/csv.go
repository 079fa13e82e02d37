package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// CSVOptions describe a delimited text file.
type CSVOptions struct {
	Delimiter byte
	Header    bool
	// NullString, when non-empty, is read as null.
	NullString string
	// JSONLines reads each line as a JSON object whose keys are the
	// columns (newline-delimited JSON): a missing key or null is NULL, a
	// nested object or array is its JSON text.
	JSONLines bool
}

// CSV is a delimited text file source (dbgen's .tbl files included: a trailing
// delimiter at the end of a line is accepted).
type CSV struct {
	path   string
	schema types.Schema
	opts   CSVOptions
	size   int64
	ident  string
}

// NewCSV checks the file and returns a source with the given schema.
func NewCSV(path string, s types.Schema, opts CSVOptions) (*CSV, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading CSV: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("reading CSV: %s is a directory", path)
	}
	if opts.Delimiter == 0 {
		opts.Delimiter = ','
	}
	budget := newHashBudget()
	st, id, err := fileIDs.identify(path, &budget)
	if err != nil {
		return nil, fmt.Errorf("reading CSV: %w", err)
	}
	// The schema and options are part of the identity: they change what is read.
	return &CSV{path: path, schema: s, opts: opts, size: st.Size(),
		ident: fmt.Sprintf("csv:%s:delimiter=%q:header=%t:null=%q:json=%t:schema=%s",
			id, opts.Delimiter, opts.Header, opts.NullString, opts.JSONLines, s)}, nil
}

// Schema implements Source.
func (c *CSV) Schema() types.Schema { return c.schema }

// Identity implements Source.
func (c *CSV) Identity() string { return c.ident }

// Describe implements Source.
func (c *CSV) Describe() string {
	if c.opts.JSONLines {
		return "json " + c.path
	}
	return "csv " + c.path
}

// Rows implements Source (an estimate from the file size).
func (c *CSV) Rows() int64 {
	w := int64(0)
	for _, f := range c.schema {
		switch f.Type.ID {
		case types.String:
			w += 20
		default:
			w += 8
		}
	}
	return c.size / max(w, 1)
}

// Open implements Source: partition p parses the lines that start in its byte range.
func (c *CSV) Open(ctx context.Context, req Request) (colexecop.Operator, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return nil, fmt.Errorf("reading CSV: %w", err)
	}
	lo := c.size * int64(req.Partition) / int64(req.Partitions)
	hi := c.size * int64(req.Partition+1) / int64(req.Partitions)
	bs := req.BatchSize
	if bs <= 0 {
		bs = coldata.DefaultBatchSize
	}
	outSchema := ProjectSchema(c.schema, req.Columns)
	var filter eval.Selector
	if req.Filter != nil {
		if filter, err = eval.CompileFilter(req.Filter, outSchema); err != nil {
			f.Close()
			return nil, err
		}
	}
	p := &csvParser{c: c, f: f, pos: lo, end: hi, first: req.Partition == 0, cols: req.Columns, bs: bs, line: 1}
	if lo > 0 {
		// Lines are owned by the partition in which they start.
		p.skipToLine = true
	}
	return &colexecop.Func{
		OnNext: func() *coldata.Batch {
			for {
				colexecop.CheckCtx(ctx)
				b := p.next()
				if b == nil {
					return &coldata.Batch{}
				}
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
		OnClose: func() error { return f.Close() },
	}, nil
}

type csvParser struct {
	c          *CSV
	f          io.ReaderAt
	pos, end   int64 // next file offset to read; lines starting before end are ours
	buf        []byte
	start      int // unread data in buf[start:]
	eof        bool
	first      bool
	skipToLine bool
	cols       []int
	bs         int
	line       int64
	headerDone bool
	lineStart  int64 // file offset of buf[start]
}

func (p *csvParser) fill() {
	if p.eof {
		return
	}
	if p.start > 0 {
		n := copy(p.buf, p.buf[p.start:])
		p.buf = p.buf[:n]
		p.lineStart += int64(p.start)
		p.start = 0
	}
	if cap(p.buf)-len(p.buf) < 1<<20 {
		nb := make([]byte, len(p.buf), max(4<<20, 2*cap(p.buf)))
		copy(nb, p.buf)
		p.buf = nb
	}
	n, err := p.f.ReadAt(p.buf[len(p.buf):cap(p.buf)], p.pos)
	if n > 0 && err == io.EOF {
		err = nil
	}
	p.buf = p.buf[:len(p.buf)+n]
	p.pos += int64(n)
	if err == io.EOF || n == 0 {
		p.eof = true
	} else if err != nil {
		colexecop.Throw(fmt.Errorf("reading %s: %w", p.c.path, err))
	}
}

// next parses up to bs lines into a batch (nil at the end of the partition).
func (p *csvParser) next() *coldata.Batch {
	if p.buf == nil {
		p.lineStart = p.pos
		p.fill()
		if p.skipToLine {
			// The line in progress at our start belongs to the previous partition,
			// unless our range starts exactly at a line start.
			prev := make([]byte, 1)
			if _, err := p.f.ReadAt(prev, p.lineStart-1); err == nil && prev[0] != '\n' {
				for {
					i := bytes.IndexByte(p.buf[p.start:], '\n')
					if i >= 0 {
						p.start += i + 1
						break
					}
					if p.eof {
						p.start = len(p.buf)
						break
					}
					p.start = len(p.buf)
					p.fill()
				}
			}
		}
	}
	if p.first && p.c.opts.Header && !p.headerDone {
		p.headerDone = true
		for {
			i := bytes.IndexByte(p.buf[p.start:], '\n')
			if i >= 0 {
				p.start += i + 1
				break
			}
			if p.eof {
				p.start = len(p.buf)
				break
			}
			p.fill()
		}
	}
	schema := p.c.schema
	builders := make([]*colBuilder, len(schema))
	want := make([]int, len(schema))
	for i := range want {
		want[i] = -1
	}
	for k, c := range p.cols {
		want[c] = k
		builders[c] = newColBuilder(schema[c], p.bs)
	}
	rows := 0
	delim := p.c.opts.Delimiter
	for rows < p.bs {
		if p.lineStart+int64(p.start) >= p.end {
			break
		}
		nl := bytes.IndexByte(p.buf[p.start:], '\n')
		if nl < 0 {
			if p.eof {
				if p.start >= len(p.buf) {
					break
				}
				nl = len(p.buf) - p.start
			} else {
				p.fill()
				continue
			}
		}
		line := p.buf[p.start : p.start+nl]
		p.start += nl + 1
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			continue
		}
		p.line++
		if p.c.opts.JSONLines {
			if err := jsonFields(line, schema, builders); err != nil {
				colexecop.Throw(fmt.Errorf("%s: the line starting at byte %d: %w", p.c.path, p.lineStart+int64(p.start)-int64(nl)-1, err))
			}
			rows++
			continue
		}
		for c := range schema {
			i := bytes.IndexByte(line, delim)
			var field []byte
			if i < 0 {
				if c != len(schema)-1 {
					colexecop.Throw(fmt.Errorf("%s: line starting at byte %d has %d fields, want %d", p.c.path, p.lineStart+int64(p.start)-int64(nl)-1, c+1, len(schema)))
				}
				field, line = line, nil
			} else {
				field, line = line[:i], line[i+1:]
			}
			if b := builders[c]; b != nil {
				if err := b.add(field, p.c.opts.NullString); err != nil {
					colexecop.Throw(fmt.Errorf("%s: column %s: %w", p.c.path, schema[c].Name, err))
				}
			}
		}
		rows++
	}
	if rows == 0 {
		return nil
	}
	b := &coldata.Batch{N: rows, Vecs: make([]*coldata.Vec, len(p.cols))}
	for k, c := range p.cols {
		b.Vecs[k] = builders[c].finish()
	}
	return b
}

type colBuilder struct {
	v       *coldata.Vec
	hasNull bool
	n       int
}

func newColBuilder(f types.Field, n int) *colBuilder {
	v := &coldata.Vec{Type: f.Type}
	switch f.Type.ID {
	case types.Bool:
		v.Bool = make([]bool, 0, n)
	case types.Int32, types.Date:
		v.I32 = make([]int32, 0, n)
	case types.Int64, types.Decimal:
		v.I64 = make([]int64, 0, n)
	case types.Float64:
		v.F64 = make([]float64, 0, n)
	case types.String:
		v.Str.Offs = make([]int32, 1, n+1)
		v.Str.Data = make([]byte, 0, n*16)
	}
	return &colBuilder{v: v}
}

func (b *colBuilder) add(f []byte, nullStr string) error {
	v := b.v
	// (An empty field of a non-text column is NULL too.)
	if (nullStr != "" && string(f) == nullStr) || (len(f) == 0 && v.Type.ID != types.String) {
		b.addNull()
		return nil
	}
	if b.hasNull {
		v.Nulls = append(v.Nulls, false)
	}
	b.n++
	switch v.Type.ID {
	case types.Int32:
		x, ok := parseInt(f)
		if !ok || x < math.MinInt32 || x > math.MaxInt32 {
			return fmt.Errorf("invalid int32 %q", f)
		}
		v.I32 = append(v.I32, int32(x))
	case types.Int64:
		x, ok := parseInt(f)
		if !ok {
			return fmt.Errorf("invalid int64 %q", f)
		}
		v.I64 = append(v.I64, x)
	case types.Decimal:
		x, ok := parseDecimal(f, v.Type.Scale)
		if !ok {
			return fmt.Errorf("invalid decimal %q", f)
		}
		v.I64 = append(v.I64, x)
	case types.Date:
		d, ok := parseDate(f)
		if !ok {
			return fmt.Errorf("invalid date %q (want YYYY-MM-DD)", f)
		}
		v.I32 = append(v.I32, d)
	case types.Float64:
		x, err := strconv.ParseFloat(string(f), 64)
		if err != nil {
			return fmt.Errorf("invalid float %q", f)
		}
		v.F64 = append(v.F64, x)
	case types.Bool:
		x, err := strconv.ParseBool(string(f))
		if err != nil {
			return fmt.Errorf("invalid bool %q", f)
		}
		v.Bool = append(v.Bool, x)
	case types.String:
		v.Str.Data = append(v.Str.Data, f...)
		v.Str.Offs = append(v.Str.Offs, int32(len(v.Str.Data)))
	}
	return nil
}

func (b *colBuilder) finish() *coldata.Vec { return b.v }

// addNull appends a NULL.
func (b *colBuilder) addNull() {
	v := b.v
	if !b.hasNull {
		v.Nulls = make([]bool, b.n, cap(v.I64)+cap(v.I32)+cap(v.F64)+cap(v.Bool)+len(v.Str.Offs))
		b.hasNull = true
	}
	v.Nulls = append(v.Nulls, true)
	switch v.Type.ID {
	case types.Bool:
		v.Bool = append(v.Bool, false)
	case types.Int32, types.Date:
		v.I32 = append(v.I32, 0)
	case types.Int64, types.Decimal:
		v.I64 = append(v.I64, 0)
	case types.Float64:
		v.F64 = append(v.F64, 0)
	case types.String:
		v.Str.Offs = append(v.Str.Offs, int32(len(v.Str.Data)))
	}
	b.n++
}

// jsonFields adds the values of one JSON object to the builders of the
// columns read (nil builders are columns not read).
func jsonFields(line []byte, schema types.Schema, builders []*colBuilder) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	for c, f := range schema {
		b := builders[c]
		if b == nil {
			continue
		}
		raw, ok := obj[f.Name]
		raw = bytes.TrimSpace(raw)
		switch {
		case !ok || string(raw) == "null":
			b.addNull()
			continue
		case raw[0] == '"':
			var str string
			if err := json.Unmarshal(raw, &str); err != nil {
				return fmt.Errorf("key %q: %w", f.Name, err)
			}
			raw = []byte(str)
			if len(raw) == 0 && f.Type.ID != types.String {
				return fmt.Errorf("key %q: an empty string is not a %s", f.Name, f.Type)
			}
		}
		if err := b.add(raw, ""); err != nil {
			return fmt.Errorf("key %q: %w", f.Name, err)
		}
	}
	return nil
}

func parseInt(f []byte) (int64, bool) {
	if len(f) == 0 {
		return 0, false
	}
	neg := false
	if f[0] == '-' {
		neg = true
		f = f[1:]
		if len(f) == 0 {
			return 0, false
		}
	}
	var x int64
	for _, c := range f {
		if c < '0' || c > '9' {
			return 0, false
		}
		x = x*10 + int64(c-'0')
	}
	if neg {
		x = -x
	}
	return x, true
}

func parseDecimal(f []byte, scale int32) (int64, bool) {
	if len(f) == 0 {
		return 0, false
	}
	neg := false
	if f[0] == '-' {
		neg = true
		f = f[1:]
	}
	var x int64
	frac := int32(-1)
	for _, c := range f {
		if c == '.' {
			if frac >= 0 {
				return 0, false
			}
			frac = 0
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		if frac >= 0 {
			if frac >= scale {
				continue // more digits than the scale: truncated
			}
			frac++
		}
		x = x*10 + int64(c-'0')
	}
	if frac < 0 {
		frac = 0
	}
	for ; frac < scale; frac++ {
		x *= 10
	}
	if neg {
		x = -x
	}
	return x, true
}

func parseDate(f []byte) (int32, bool) {
	if len(f) != 10 || f[4] != '-' || f[7] != '-' {
		return 0, false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, m, d := num(f[:4]), num(f[5:7]), num(f[8:])
	if y < 0 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	return expr.DaysFromCivil(y, m, d), true
}

// seqReaderAt adapts a stream to the parser, which reads it in order.
type seqReaderAt struct {
	r   io.Reader
	off int64
}

func (s *seqReaderAt) ReadAt(b []byte, off int64) (int, error) {
	if off != s.off {
		return 0, fmt.Errorf("stream read at %d, expected %d", off, s.off)
	}
	n, err := io.ReadAtLeast(s.r, b, 1)
	s.off += int64(n)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// CSVStream is a one-shot delimited text source over a stream: it can be read
// once, as a single partition.
type CSVStream struct {
	c    *CSV
	r    io.Reader
	used bool
}

// NewCSVStream wraps r as a source with schema s.
func NewCSVStream(r io.Reader, s types.Schema, opts CSVOptions) *CSVStream {
	if opts.Delimiter == 0 {
		opts.Delimiter = ','
	}
	return &CSVStream{c: &CSV{path: "stream", schema: s, opts: opts, size: -1, ident: "stream:" + NewID()}, r: r}
}

// Schema implements Source.
func (c *CSVStream) Schema() types.Schema { return c.c.schema }

// Identity implements Source (a stream is never equal to another).
func (c *CSVStream) Identity() string { return c.c.ident }

// Describe implements Source.
func (c *CSVStream) Describe() string { return "csv stream" }

// Rows implements Source.
func (c *CSVStream) Rows() int64 { return -1 }

// Open implements Source: partition 0 reads the stream, others are empty.
func (c *CSVStream) Open(ctx context.Context, req Request) (colexecop.Operator, error) {
	if req.Partition != 0 {
		return &colexecop.Batches{}, nil
	}
	if c.used {
		return nil, fmt.Errorf("a CSV stream can be read only once")
	}
	c.used = true
	bs := req.BatchSize
	if bs <= 0 {
		bs = coldata.DefaultBatchSize
	}
	var filter eval.Selector
	if req.Filter != nil {
		var err error
		if filter, err = eval.CompileFilter(req.Filter, ProjectSchema(c.c.schema, req.Columns)); err != nil {
			return nil, err
		}
	}
	p := &csvParser{c: c.c, f: &seqReaderAt{r: c.r}, end: math.MaxInt64, first: true, cols: req.Columns, bs: bs}
	return &colexecop.Func{
		OnNext: func() *coldata.Batch {
			for {
				colexecop.CheckCtx(ctx)
				b := p.next()
				if b == nil {
					return &coldata.Batch{}
				}
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
	}, nil
}
