package binder

import (
	"errors"
	"fmt"
	suggestpkg "github.com/shoal-dev/shoal/dataframe/internal/suggest"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/sql/parser"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Catalog is what a query's names refer to.
type Catalog interface {
	// Table returns the plan of a table's rows (its columns named as the
	// table's columns).
	Table(name string) (plan.Node, bool)
	// View returns a view's query and its column names (nil: the query's).
	View(name string) (q *parser.Query, columns []string, ok bool)
	// TableFunc reads rows from a table function such as read_parquet.
	TableFunc(name string, args []string) (plan.Node, error)
	// Names lists every table and view, for suggestions.
	Names() []string
	// One is a relation of one row (SELECT without FROM, VALUES).
	One() plan.Node
	// Materialize runs a plan and returns its rows as a relation of
	// their own, and how many there are (WITH RECURSIVE iterates on them).
	Materialize(node plan.Node) (plan.Node, int64, error)
}

// Error is an error in a query's meaning (a name that does not exist, a
// type that does not fit), at a place in its text.
type Error struct {
	Pos parser.Pos
	Msg string
	Err error // wrapped, when there is one
}

func (e *Error) Error() string { return fmt.Sprintf("%s at %s", e.Msg, e.Pos) }

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

func errAt(n parser.Node, format string, args ...any) *Error {
	var wrapped error
	for _, a := range args {
		if err, ok := a.(error); ok {
			wrapped = err
		}
	}
	return &Error{Pos: n.Position(), Msg: fmt.Sprintf(format, args...), Err: wrapped}
}

// bindPanic carries a binding error out of the recursive descent.
type bindPanic struct{ err error }

func fail(err error) { panic(bindPanic{err}) }

func failAt(n parser.Node, format string, args ...any) { fail(errAt(n, format, args...)) }

// Output is a bound query: its plan and the names of its output columns (in
// order; the plan's own column names are internal and unique).
type Output struct {
	Node  plan.Node
	Names []string
}

// Bind turns a query into a logical plan over cat's tables.
func Bind(cat Catalog, q *parser.Query) (out *Output, err error) {
	b := &binder{cat: cat, used: map[string]int{}, resolved: map[*parser.ColumnRef]resolvedRef{}}
	defer catch(&err)
	rel := b.bindQuery(q, &scope{}, nil)
	// The output: SQL names on top of the internal ones.
	exprs := make([]*expr.Expr, 0, len(rel.cols))
	var names []string
	s := rel.node.Schema()
	seen := map[string]int{}
	for _, c := range rel.cols {
		if c.hidden {
			continue
		}
		// Output names are unique: a repeated one gets a suffix (a, a_1).
		name := c.name
		if n := seen[name]; n > 0 {
			name = fmt.Sprintf("%s_%d", name, n)
		}
		seen[c.name]++
		names = append(names, name)
		exprs = append(exprs, b.resolve(q, expr.Alias(expr.Col(c.id), name), s))
	}
	return &Output{Node: &plan.Project{Input: rel.node, Exprs: exprs}, Names: names}, nil
}

// binder holds the state of one statement's binding.
type binder struct {
	cat  Catalog
	used map[string]int // internal column names handed out
	ctes []map[string]*cteDef
	// probing counts the first bindings of correlated subqueries (done to
	// learn which outer columns they use); probeCols are those columns,
	// which expressions may then refer to.
	probing   int
	probeCols types.Schema
	// resolved records, while probing, where each column reference was
	// found (for the direct decorrelation of simple subqueries).
	resolved map[*parser.ColumnRef]resolvedRef
	// today is current_date, read once per statement (days since the
	// epoch; 0 until read).
	today int32
}

// currentDate is the statement's current_date: today in the local time
// zone when the statement is first asked for it, the same after.
func (b *binder) currentDate() int32 {
	if b.today == 0 {
		now := time.Now()
		b.today = expr.DaysFromCivil(now.Year(), int(now.Month()), now.Day())
	}
	return b.today
}

type resolvedRef struct {
	sc  *scope
	col column
}

type cteDef struct {
	q    *parser.Query
	cols []string
	rel  *relation // once bound
}

// newID returns a column name no other column of the statement has.
func (b *binder) newID(name string) string {
	if name == "" {
		name = "col"
	}
	n := b.used[name]
	b.used[name] = n + 1
	if n == 0 {
		return name
	}
	for {
		n++
		id := name + "_" + strconv.Itoa(n)
		if b.used[id] == 0 {
			b.used[id] = 1
			return id
		}
	}
}

// column is a column as a query sees it: qualified by its table's name or
// alias, known in the plan by its id.
type column struct {
	table  string
	name   string
	id     string
	t      types.Type
	hidden bool // passed along (a correlated key) but not part of SELECT *
	// usingOf marks a right-side column merged by USING/NATURAL: not found
	// unqualified.
	merged bool
}

// relation is a plan with the columns a query sees of it.
type relation struct {
	node plan.Node
	cols []column
}

// scope is the set of names visible to an expression.
type scope struct {
	cols []column
	// corrCols are the outer columns a correlated subquery joins in (its
	// D relation), found only by names no local column has.
	corrCols []column
	parent   *scope
	// corr collects, while a subquery is bound the first time, the columns
	// of enclosing queries it refers to.
	corr *correlation
}

type correlation struct {
	refs []column // outer columns referred to, in first-use order
}

func (c *correlation) add(col column) {
	for _, r := range c.refs {
		if r.id == col.id {
			return
		}
	}
	c.refs = append(c.refs, col)
}

func (s *scope) schema() types.Schema {
	out := make(types.Schema, 0, len(s.cols))
	for _, c := range s.cols {
		out = append(out, types.Field{Name: c.id, Type: c.t, Nullable: true})
	}
	return out
}

// lookup finds a column by (qualifier, name), searching enclosing scopes;
// an outer column is recorded in the correlations of the scopes between.
func (b *binder) lookup(s *scope, ref *parser.ColumnRef) column {
	parts := ref.Parts
	name := parts[len(parts)-1]
	qual := ""
	if len(parts) > 1 {
		qual = parts[len(parts)-2]
	}
	var chain []*scope
	for sc := s; sc != nil; sc = sc.parent {
		var found []column
		for _, c := range sc.cols {
			if c.name == name && (qual == "" && !c.merged || qual != "" && c.table == qual) {
				found = append(found, c)
			}
		}
		if len(found) == 0 {
			for _, c := range sc.corrCols {
				if c.name == name && (qual == "" || c.table == qual) {
					found = append(found, c)
					break
				}
			}
		}
		if len(found) > 1 {
			failAt(ref, "column reference %q is ambiguous (it is in %s); qualify it", strings.Join(parts, "."), tablesOf(found))
		}
		if len(found) == 1 {
			for _, inner := range chain {
				if inner.corr != nil {
					inner.corr.add(found[0])
				}
			}
			if len(chain) > 0 && b.probing > 0 {
				b.probeCols = append(b.probeCols, types.Field{Name: found[0].id, Type: found[0].t, Nullable: true})
			}
			if b.probing > 0 {
				b.resolved[ref] = resolvedRef{sc: sc, col: found[0]}
			}
			return found[0]
		}
		chain = append(chain, sc)
	}
	var all []string
	for sc := s; sc != nil; sc = sc.parent {
		for _, c := range sc.cols {
			if !c.hidden {
				all = append(all, c.name)
				if c.table != "" {
					all = append(all, c.table+"."+c.name)
				}
			}
		}
	}
	msg := fmt.Sprintf("column %q does not exist", strings.Join(parts, "."))
	if sug := suggest(strings.Join(parts, "."), all); sug != "" {
		msg += fmt.Sprintf("; did you mean %q?", sug)
	}
	fail(&Error{Pos: ref.Position(), Msg: msg, Err: &types.ColumnNotFoundError{Name: strings.Join(parts, "."), Available: all}})
	return column{}
}

func tablesOf(cs []column) string {
	var ts []string
	for _, c := range cs {
		t := c.table
		if t == "" {
			t = "a subquery"
		}
		ts = append(ts, t)
	}
	return strings.Join(ts, " and ")
}

// suggest returns the candidate closest to name when it is close enough.
func suggest(name string, candidates []string) string { return suggestpkg.Closest(name, candidates) }

// resolve type-checks e against s, failing at n.
func (b *binder) resolve(n parser.Node, e *expr.Expr, s types.Schema) *expr.Expr {
	if b.probing > 0 && len(b.probeCols) > 0 {
		s = append(append(types.Schema{}, s...), b.probeCols...)
	}
	r, err := expr.Resolve(e, s)
	if err != nil {
		var cnf *types.ColumnNotFoundError
		if errors.As(err, &cnf) {
			failAt(n, "internal error: %v", err)
		}
		failAt(n, "%v", err)
	}
	return r
}

// project makes the plan of rel with exactly the columns cols (ids).
func (b *binder) project(n parser.Node, rel plan.Node, es []*expr.Expr) plan.Node {
	s := rel.Schema()
	out := make([]*expr.Expr, len(es))
	for i, e := range es {
		out[i] = b.resolve(n, e, s)
	}
	if plan.IsIdentity(out, s) {
		return rel
	}
	return &plan.Project{Input: rel, Exprs: out}
}

// lookupCTE finds a WITH name in the enclosing WITH clauses.
func (b *binder) lookupCTE(name string) *cteDef {
	for i := len(b.ctes) - 1; i >= 0; i-- {
		if d, ok := b.ctes[i][name]; ok {
			return d
		}
	}
	return nil
}

// bindTableName binds a named table, view or WITH query.
func (b *binder) bindTableName(t *parser.Table, outer *scope) relation {
	name := t.Name.Name
	alias := t.Alias.Name
	if alias == "" {
		alias = name
	}
	var rel relation
	switch {
	case t.Name.Schema == "" && b.lookupCTE(name) != nil:
		d := b.lookupCTE(name)
		if d.rel == nil {
			// A WITH query sees only the WITH names defined before it.
			r := b.bindQuery(d.q, &scope{}, nil)
			d.rel = &r
			rel = r
		} else {
			// Used again: the same plan, its columns under new names, so
			// that the physical planner computes it once (TPC-H Q15).
			rel = b.renamed(t, *d.rel)
		}
		rel = renameCols(t, rel, d.cols)
	default:
		if q, cols, ok := b.cat.View(name); ok {
			saved := b.ctes
			b.ctes = nil
			rel = b.bindQuery(q, &scope{}, nil)
			b.ctes = saved
			rel = renameCols(t, rel, cols)
			break
		}
		node, ok := b.cat.Table(name)
		if !ok {
			msg := fmt.Sprintf("table %q does not exist", name)
			if sug := suggest(name, b.cat.Names()); sug != "" {
				msg += fmt.Sprintf("; did you mean %q?", sug)
			}
			failAt(t, "%s", msg)
		}
		rel = b.baseRelation(t, node)
	}
	rel = renameCols(t, rel, t.Alias.Columns)
	for i := range rel.cols {
		rel.cols[i].table = alias
	}
	return rel
}

// renamed is rel with fresh ids for its columns, over the same plan.
func (b *binder) renamed(n parser.Node, rel relation) relation {
	out := relation{cols: slices.Clone(rel.cols)}
	var es []*expr.Expr
	for i, c := range rel.cols {
		id := b.newID(c.name)
		es = append(es, expr.Alias(expr.Col(c.id), id))
		out.cols[i].id = id
	}
	out.node = b.project(n, rel.node, es)
	return out
}

// baseRelation gives a table's columns ids of their own: the column's name
// when no other column of the statement has it, else a renaming projection.
func (b *binder) baseRelation(n parser.Node, node plan.Node) relation {
	s := node.Schema()
	rel := relation{node: node}
	var es []*expr.Expr
	renamed := false
	for _, f := range s {
		id := b.newID(f.Name)
		if id != f.Name {
			renamed = true
		}
		es = append(es, expr.Alias(expr.Col(f.Name), id))
		rel.cols = append(rel.cols, column{name: f.Name, id: id, t: f.Type})
	}
	if renamed {
		rel.node = b.project(n, node, es)
	}
	return rel
}

// renameCols applies a column alias list (SQL names only).
func renameCols(n parser.Node, rel relation, names []string) relation {
	if names == nil {
		return rel
	}
	visible := 0
	for _, c := range rel.cols {
		if !c.hidden {
			visible++
		}
	}
	if len(names) > visible {
		failAt(n, "%d column names given for %d columns", len(names), visible)
	}
	out := relation{node: rel.node, cols: slices.Clone(rel.cols)}
	k := 0
	for i := range out.cols {
		if out.cols[i].hidden || k >= len(names) {
			continue
		}
		out.cols[i].name = names[k]
		k++
	}
	return out
}
