package dataframe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/sql/binder"
	"github.com/shoal-dev/shoal/dataframe/internal/sql/parser"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// SQLError is an error in a SQL statement's text or meaning, at a line and
// column of it.
type SQLError struct {
	Line, Column int
	Msg          string
	// Excerpt shows the statement's line with a caret under the column.
	Excerpt string
	err     error
}

func (e *SQLError) Error() string {
	return fmt.Sprintf("%s (line %d, column %d)", e.Msg, e.Line, e.Column)
}

// Unwrap returns the underlying error (a ColumnNotFoundError, a type mismatch...).
func (e *SQLError) Unwrap() error { return e.err }

func sqlError(src string, err error) error {
	var pe *parser.Error
	if errors.As(err, &pe) {
		return &SQLError{Line: pe.Pos.Line, Column: pe.Pos.Col, Msg: "syntax error: " + pe.Msg, Excerpt: parser.Excerpt(src, pe.Pos), err: err}
	}
	var be *binder.Error
	if errors.As(err, &be) {
		return &SQLError{Line: be.Pos.Line, Column: be.Pos.Col, Msg: be.Msg, Excerpt: parser.Excerpt(src, be.Pos), err: be.Err}
	}
	return err
}

// Catalog names the tables and views SQL statements read and write. Tables
// are frames registered by name (files, in-memory data) or made by CREATE
// TABLE; every method is safe for concurrent use.
type Catalog struct {
	mu     sync.Mutex
	tables map[string]*catalogTable
	views  map[string]*catalogView
	// indexes names the indexes CREATE INDEX made (index -> table): no
	// index is built, but their names live as PostgreSQL's do (a second
	// CREATE, a DROP of one that is not there, fail; DROP TABLE drops them).
	indexes map[string]string
	one     plan.Node
}

type catalogTable struct {
	df *DataFrame
	// mem is set for tables made by SQL statements (they can change).
	mem *memData
}

type memData struct {
	schema  types.Schema
	batches []*coldata.Batch
}

type catalogView struct {
	q    *parser.Query
	cols []string
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	c := &Catalog{tables: map[string]*catalogTable{}, views: map[string]*catalogView{}, indexes: map[string]string{}}
	// A table of one row and no useful column: SELECT without FROM.
	v := coldata.NewVec(types.BoolType, 1)
	v.Bool[0] = true
	one := &coldata.Batch{N: 1, Vecs: []*coldata.Vec{v}}
	c.one = sourceFrame(scan.NewMemTable(types.Schema{{Name: "__one", Type: types.BoolType}}, []*coldata.Batch{one})).node
	return c
}

// Register names a frame as a table (replacing a table of that name).
func (c *Catalog) Register(name string, df *DataFrame) error {
	if df.err != nil {
		return fmt.Errorf("registering table %s: %w", name, df.err)
	}
	name = strings.ToLower(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tables[name] = &catalogTable{df: df}
	return nil
}

// RegisterDir registers every Parquet file of dir (name.parquet), every
// directory of Parquet files (name/) and every CSV file with a header line
// (name.csv, types inferred: ReadCSVInfer) as a table called name.
func (c *Catalog) RegisterDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading tables of %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		name := strings.TrimSuffix(e.Name(), ".parquet")
		df := (*DataFrame)(nil)
		switch {
		case e.IsDir():
			if m, _ := filepath.Glob(filepath.Join(path, "*.parquet")); len(m) == 0 {
				continue
			}
			df = ReadParquet(path)
		case strings.HasSuffix(e.Name(), ".parquet"):
			df = ReadParquet(path)
		case strings.HasSuffix(e.Name(), ".csv"):
			name = strings.TrimSuffix(e.Name(), ".csv")
			df = ReadCSVInfer(path)
		default:
			continue
		}
		if err := c.Register(name, df); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// Load reads every registered table that is not in memory into memory
// (Materialize), which also gathers the column statistics the join order
// is chosen with.
func (c *Catalog) Load(ctx context.Context, opts ...CollectOption) error {
	c.mu.Lock()
	names := make([]string, 0, len(c.tables))
	for n, t := range c.tables {
		if t.mem == nil {
			names = append(names, n)
		}
	}
	c.mu.Unlock()
	for _, n := range names {
		c.mu.Lock()
		t := c.tables[n]
		c.mu.Unlock()
		if t == nil || t.mem != nil {
			continue
		}
		m, err := t.df.Materialize(ctx, opts...)
		if err != nil {
			return fmt.Errorf("loading table %s: %w", n, err)
		}
		if err := c.Register(n, m); err != nil {
			return err
		}
	}
	return nil
}

// Tables lists the tables and views by name.
func (c *Catalog) Tables() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for n := range c.tables {
		out = append(out, n)
	}
	for n := range c.views {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// binderCatalog is the catalog as the binder sees it (under the lock);
// ctx and opts run what the binder must materialize (WITH RECURSIVE).
type binderCatalog struct {
	c    *Catalog
	ctx  context.Context
	opts []CollectOption
}

// Materialize runs node and returns its rows as an in-memory relation.
func (b binderCatalog) Materialize(node plan.Node) (plan.Node, int64, error) {
	res, err := newFrame(node).Collect(b.ctx, b.opts...)
	if err != nil {
		return nil, 0, err
	}
	return sourceFrame(scan.NewMemTable(res.schema, res.batches)).node, int64(res.rows), nil
}

func (b binderCatalog) Table(name string) (plan.Node, bool) {
	t, ok := b.c.tables[name]
	if !ok {
		return nil, false
	}
	return t.df.node, true
}

func (b binderCatalog) View(name string) (*parser.Query, []string, bool) {
	v, ok := b.c.views[name]
	if !ok {
		return nil, nil, false
	}
	return v.q, v.cols, true
}

func (b binderCatalog) TableFunc(name string, args []string) (plan.Node, error) {
	switch name {
	case "read_parquet":
		if len(args) != 1 {
			return nil, fmt.Errorf("read_parquet takes one path (a file, a directory or a glob)")
		}
		df := ReadParquet(args[0])
		if df.err != nil {
			return nil, df.err
		}
		return df.node, nil
	case "read_csv", "read_csv_auto":
		if len(args) != 1 {
			return nil, fmt.Errorf("%s takes one path (a CSV file with a header line)", name)
		}
		df := ReadCSVInfer(args[0])
		if df.err != nil {
			return nil, df.err
		}
		return df.node, nil
	case "read_json", "read_json_auto", "read_ndjson":
		if len(args) != 1 {
			return nil, fmt.Errorf("%s takes one path (newline-delimited JSON: a file, a directory or a glob)", name)
		}
		df := ReadJSON(args[0], nil)
		if df.err != nil {
			return nil, df.err
		}
		return df.node, nil
	}
	return nil, fmt.Errorf("no table function %s (read_parquet, read_csv and read_json are)", name)
}

func (b binderCatalog) Names() []string {
	var out []string
	for n := range b.c.tables {
		out = append(out, n)
	}
	for n := range b.c.views {
		out = append(out, n)
	}
	return out
}

func (b binderCatalog) One() plan.Node { return b.c.one }

// SQL returns the frame of a query (SELECT, VALUES or WITH ...).
func (c *Catalog) SQL(ctx context.Context, query string) (*DataFrame, error) {
	st, err := parser.Parse(query)
	if err != nil {
		return nil, sqlError(query, err)
	}
	q, ok := st.(*parser.Query)
	if !ok {
		return nil, fmt.Errorf("SQL takes a query; run %T statements with Exec", st)
	}
	return c.bind(ctx, query, q, nil)
}

func (c *Catalog) bind(ctx context.Context, src string, q *parser.Query, opts []CollectOption) (*DataFrame, error) {
	c.mu.Lock()
	out, err := binder.Bind(binderCatalog{c, ctx, opts}, q)
	c.mu.Unlock()
	if err != nil {
		return nil, sqlError(src, err)
	}
	return newFrame(out.Node), nil
}

// Exec runs the statements of a script in order and returns the result of
// the last one that returns rows (a query, EXPLAIN), or nil.
func (c *Catalog) Exec(ctx context.Context, script string, opts ...CollectOption) (*Result, error) {
	sts, err := parser.ParseScript(script)
	if err != nil {
		return nil, sqlError(script, err)
	}
	var last *Result
	for _, st := range sts {
		res, err := c.exec(ctx, script, st, opts)
		if err != nil {
			return nil, err
		}
		if res != nil {
			last = res
		}
	}
	return last, nil
}

// ExecStatement runs one statement: the rows it returns (nil for none) and
// the number of rows it changed (INSERT, UPDATE, DELETE).
func (c *Catalog) ExecStatement(ctx context.Context, stmt string, opts ...CollectOption) (res *Result, changed int64, err error) {
	st, err := parser.Parse(stmt)
	if err != nil {
		return nil, 0, sqlError(stmt, err)
	}
	res, err = c.exec(ctx, stmt, st, opts)
	if err != nil {
		return nil, 0, err
	}
	if ch, ok := res.changed(); ok {
		return nil, ch, nil
	}
	return res, 0, nil
}

// QueryValues runs a query (or any statement returning rows) and returns
// its column names and rows as Go values: nil for NULL, bool, int64,
// float64, string, and for exact decimals and dates a fmt.Stringer of
// their text.
func (c *Catalog) QueryValues(ctx context.Context, query string, opts ...CollectOption) ([]string, [][]any, error) {
	res, _, err := c.ExecStatement(ctx, query, opts...)
	if err != nil {
		return nil, nil, err
	}
	if res == nil {
		return nil, nil, fmt.Errorf("the statement returns no rows")
	}
	rows := make([][]any, res.NumRows())
	for i := range rows {
		vals := res.Row(i)
		row := make([]any, len(vals))
		for j, v := range vals {
			row[j] = goValue(v)
		}
		rows[i] = row
	}
	return res.Schema().Names(), rows, nil
}

// Text is a value given by its text (an exact decimal, a date).
type Text string

func (t Text) String() string { return string(t) }

func goValue(v Value) any {
	if v.Null {
		return nil
	}
	switch v.T.ID {
	case types.Int32, types.Int64:
		return v.I
	case types.Float64:
		return v.F
	case types.Bool:
		return v.B
	case types.String:
		return v.S
	}
	return Text(FormatValue(v))
}

// changed reports a DML statement's count (kept in a one-cell result).
func (r *Result) changed() (int64, bool) {
	if r == nil || !r.dml {
		return 0, false
	}
	return r.Value(0, 0).I, true
}

func countResult(n int64) *Result {
	v := coldata.NewVec(types.Int64Type, 1)
	v.I64[0] = n
	b := &coldata.Batch{N: 1, Vecs: []*coldata.Vec{v}}
	return &Result{schema: types.Schema{{Name: "count", Type: types.Int64Type}}, batches: []*coldata.Batch{b}, rows: 1, dml: true}
}

func (c *Catalog) exec(ctx context.Context, src string, st parser.Statement, opts []CollectOption) (*Result, error) {
	switch x := st.(type) {
	case *parser.Query:
		df, err := c.bind(ctx, src, x, opts)
		if err != nil {
			return nil, err
		}
		return df.Collect(ctx, opts...)
	case *parser.Explain:
		q, ok := x.Statement.(*parser.Query)
		if !ok {
			return nil, fmt.Errorf("EXPLAIN takes a query")
		}
		df, err := c.bind(ctx, src, q, opts)
		if err != nil {
			return nil, err
		}
		var text string
		if x.Analyze {
			text, _, err = df.ExplainAnalyze(ctx, opts...)
		} else {
			text, err = df.Explain(opts...)
		}
		if err != nil {
			return nil, err
		}
		return textResult("plan", strings.Split(strings.TrimRight(text, "\n"), "\n")), nil
	case *parser.CreateTable:
		return nil, c.createTable(x)
	case *parser.CreateTableAs:
		df, err := c.bind(ctx, src, x.Query, opts)
		if err != nil {
			return nil, err
		}
		res, err := df.Collect(ctx, opts...)
		if err != nil {
			return nil, err
		}
		schema := slices.Clone(res.schema)
		for i, n := range x.Columns {
			if i < len(schema) {
				schema[i].Name = n
			}
		}
		return nil, c.putMem(x.Name.Name, x.IfNotExists, &memData{schema: schema, batches: res.batches})
	case *parser.CreateView:
		c.mu.Lock()
		defer c.mu.Unlock()
		name := x.Name.Name
		if _, ok := c.tables[name]; ok {
			return nil, fmt.Errorf("%q is a table", name)
		}
		if _, ok := c.views[name]; ok && !x.OrReplace {
			return nil, fmt.Errorf("view %q already exists (CREATE OR REPLACE VIEW replaces it)", name)
		}
		// Check it binds now.
		if _, err := binder.Bind(binderCatalog{c, ctx, opts}, x.Query); err != nil {
			return nil, sqlError(src, err)
		}
		c.views[name] = &catalogView{q: x.Query, cols: x.Columns}
		return nil, nil
	case *parser.Drop:
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, n := range x.Names {
			_, isTable := c.tables[n.Name]
			_, isView := c.views[n.Name]
			switch {
			case x.Object == parser.ViewObject && isView:
				delete(c.views, n.Name)
			case x.Object == parser.TableObject && isTable:
				delete(c.tables, n.Name)
				maps.DeleteFunc(c.indexes, func(_, table string) bool { return table == n.Name })
			case x.Object == parser.IndexObject && c.indexes[n.Name] != "":
				delete(c.indexes, n.Name)
			case x.IfExists:
			default:
				return nil, fmt.Errorf("%s %q does not exist", map[parser.ObjectKind]string{parser.TableObject: "table",
					parser.ViewObject: "view", parser.IndexObject: "index"}[x.Object], n.Name)
			}
		}
		return nil, nil
	case *parser.CreateIndex:
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.tables[x.Table.Name]; !ok {
			return nil, fmt.Errorf("table %q does not exist (CREATE INDEX names a table)", x.Table.Name)
		}
		if x.Name == "" {
			return nil, nil
		}
		if c.indexes[x.Name] != "" {
			if x.IfNotExists {
				return nil, nil
			}
			return nil, fmt.Errorf("index %q already exists", x.Name)
		}
		c.indexes[x.Name] = x.Table.Name
		return nil, nil
	case *parser.Insert:
		return c.insert(ctx, src, x, opts)
	case *parser.Delete:
		return c.rewrite(ctx, src, x.Table.Name, x.Alias, nil, x.Where, opts)
	case *parser.Update:
		return c.rewrite(ctx, src, x.Table.Name, x.Alias, x.Set, x.Where, opts)
	case *parser.Set, *parser.Transaction:
		return nil, nil // nothing to do: no settings or transactions
	}
	return nil, fmt.Errorf("unsupported statement %T", st)
}

func textResult(name string, lines []string) *Result {
	s := types.Schema{{Name: name, Type: types.StringType}}
	v := &coldata.Vec{Type: types.StringType}
	for _, l := range lines {
		v.Str.AppendString(l)
	}
	b := &coldata.Batch{N: len(lines), Vecs: []*coldata.Vec{v}}
	return &Result{schema: s, batches: []*coldata.Batch{b}, rows: len(lines)}
}

func (c *Catalog) createTable(x *parser.CreateTable) error {
	var s types.Schema
	for _, col := range x.Columns {
		t, err := binder.TypeOf(&col.Type)
		if err != nil {
			return err
		}
		s = append(s, types.Field{Name: col.Name, Type: t, Nullable: !col.NotNull && !col.PrimaryKey})
	}
	if err := checkSchema(s); err != nil {
		return fmt.Errorf("CREATE TABLE %s: %w", x.Name.Name, err)
	}
	return c.putMem(x.Name.Name, x.IfNotExists, &memData{schema: s})
}

func (c *Catalog) putMem(name string, ifNotExists bool, m *memData) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.tables[name]; ok {
		if ifNotExists {
			return nil
		}
		return fmt.Errorf("table %q already exists", name)
	}
	if _, ok := c.views[name]; ok {
		return fmt.Errorf("%q is a view", name)
	}
	c.tables[name] = memTable(m)
	return nil
}

func memTable(m *memData) *catalogTable {
	return &catalogTable{df: sourceFrame(scan.NewMemTable(m.schema, m.batches)), mem: m}
}

// insert appends the rows of a query (or VALUES) to an in-memory table.
func (c *Catalog) insert(ctx context.Context, src string, x *parser.Insert, opts []CollectOption) (*Result, error) {
	c.mu.Lock()
	t, ok := c.tables[x.Table.Name]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("table %q does not exist", x.Table.Name)
	}
	if t.mem == nil {
		return nil, fmt.Errorf("table %q is read-only (it reads files or a frame); INSERT into a table made by CREATE TABLE", x.Table.Name)
	}
	df, err := c.bind(ctx, src, x.Query, opts)
	if err != nil {
		return nil, err
	}
	s := t.mem.schema
	in := df.node.Schema()
	target := make([]int, len(s)) // input column of each table column, -1: NULL
	for i := range target {
		target[i] = -1
	}
	if x.Columns == nil {
		if len(in) > len(s) {
			return nil, fmt.Errorf("INSERT has more expressions (%d) than table %s has columns (%d)", len(in), x.Table.Name, len(s))
		}
		for i := range in {
			target[i] = i
		}
	} else {
		if len(x.Columns) != len(in) {
			return nil, fmt.Errorf("INSERT names %d columns but gives %d values", len(x.Columns), len(in))
		}
		for i, n := range x.Columns {
			j := s.Index(n)
			if j < 0 {
				return nil, fmt.Errorf("column %q of table %s does not exist", n, x.Table.Name)
			}
			target[j] = i
		}
	}
	es := make([]*expr.Expr, len(s))
	for i, f := range s {
		var e *expr.Expr
		if target[i] < 0 {
			if !f.Nullable {
				return nil, fmt.Errorf("null value in column %q of table %s violates its NOT NULL constraint", f.Name, x.Table.Name)
			}
			e = expr.Lit(expr.Value{T: f.Type, Null: true})
		} else {
			e = expr.Col(in[target[i]].Name)
			if in[target[i]].Type != f.Type {
				e = binder.Convert(e, in[target[i]].Type, f.Type)
			}
		}
		r, err := expr.Resolve(expr.Alias(e, f.Name), in)
		if err != nil {
			return nil, fmt.Errorf("INSERT into %s, column %s: %w", x.Table.Name, f.Name, err)
		}
		es[i] = r
	}
	res, err := newFrame(&plan.Project{Input: df.node, Exprs: es}).Collect(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if err := checkNotNull(x.Table.Name, s, res); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.tables[x.Table.Name]
	if cur == nil || cur.mem == nil {
		return nil, fmt.Errorf("table %q was dropped", x.Table.Name)
	}
	m := &memData{schema: s, batches: append(slices.Clone(cur.mem.batches), res.batches...)}
	c.tables[x.Table.Name] = memTable(m)
	return countResult(int64(res.NumRows())), nil
}

func checkNotNull(table string, s types.Schema, res *Result) error {
	for j, f := range s {
		if f.Nullable {
			continue
		}
		for _, b := range res.batches {
			if v := b.Vecs[j]; slices.Contains(v.Nulls, true) {
				return fmt.Errorf("null value in column %q of table %s violates its NOT NULL constraint", f.Name, table)
			}
		}
	}
	return nil
}

// rewrite runs DELETE (set nil) or UPDATE as a query over the table that
// computes its new contents.
func (c *Catalog) rewrite(ctx context.Context, src, table, alias string, set []*parser.Assignment, where parser.Expr, opts []CollectOption) (*Result, error) {
	c.mu.Lock()
	t, ok := c.tables[table]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("table %q does not exist", table)
	}
	if t.mem == nil {
		return nil, fmt.Errorf("table %q is read-only (it reads files or a frame)", table)
	}
	c.mu.Lock()
	q, count, err := binder.Rewrite(binderCatalog{c, ctx, opts}, table, alias, t.mem.schema, set, where)
	c.mu.Unlock()
	if err != nil {
		return nil, sqlError(src, err)
	}
	res, err := newFrame(q).Collect(ctx, opts...)
	if err != nil {
		return nil, err
	}
	cnt, err := newFrame(count).Collect(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if err := checkNotNull(table, t.mem.schema, res); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tables[table] = memTable(&memData{schema: t.mem.schema, batches: res.batches})
	return countResult(cnt.Value(0, 0).I), nil
}
