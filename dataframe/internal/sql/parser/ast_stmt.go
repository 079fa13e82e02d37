package parser

// CreateTable is CREATE [TEMP] TABLE [IF NOT EXISTS] name (columns and
// constraints).
type CreateTable struct {
	Span
	Temp        bool
	IfNotExists bool
	Name        TableName
	Columns     []*ColumnDef
	Constraints []*TableConstraint
}

// ColumnDef is a column of a CREATE TABLE: name type [constraints]. An
// explicit NULL leaves NotNull false.
type ColumnDef struct {
	Span
	Name       string
	Type       TypeName
	NotNull    bool
	PrimaryKey bool
	Unique     bool
	Default    Expr // nil without DEFAULT
}

// ConstraintKind is the kind of a table constraint.
type ConstraintKind uint8

// Table constraint kinds.
const (
	PrimaryKey ConstraintKind = iota + 1
	Unique
)

// TableConstraint is [CONSTRAINT name] PRIMARY KEY (columns) or UNIQUE
// (columns) in a CREATE TABLE.
type TableConstraint struct {
	Span
	Name    string // "" without CONSTRAINT name
	Kind    ConstraintKind
	Columns []string
}

// CreateTableAs is CREATE [TEMP] TABLE [IF NOT EXISTS] name [(columns)] AS
// query.
type CreateTableAs struct {
	Span
	Temp        bool
	IfNotExists bool
	Name        TableName
	Columns     []string // nil without a column list
	Query       *Query
}

// CreateView is CREATE [OR REPLACE] [TEMP] VIEW name [(columns)] AS query.
type CreateView struct {
	Span
	OrReplace bool
	Temp      bool
	Name      TableName
	Columns   []string // nil without a column list
	Query     *Query
}

// CreateIndex is CREATE [UNIQUE] INDEX [IF NOT EXISTS] [name] ON table
// [USING method] (keys). It is parsed so that scripts run; Shoal builds no
// indexes.
type CreateIndex struct {
	Span
	Unique      bool
	IfNotExists bool
	Name        string // "" when unnamed
	Table       TableName
	Method      string // USING method; "" without
	Keys        []*OrderItem
}

// ObjectKind is the kind of object a DROP removes.
type ObjectKind uint8

// Object kinds.
const (
	TableObject ObjectKind = iota + 1
	ViewObject
	IndexObject
)

var objectKindNames = [...]string{TableObject: "TABLE", ViewObject: "VIEW", IndexObject: "INDEX"}

func (k ObjectKind) String() string { return enumName(objectKindNames[:], int(k)) }

// Drop is DROP TABLE|VIEW|INDEX [IF EXISTS] names [CASCADE|RESTRICT].
type Drop struct {
	Span
	Object   ObjectKind
	IfExists bool
	Names    []TableName
	Cascade  bool
}

// Insert is INSERT INTO table [(columns)] query; INSERT ... VALUES is a query
// whose body is a *Values.
type Insert struct {
	Span
	Table   TableName
	Columns []string // nil without a column list
	Query   *Query
}

// Update is UPDATE table [[AS] alias] SET column = value, ... [WHERE cond].
type Update struct {
	Span
	Table TableName
	Alias string
	Set   []*Assignment
	Where Expr // nil without WHERE
}

// Assignment is column = value in an UPDATE.
type Assignment struct {
	Span
	Column string
	Value  Expr
}

// Delete is DELETE FROM table [[AS] alias] [WHERE cond].
type Delete struct {
	Span
	Table TableName
	Alias string
	Where Expr // nil without WHERE
}

// Explain is EXPLAIN [ANALYZE] [VERBOSE] statement.
type Explain struct {
	Span
	Analyze   bool
	Verbose   bool
	Statement Statement
}

// Set is SET name = value or SET name TO value: a setting, which the binder
// ignores. Name is lower case, dotted if qualified; Value is the value's
// text: a string's contents, a number, a word in lower case, a list's items
// joined by ", ".
type Set struct {
	Span
	Name  string
	Value string
}

// TxKind is the kind of a transaction statement.
type TxKind uint8

// Transaction statement kinds.
const (
	Begin    TxKind = iota + 1 // BEGIN, START TRANSACTION
	Commit                     // COMMIT, END
	Rollback                   // ROLLBACK, ABORT
)

var txKindNames = [...]string{Begin: "BEGIN", Commit: "COMMIT", Rollback: "ROLLBACK"}

func (k TxKind) String() string { return enumName(txKindNames[:], int(k)) }

// Transaction is BEGIN, COMMIT or ROLLBACK.
type Transaction struct {
	Span
	Kind TxKind
}

func (*CreateTable) statementNode()   {}
func (*CreateTableAs) statementNode() {}
func (*CreateView) statementNode()    {}
func (*CreateIndex) statementNode()   {}
func (*Drop) statementNode()          {}
func (*Insert) statementNode()        {}
func (*Update) statementNode()        {}
func (*Delete) statementNode()        {}
func (*Explain) statementNode()       {}
func (*Set) statementNode()           {}
func (*Transaction) statementNode()   {}
