package parser

import "fmt"

// Pos is a place in the source text: a byte offset and the 1-based line and
// column (columns count characters, not bytes).
type Pos struct {
	Offset int
	Line   int
	Col    int
}

func (p Pos) String() string { return fmt.Sprintf("line %d, column %d", p.Line, p.Col) }

// Span is the source text a node was parsed from: it starts at Pos and ends
// at byte offset End (exclusive). The binder names an unaliased select item
// after its text: Span.Text(sql).
type Span struct {
	Pos Pos
	End int
}

// Position returns where the node starts.
func (s Span) Position() Pos { return s.Pos }

// SourceSpan returns the node's source span.
func (s Span) SourceSpan() Span { return s }

// Text returns the node's text in src, the string it was parsed from; "" if
// the span does not lie in src (a node built by hand).
func (s Span) Text(src string) string {
	if s.Pos.Offset < 0 || s.End > len(src) || s.Pos.Offset > s.End {
		return ""
	}
	return src[s.Pos.Offset:s.End]
}

// Node is any syntax tree node. String renders it as canonical SQL in which
// every compound expression is parenthesized; parsing that text gives back
// the same tree (but for spans).
type Node interface {
	Position() Pos
	SourceSpan() Span
	String() string
}

// Statement is one SQL statement: *Query, *CreateTable, *CreateTableAs,
// *CreateView, *CreateIndex, *Drop, *Insert, *Update, *Delete, *Explain,
// *Set or *Transaction.
type Statement interface {
	Node
	statementNode()
}

// QueryBody is what a query computes before its ORDER BY and LIMIT: a
// *Select, a *Values, a *SetOp of two bodies, or a parenthesized *Query that
// has a WITH, ORDER BY, LIMIT or OFFSET of its own (parentheses around a bare
// body leave no node).
type QueryBody interface {
	Node
	queryBodyNode()
}

// TableExpr is an item of a FROM list: *Table, *DerivedTable, *TableFunc or
// *Join.
type TableExpr interface {
	Node
	tableExprNode()
}

// Query is a query expression: SELECT, VALUES, set operations, with their
// WITH, ORDER BY, LIMIT and OFFSET. It is also the statement of a SELECT.
type Query struct {
	Span
	With    *With // nil without WITH
	Body    QueryBody
	OrderBy []*OrderItem
	// Limit is nil without LIMIT and for LIMIT ALL; FETCH FIRST n ROWS ONLY
	// sets it too (to 1 when n is left out).
	Limit  Expr
	Offset Expr // nil without OFFSET
}

// With is a WITH clause.
type With struct {
	Span
	Recursive bool
	CTEs      []*CTE
}

// CTE is one common table expression: name [(columns)] AS (query).
type CTE struct {
	Span
	Name    string
	Columns []string // nil without a column list
	Query   *Query
}

// Select is one SELECT block.
type Select struct {
	Span
	Distinct bool // SELECT DISTINCT; SELECT ALL is the default
	// DistinctOn holds the expressions of SELECT DISTINCT ON (...): the
	// first row (in the query's ORDER BY) of each of their values is
	// kept. Distinct is false then.
	DistinctOn []Expr
	Items      []*SelectItem
	From       []TableExpr // the comma-separated FROM list; nil without FROM
	Where      Expr
	GroupBy    []Expr // expressions; an integer literal is an ordinal of the select list
	// GroupAll: GROUP BY () was written (the rows form one group even
	// with no aggregate in the query).
	GroupAll bool
	Having   Expr
	Windows  []*NamedWindow // WINDOW w AS (...)
}

// SelectItem is one item of a select list: an expression with an optional
// alias, or a *Star (*, t.*), which has no alias.
type SelectItem struct {
	Span
	Expr  Expr
	Alias string // "" when none was given
}

// SetOpKind is a set operation.
type SetOpKind uint8

// Set operations.
const (
	Union SetOpKind = iota + 1
	Intersect
	Except
)

var setOpNames = [...]string{Union: "UNION", Intersect: "INTERSECT", Except: "EXCEPT"}

func (k SetOpKind) String() string { return enumName(setOpNames[:], int(k)) }

// SetOp is Left UNION|INTERSECT|EXCEPT [ALL] Right. INTERSECT binds tighter
// than UNION and EXCEPT; all are left-associative.
type SetOp struct {
	Span
	Op          SetOpKind
	All         bool // ALL; DISTINCT is the default
	Left, Right QueryBody
}

// Values is VALUES (row), (row), ...: every row has the same length.
type Values struct {
	Span
	Rows [][]Expr
}

// OrderItem is one key of an ORDER BY (or of an index).
type OrderItem struct {
	Span
	Expr  Expr // an integer literal is an ordinal of the select list
	Desc  bool
	Nulls NullsOrder
}

// NullsOrder says where an ORDER BY key puts nulls.
type NullsOrder uint8

// Null orders. NullsDefault is PostgreSQL's: last ascending, first descending.
const (
	NullsDefault NullsOrder = iota
	NullsFirst
	NullsLast
)

// NamedWindow is a WINDOW clause entry: Name AS (Spec).
type NamedWindow struct {
	Span
	Name string
	Spec *WindowSpec
}

// WindowSpec is a window: OVER (...) or OVER name, or a WINDOW definition.
type WindowSpec struct {
	Span
	// Name is the window this one refers to (OVER w) or builds on
	// (OVER (w ORDER BY x)); "" for none.
	Name        string
	PartitionBy []Expr
	OrderBy     []*OrderItem
	Frame       *Frame // nil without a frame clause
}

// FrameUnit is the unit of a window frame.
type FrameUnit uint8

// Frame units.
const (
	Rows FrameUnit = iota + 1
	Range
	Groups
)

var frameUnitNames = [...]string{Rows: "ROWS", Range: "RANGE", Groups: "GROUPS"}

func (u FrameUnit) String() string { return enumName(frameUnitNames[:], int(u)) }

// Frame is a window frame: Unit BETWEEN Start AND End. A frame given by its
// start alone (ROWS UNBOUNDED PRECEDING) ends at CURRENT ROW.
type Frame struct {
	Span
	Unit       FrameUnit
	Start, End FrameBound
}

// BoundKind is the kind of a frame bound.
type BoundKind uint8

// Frame bound kinds.
const (
	UnboundedPreceding BoundKind = iota + 1
	Preceding                    // Offset PRECEDING
	CurrentRow
	Following // Offset FOLLOWING
	UnboundedFollowing
)

// FrameBound is one end of a window frame; Offset is set for Preceding and
// Following.
type FrameBound struct {
	Kind   BoundKind
	Offset Expr
}

// TableName is a table (or view) name, optionally qualified by its schema.
type TableName struct {
	Span
	Schema string // "" when unqualified
	Name   string
}

// Alias names a FROM item and, optionally, its columns: AS t (a, b).
type Alias struct {
	Name    string   // "" when there is none
	Columns []string // nil without a column list
}

// Table is a named table or view in FROM.
type Table struct {
	Span
	Name  TableName
	Alias Alias
}

// DerivedTable is a subquery in FROM: (query) [AS] alias [(columns)]. A
// VALUES list in FROM is a DerivedTable whose query's body is a *Values.
type DerivedTable struct {
	Span
	Query *Query
	Alias Alias
}

// TableFunc is a table-valued function in FROM, such as
// read_parquet('s3://bucket/*.parquet') AS t.
type TableFunc struct {
	Span
	Name  string
	Args  []Expr
	Alias Alias
}

// JoinKind is the kind of a join.
type JoinKind uint8

// Join kinds. OUTER is implied by LEFT, RIGHT and FULL.
const (
	InnerJoin JoinKind = iota + 1
	LeftJoin
	RightJoin
	FullJoin
	CrossJoin
)

var joinKindNames = [...]string{InnerJoin: "JOIN", LeftJoin: "LEFT JOIN", RightJoin: "RIGHT JOIN", FullJoin: "FULL JOIN", CrossJoin: "CROSS JOIN"}

func (k JoinKind) String() string { return enumName(joinKindNames[:], int(k)) }

// Join is Left JOIN Right. At most one of On and Using is set; neither is
// for a CROSS or NATURAL join.
type Join struct {
	Span
	Kind        JoinKind
	Natural     bool
	Left, Right TableExpr
	On          Expr
	Using       []string
}

func enumName(names []string, i int) string {
	if i > 0 && i < len(names) && names[i] != "" {
		return names[i]
	}
	return fmt.Sprintf("?%d", i)
}

func (*Query) statementNode()  {}
func (*Query) queryBodyNode()  {}
func (*Select) queryBodyNode() {}
func (*SetOp) queryBodyNode()  {}
func (*Values) queryBodyNode() {}

func (*Table) tableExprNode()        {}
func (*DerivedTable) tableExprNode() {}
func (*TableFunc) tableExprNode()    {}
func (*Join) tableExprNode()         {}
