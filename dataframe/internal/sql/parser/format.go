package parser

import (
	"strconv"
	"strings"
)

// printer renders nodes as canonical SQL: keywords in upper case, names
// quoted where needed, every compound expression in parentheses, so that
// the text parses back to the same tree whatever the precedence rules.
type printer struct{ strings.Builder }

func format(n Node) string {
	var w printer
	w.node(n)
	return w.String()
}

func (w *printer) node(n Node) {
	switch n := n.(type) {
	case Statement:
		w.stmt(n)
	case QueryBody:
		w.body(n)
	case Expr:
		w.expr(n)
	case TableExpr:
		w.table(n)
	case *With:
		w.with(n)
	case *CTE:
		w.cte(n)
	case *SelectItem:
		w.selectItem(n)
	case *OrderItem:
		w.orderItem(n)
	case *NamedWindow:
		w.name(n.Name)
		w.WriteString(" AS ")
		w.window(n.Spec)
	case *WindowSpec:
		w.window(n)
	case *Frame:
		w.frame(n)
	case *When:
		w.WriteString("WHEN ")
		w.expr(n.Cond)
		w.WriteString(" THEN ")
		w.expr(n.Result)
	case *ColumnDef:
		w.columnDef(n)
	case *TableConstraint:
		w.constraint(n)
	case *Assignment:
		w.name(n.Column)
		w.WriteString(" = ")
		w.expr(n.Value)
	default:
		w.WriteString("?")
	}
}

func (w *printer) stmt(s Statement) {
	switch s := s.(type) {
	case *Query:
		w.query(s)
	case *CreateTable:
		w.WriteString("CREATE ")
		if s.Temp {
			w.WriteString("TEMP ")
		}
		w.WriteString("TABLE ")
		if s.IfNotExists {
			w.WriteString("IF NOT EXISTS ")
		}
		w.tableName(s.Name)
		w.WriteString(" (")
		list(w, s.Columns, w.columnDef)
		for i, c := range s.Constraints {
			w.sep(i + len(s.Columns))
			w.constraint(c)
		}
		w.WriteString(")")
	case *CreateTableAs:
		w.WriteString("CREATE ")
		if s.Temp {
			w.WriteString("TEMP ")
		}
		w.WriteString("TABLE ")
		if s.IfNotExists {
			w.WriteString("IF NOT EXISTS ")
		}
		w.tableName(s.Name)
		w.optNames(s.Columns)
		w.WriteString(" AS ")
		w.query(s.Query)
	case *CreateView:
		w.WriteString("CREATE ")
		if s.OrReplace {
			w.WriteString("OR REPLACE ")
		}
		if s.Temp {
			w.WriteString("TEMP ")
		}
		w.WriteString("VIEW ")
		w.tableName(s.Name)
		w.optNames(s.Columns)
		w.WriteString(" AS ")
		w.query(s.Query)
	case *CreateIndex:
		w.WriteString("CREATE ")
		if s.Unique {
			w.WriteString("UNIQUE ")
		}
		w.WriteString("INDEX ")
		if s.IfNotExists {
			w.WriteString("IF NOT EXISTS ")
		}
		if s.Name != "" {
			w.name(s.Name)
			w.WriteString(" ")
		}
		w.WriteString("ON ")
		w.tableName(s.Table)
		if s.Method != "" {
			w.WriteString(" USING ")
			w.name(s.Method)
		}
		w.WriteString(" (")
		list(w, s.Keys, w.orderItem)
		w.WriteString(")")
	case *Drop:
		w.WriteString("DROP ")
		w.WriteString(s.Object.String())
		if s.IfExists {
			w.WriteString(" IF EXISTS")
		}
		for i, n := range s.Names {
			if i > 0 {
				w.WriteString(",")
			}
			w.WriteString(" ")
			w.tableName(n)
		}
		if s.Cascade {
			w.WriteString(" CASCADE")
		}
	case *Insert:
		w.WriteString("INSERT INTO ")
		w.tableName(s.Table)
		w.optNames(s.Columns)
		w.WriteString(" ")
		w.query(s.Query)
	case *Update:
		w.WriteString("UPDATE ")
		w.tableName(s.Table)
		if s.Alias != "" {
			w.WriteString(" AS ")
			w.name(s.Alias)
		}
		w.WriteString(" SET ")
		list(w, s.Set, func(a *Assignment) { w.node(a) })
		w.where(s.Where)
	case *Delete:
		w.WriteString("DELETE FROM ")
		w.tableName(s.Table)
		if s.Alias != "" {
			w.WriteString(" AS ")
			w.name(s.Alias)
		}
		w.where(s.Where)
	case *Explain:
		w.WriteString("EXPLAIN ")
		if s.Analyze {
			w.WriteString("ANALYZE ")
		}
		if s.Verbose {
			w.WriteString("VERBOSE ")
		}
		w.stmt(s.Statement)
	case *Set:
		w.WriteString("SET ")
		w.dotted(strings.Split(s.Name, "."))
		w.WriteString(" = ")
		w.str(s.Value)
	case *Transaction:
		w.WriteString(s.Kind.String())
	default:
		w.WriteString("?")
	}
}

func (w *printer) query(q *Query) {
	if q.With != nil {
		w.with(q.With)
		w.WriteString(" ")
	}
	w.body(q.Body)
	if len(q.OrderBy) > 0 {
		w.WriteString(" ORDER BY ")
		list(w, q.OrderBy, w.orderItem)
	}
	if q.Limit != nil {
		w.WriteString(" LIMIT ")
		w.expr(q.Limit)
	}
	if q.Offset != nil {
		w.WriteString(" OFFSET ")
		w.expr(q.Offset)
	}
}

func (w *printer) with(x *With) {
	w.WriteString("WITH ")
	if x.Recursive {
		w.WriteString("RECURSIVE ")
	}
	list(w, x.CTEs, w.cte)
}

func (w *printer) cte(c *CTE) {
	w.name(c.Name)
	w.optNames(c.Columns)
	w.WriteString(" AS (")
	w.query(c.Query)
	w.WriteString(")")
}

// body renders a query body; operands of set operations are parenthesized.
func (w *printer) body(b QueryBody) {
	switch b := b.(type) {
	case *Select:
		w.selectBlock(b)
	case *Values:
		w.WriteString("VALUES ")
		list(w, b.Rows, w.exprList)
	case *SetOp:
		w.operand(b.Left)
		w.WriteString(" ")
		w.WriteString(b.Op.String())
		if b.All {
			w.WriteString(" ALL")
		}
		w.WriteString(" ")
		w.operand(b.Right)
	case *Query:
		w.WriteString("(")
		w.query(b)
		w.WriteString(")")
	default:
		w.WriteString("?")
	}
}

func (w *printer) operand(b QueryBody) {
	if _, ok := b.(*Query); ok {
		w.body(b) // parenthesized already
		return
	}
	w.WriteString("(")
	w.body(b)
	w.WriteString(")")
}

func (w *printer) selectBlock(s *Select) {
	w.WriteString("SELECT ")
	if s.Distinct {
		w.WriteString("DISTINCT ")
	}
	if len(s.DistinctOn) > 0 {
		w.WriteString("DISTINCT ON ")
		w.exprList(s.DistinctOn) // (parenthesized)
		w.WriteString(" ")
	}
	list(w, s.Items, w.selectItem)
	if len(s.From) > 0 {
		w.WriteString(" FROM ")
		list(w, s.From, w.table)
	}
	w.where(s.Where)
	switch {
	case len(s.GroupBy) > 0:
		w.WriteString(" GROUP BY ")
		list(w, s.GroupBy, w.expr)
	case s.GroupAll:
		w.WriteString(" GROUP BY ()")
	}
	if s.Having != nil {
		w.WriteString(" HAVING ")
		w.expr(s.Having)
	}
	if len(s.Windows) > 0 {
		w.WriteString(" WINDOW ")
		list(w, s.Windows, func(nw *NamedWindow) { w.node(nw) })
	}
}

func (w *printer) selectItem(it *SelectItem) {
	w.expr(it.Expr)
	if it.Alias != "" {
		w.WriteString(" AS ")
		w.name(it.Alias)
	}
}

func (w *printer) where(e Expr) {
	if e != nil {
		w.WriteString(" WHERE ")
		w.expr(e)
	}
}

func (w *printer) orderItem(o *OrderItem) {
	w.expr(o.Expr)
	if o.Desc {
		w.WriteString(" DESC")
	}
	switch o.Nulls {
	case NullsFirst:
		w.WriteString(" NULLS FIRST")
	case NullsLast:
		w.WriteString(" NULLS LAST")
	}
}

func (w *printer) table(t TableExpr) {
	switch t := t.(type) {
	case *Table:
		w.tableName(t.Name)
		w.alias(t.Alias)
	case *DerivedTable:
		w.WriteString("(")
		w.query(t.Query)
		w.WriteString(")")
		w.alias(t.Alias)
	case *TableFunc:
		w.funcName(t.Name)
		w.exprList(t.Args)
		w.alias(t.Alias)
	case *Join:
		w.WriteString("(")
		w.table(t.Left)
		w.WriteString(" ")
		if t.Natural {
			w.WriteString("NATURAL ")
		}
		w.WriteString(t.Kind.String())
		w.WriteString(" ")
		w.table(t.Right)
		if t.On != nil {
			w.WriteString(" ON ")
			w.expr(t.On)
		}
		if t.Using != nil {
			w.WriteString(" USING")
			w.names(t.Using)
		}
		w.WriteString(")")
	default:
		w.WriteString("?")
	}
}

func (w *printer) alias(a Alias) {
	if a.Name != "" {
		w.WriteString(" AS ")
		w.name(a.Name)
		w.optNames(a.Columns)
	}
}

func (w *printer) window(s *WindowSpec) {
	w.WriteString("(")
	sp := false
	space := func() {
		if sp {
			w.WriteString(" ")
		}
		sp = true
	}
	if s.Name != "" {
		space()
		if frameWords[s.Name] {
			w.quoted(s.Name) // or it would read as the clause
		} else {
			w.name(s.Name)
		}
	}
	if len(s.PartitionBy) > 0 {
		space()
		w.WriteString("PARTITION BY ")
		list(w, s.PartitionBy, w.expr)
	}
	if len(s.OrderBy) > 0 {
		space()
		w.WriteString("ORDER BY ")
		list(w, s.OrderBy, w.orderItem)
	}
	if s.Frame != nil {
		space()
		w.frame(s.Frame)
	}
	w.WriteString(")")
}

func (w *printer) frame(f *Frame) {
	w.WriteString(f.Unit.String())
	w.WriteString(" BETWEEN ")
	w.bound(f.Start)
	w.WriteString(" AND ")
	w.bound(f.End)
}

func (w *printer) bound(b FrameBound) {
	switch b.Kind {
	case UnboundedPreceding:
		w.WriteString("UNBOUNDED PRECEDING")
	case UnboundedFollowing:
		w.WriteString("UNBOUNDED FOLLOWING")
	case CurrentRow:
		w.WriteString("CURRENT ROW")
	case Preceding, Following:
		w.expr(b.Offset)
		if b.Kind == Preceding {
			w.WriteString(" PRECEDING")
		} else {
			w.WriteString(" FOLLOWING")
		}
	default:
		w.WriteString("?")
	}
}

func (w *printer) columnDef(c *ColumnDef) {
	w.name(c.Name)
	w.WriteString(" ")
	w.typeName(c.Type)
	if c.NotNull {
		w.WriteString(" NOT NULL")
	}
	if c.PrimaryKey {
		w.WriteString(" PRIMARY KEY")
	}
	if c.Unique {
		w.WriteString(" UNIQUE")
	}
	if c.Default != nil {
		w.WriteString(" DEFAULT ")
		w.expr(c.Default)
	}
}

func (w *printer) constraint(c *TableConstraint) {
	if c.Name != "" {
		w.WriteString("CONSTRAINT ")
		w.name(c.Name)
		w.WriteString(" ")
	}
	if c.Kind == PrimaryKey {
		w.WriteString("PRIMARY KEY")
	} else {
		w.WriteString("UNIQUE")
	}
	w.WriteString(" ")
	w.names(c.Columns)
}

var unaryOpText = [...]string{Not: "NOT ", Neg: "- ", Plus: "+ "}

func (w *printer) expr(e Expr) {
	switch e := e.(type) {
	case *Literal:
		switch e.Kind {
		case LitNull:
			w.WriteString("NULL")
		case LitBool:
			w.WriteString(strings.ToUpper(e.Value))
		case LitString:
			w.str(e.Value)
		default:
			w.WriteString(e.Value)
		}
	case *TypedLiteral:
		w.typeName(e.Type)
		w.WriteString(" ")
		w.str(e.Value)
	case *Interval:
		w.WriteString("INTERVAL ")
		w.str(e.Value)
		if e.Unit != "" {
			w.WriteString(" ")
			w.WriteString(strings.ToUpper(e.Unit))
			if e.Precision >= 0 {
				w.WriteString("(")
				w.WriteString(strconv.Itoa(e.Precision))
				w.WriteString(")")
			}
		}
	case *ColumnRef:
		w.dotted(e.Parts)
	case *Star:
		for _, p := range e.Table {
			w.name(p)
			w.WriteString(".")
		}
		w.WriteString("*")
	case *Unary:
		w.WriteString("(")
		if int(e.Op) < len(unaryOpText) {
			w.WriteString(unaryOpText[e.Op])
		}
		w.expr(e.X)
		w.WriteString(")")
	case *Binary:
		w.WriteString("(")
		w.expr(e.Left)
		w.WriteString(" ")
		w.WriteString(e.Op.String())
		w.WriteString(" ")
		w.expr(e.Right)
		w.WriteString(")")
	case *IsNull:
		w.WriteString("(")
		w.expr(e.X)
		w.WriteString(" IS ")
		w.not(e.Not)
		w.WriteString("NULL)")
	case *IsBool:
		w.WriteString("(")
		w.expr(e.X)
		w.WriteString(" IS ")
		w.not(e.Not)
		if e.Value {
			w.WriteString("TRUE)")
		} else {
			w.WriteString("FALSE)")
		}
	case *IsDistinctFrom:
		w.WriteString("(")
		w.expr(e.Left)
		w.WriteString(" IS ")
		w.not(e.Not)
		w.WriteString("DISTINCT FROM ")
		w.expr(e.Right)
		w.WriteString(")")
	case *Between:
		w.predicate(e.X, e.Not, "BETWEEN")
		w.expr(e.Low)
		w.WriteString(" AND ")
		w.expr(e.High)
		w.WriteString(")")
	case *InList:
		w.predicate(e.X, e.Not, "IN")
		w.exprList(e.List)
		w.WriteString(")")
	case *InSubquery:
		w.predicate(e.X, e.Not, "IN")
		w.WriteString("(")
		w.query(e.Query)
		w.WriteString("))")
	case *LikeExpr:
		w.predicate(e.X, e.Not, e.Op.String())
		w.expr(e.Pattern)
		if e.Escape != nil {
			w.WriteString(" ESCAPE ")
			w.expr(e.Escape)
		}
		w.WriteString(")")
	case *Exists:
		w.WriteString("EXISTS (")
		w.query(e.Query)
		w.WriteString(")")
	case *Subquery:
		w.WriteString("(")
		w.query(e.Query)
		w.WriteString(")")
	case *Quantified:
		w.WriteString("(")
		w.expr(e.Left)
		w.WriteString(" ")
		w.WriteString(e.Op.String())
		if e.All {
			w.WriteString(" ALL (")
		} else {
			w.WriteString(" ANY (")
		}
		w.query(e.Query)
		w.WriteString("))")
	case *Row:
		w.WriteString("ROW")
		w.exprList(e.Items)
	case *Case:
		w.WriteString("CASE")
		if e.Operand != nil {
			w.WriteString(" ")
			w.expr(e.Operand)
		}
		for _, wh := range e.Whens {
			w.WriteString(" ")
			w.node(wh)
		}
		if e.Else != nil {
			w.WriteString(" ELSE ")
			w.expr(e.Else)
		}
		w.WriteString(" END")
	case *Cast:
		w.WriteString("CAST(")
		w.expr(e.X)
		w.WriteString(" AS ")
		w.typeName(e.Type)
		w.WriteString(")")
	case *Extract:
		w.WriteString("EXTRACT(")
		w.name(e.Field)
		w.WriteString(" FROM ")
		w.expr(e.X)
		w.WriteString(")")
	case *FuncCall:
		w.funcCall(e)
	default:
		w.WriteString("?")
	}
}

func (w *printer) funcCall(f *FuncCall) {
	if (f.Name == "current_date" || f.Name == "current_timestamp") && len(f.Args) == 0 && !f.Star &&
		!f.Distinct && f.OrderBy == nil && f.Filter == nil && f.Over == nil {
		w.WriteString(strings.ToUpper(f.Name))
		return
	}
	// substring and position have a grammar of their own, which reads
	// plain argument lists only.
	if (f.Name == "substring" || f.Name == "position") && (len(f.Args) == 0 || f.Star || f.Distinct ||
		f.OrderBy != nil || f.Filter != nil || f.Over != nil) {
		w.quoted(f.Name)
	} else {
		w.funcName(f.Name)
	}
	w.WriteString("(")
	if f.Distinct {
		w.WriteString("DISTINCT ")
	}
	if f.Star {
		w.WriteString("*")
	}
	list(w, f.Args, w.expr)
	if len(f.OrderBy) > 0 {
		w.WriteString(" ORDER BY ")
		list(w, f.OrderBy, w.orderItem)
	}
	w.WriteString(")")
	if f.Filter != nil {
		w.WriteString(" FILTER (WHERE ")
		w.expr(f.Filter)
		w.WriteString(")")
	}
	if f.Over != nil {
		w.WriteString(" OVER ")
		w.window(f.Over)
	}
}

// predicate opens "(x [NOT] op ", the start of a negatable predicate.
func (w *printer) predicate(x Expr, not bool, op string) {
	w.WriteString("(")
	w.expr(x)
	w.WriteString(" ")
	w.not(not)
	w.WriteString(op)
	w.WriteString(" ")
}

func (w *printer) not(not bool) {
	if not {
		w.WriteString("NOT ")
	}
}

func (w *printer) sep(i int) {
	if i > 0 {
		w.WriteString(", ")
	}
}

// list writes items separated by commas.
func list[T any](w *printer, items []T, write func(T)) {
	for i, it := range items {
		w.sep(i)
		write(it)
	}
}

func (w *printer) exprList(es []Expr) {
	w.WriteString("(")
	list(w, es, w.expr)
	w.WriteString(")")
}

func (w *printer) names(ns []string) {
	w.WriteString("(")
	list(w, ns, w.name)
	w.WriteString(")")
}

func (w *printer) optNames(ns []string) {
	if ns != nil {
		w.WriteString(" ")
		w.names(ns)
	}
}

func (w *printer) dotted(parts []string) {
	for i, p := range parts {
		if i > 0 {
			w.WriteString(".")
		}
		w.name(p)
	}
}

func (w *printer) tableName(t TableName) {
	if t.Schema != "" {
		w.name(t.Schema)
		w.WriteString(".")
	}
	w.name(t.Name)
}

func (w *printer) typeName(t TypeName) {
	w.WriteString(strings.ToUpper(t.Name))
	if len(t.Args) > 0 {
		w.WriteString("(")
		for i, a := range t.Args {
			w.sep(i)
			w.WriteString(strconv.Itoa(a))
		}
		w.WriteString(")")
	}
}

// frameWords begin the parts of a window specification after its name.
var frameWords = setOf("partition", "rows", "range", "groups")

// name writes an identifier, quoted unless it reads back unchanged.
func (w *printer) name(s string) {
	if plainName(s) && !isReserved(s) {
		w.WriteString(s)
		return
	}
	w.quoted(s)
}

func (w *printer) funcName(s string) {
	if plainName(s) && !reservedWords[s] && !specialCallWords[s] {
		w.WriteString(s)
		return
	}
	w.quoted(s)
}

func (w *printer) quoted(s string) {
	w.WriteByte('"')
	w.WriteString(strings.ReplaceAll(s, `"`, `""`))
	w.WriteByte('"')
}

func (w *printer) str(s string) {
	w.WriteByte('\'')
	w.WriteString(strings.ReplaceAll(s, "'", "''"))
	w.WriteByte('\'')
}

// plainName reports whether s is a lower-case ASCII identifier.
func plainName(s string) bool {
	if s == "" || isDigit(s[0]) || s[0] == '$' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || isDigit(c) || c == '$') {
			return false
		}
	}
	return true
}

func (n *Query) String() string           { return format(n) }
func (n *With) String() string            { return format(n) }
func (n *CTE) String() string             { return format(n) }
func (n *Select) String() string          { return format(n) }
func (n *SelectItem) String() string      { return format(n) }
func (n *SetOp) String() string           { return format(n) }
func (n *Values) String() string          { return format(n) }
func (n *OrderItem) String() string       { return format(n) }
func (n *NamedWindow) String() string     { return format(n) }
func (n *WindowSpec) String() string      { return format(n) }
func (n *Frame) String() string           { return format(n) }
func (n *Table) String() string           { return format(n) }
func (n *DerivedTable) String() string    { return format(n) }
func (n *TableFunc) String() string       { return format(n) }
func (n *Join) String() string            { return format(n) }
func (n *Literal) String() string         { return format(n) }
func (n *TypedLiteral) String() string    { return format(n) }
func (n *Interval) String() string        { return format(n) }
func (n *ColumnRef) String() string       { return format(n) }
func (n *Star) String() string            { return format(n) }
func (n *Unary) String() string           { return format(n) }
func (n *Binary) String() string          { return format(n) }
func (n *IsNull) String() string          { return format(n) }
func (n *IsBool) String() string          { return format(n) }
func (n *IsDistinctFrom) String() string  { return format(n) }
func (n *Between) String() string         { return format(n) }
func (n *InList) String() string          { return format(n) }
func (n *InSubquery) String() string      { return format(n) }
func (n *LikeExpr) String() string        { return format(n) }
func (n *Exists) String() string          { return format(n) }
func (n *Subquery) String() string        { return format(n) }
func (n *Quantified) String() string      { return format(n) }
func (n *Row) String() string             { return format(n) }
func (n *Case) String() string            { return format(n) }
func (n *When) String() string            { return format(n) }
func (n *Cast) String() string            { return format(n) }
func (n *Extract) String() string         { return format(n) }
func (n *FuncCall) String() string        { return format(n) }
func (n *CreateTable) String() string     { return format(n) }
func (n *ColumnDef) String() string       { return format(n) }
func (n *TableConstraint) String() string { return format(n) }
func (n *CreateTableAs) String() string   { return format(n) }
func (n *CreateView) String() string      { return format(n) }
func (n *CreateIndex) String() string     { return format(n) }
func (n *Drop) String() string            { return format(n) }
func (n *Insert) String() string          { return format(n) }
func (n *Update) String() string          { return format(n) }
func (n *Assignment) String() string      { return format(n) }
func (n *Delete) String() string          { return format(n) }
func (n *Explain) String() string         { return format(n) }
func (n *Set) String() string             { return format(n) }
func (n *Transaction) String() string     { return format(n) }

// String renders the name, quoted where needed.
func (t TableName) String() string {
	var w printer
	w.tableName(t)
	return w.String()
}

// String renders the type: DECIMAL(15, 2).
func (t TypeName) String() string {
	var w printer
	w.typeName(t)
	return w.String()
}
