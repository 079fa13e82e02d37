package parser

// Expr is a scalar expression. Its span covers its whole text, so an
// unaliased select item can be named after it.
type Expr interface {
	Node
	exprNode()
}

// LitKind is the kind of a literal.
type LitKind uint8

// Literal kinds.
const (
	LitNull LitKind = iota + 1
	LitBool
	LitInteger // digits only, with a leading "-" if negated; may not fit an int64
	LitNumeric // with a decimal point or an exponent: 1.5, .5, 1e-3
	LitString
)

// Literal is NULL, TRUE, FALSE, a number or a string. Value is "true" or
// "false" for LitBool, the number's text for numbers (a unary minus before a
// number is folded into it: "-1"), and the string's value for LitString (quotes
// removed, a doubled quote read as one).
type Literal struct {
	Span
	Kind  LitKind
	Value string
}

// TypedLiteral is a type name followed by a string: DATE '1998-12-01',
// TIMESTAMP '2024-01-01 10:00:00'. Type is date or timestamp.
type TypedLiteral struct {
	Span
	Type  TypeName
	Value string
}

// Interval is INTERVAL 'value' [unit [(precision)]]: INTERVAL '3' MONTH,
// INTERVAL '90' DAY (3), INTERVAL '3 months' (no unit: the value carries it).
type Interval struct {
	Span
	Value string
	// Unit is year, month, day, hour, minute or second; "" when the value
	// carries its units.
	Unit string
	// Precision is the unit's precision, as in DAY (3); -1 when not given.
	Precision int
}

// ColumnRef is a column: a, t.a or s.t.a (Parts holds the names in order).
type ColumnRef struct {
	Span
	Parts []string
}

// Star is * or t.* in a select list (and nowhere else; count(*) is a
// FuncCall with Star set).
type Star struct {
	Span
	Table []string // the qualifier of t.* or s.t.*; nil for *
}

// UnaryOp is a prefix operator.
type UnaryOp uint8

// Prefix operators. Minus before a number literal is folded into it.
const (
	Not UnaryOp = iota + 1
	Neg
	Plus
)

// Unary is Op X.
type Unary struct {
	Span
	Op UnaryOp
	X  Expr
}

// BinaryOp is an infix operator.
type BinaryOp uint8

// Infix operators.
const (
	Or BinaryOp = iota + 1
	And
	Eq // =
	Ne // <> or !=
	Lt
	Le
	Gt
	Ge
	Concat // ||
	Add
	Sub
	Mul
	Div
	Mod // %
	Pow // ^
	// The regular expression matches: ~ (case-sensitive), ~* (case-insensitive)
	// and their negations !~ and !~*.
	Match
	IMatch
	NotMatch
	NotIMatch
)

var binaryOpNames = [...]string{Or: "OR", And: "AND", Eq: "=", Ne: "<>", Lt: "<", Le: "<=", Gt: ">", Ge: ">=",
	Concat: "||", Add: "+", Sub: "-", Mul: "*", Div: "/", Mod: "%", Pow: "^",
	Match: "~", IMatch: "~*", NotMatch: "!~", NotIMatch: "!~*"}

func (o BinaryOp) String() string { return enumName(binaryOpNames[:], int(o)) }

// IsComparison reports whether o is =, <>, <, <=, > or >=.
func (o BinaryOp) IsComparison() bool { return o >= Eq && o <= Ge }

// Binary is Left Op Right.
type Binary struct {
	Span
	Op          BinaryOp
	Left, Right Expr
}

// IsNull is X IS [NOT] NULL (also X ISNULL, X NOTNULL and X IS [NOT]
// UNKNOWN).
type IsNull struct {
	Span
	X   Expr
	Not bool
}

// IsBool is X IS [NOT] TRUE|FALSE.
type IsBool struct {
	Span
	X     Expr
	Not   bool
	Value bool
}

// IsDistinctFrom is Left IS [NOT] DISTINCT FROM Right.
type IsDistinctFrom struct {
	Span
	Left, Right Expr
	Not         bool
}

// Between is X [NOT] BETWEEN Low AND High.
type Between struct {
	Span
	X, Low, High Expr
	Not          bool
}

// InList is X [NOT] IN (List...).
type InList struct {
	Span
	X    Expr
	List []Expr
	Not  bool
}

// InSubquery is X [NOT] IN (query). X is a *Row when several columns are
// compared.
type InSubquery struct {
	Span
	X     Expr
	Query *Query
	Not   bool
}

// LikeOp is a pattern-matching operator.
type LikeOp uint8

// Pattern-matching operators.
const (
	Like LikeOp = iota + 1
	ILike
	SimilarTo
)

var likeOpNames = [...]string{Like: "LIKE", ILike: "ILIKE", SimilarTo: "SIMILAR TO"}

func (o LikeOp) String() string { return enumName(likeOpNames[:], int(o)) }

// LikeExpr is X [NOT] LIKE|ILIKE|SIMILAR TO Pattern [ESCAPE Escape].
type LikeExpr struct {
	Span
	Op      LikeOp
	X       Expr
	Pattern Expr
	Escape  Expr // nil without ESCAPE
	Not     bool
}

// Exists is EXISTS (query); NOT EXISTS is a Unary Not over it.
type Exists struct {
	Span
	Query *Query
}

// Subquery is a scalar subquery: (query).
type Subquery struct {
	Span
	Query *Query
}

// Quantified is Left Op ANY|SOME|ALL (query), Op a comparison.
type Quantified struct {
	Span
	Op    BinaryOp
	All   bool // ALL; false for ANY and SOME
	Left  Expr
	Query *Query
}

// Row is a row constructor: (a, b) or ROW(a, b).
type Row struct {
	Span
	Items []Expr
}

// Case is CASE [Operand] WHEN ... THEN ... [ELSE Else] END. With an Operand,
// each When's Cond is a value compared to it; without, a condition.
type Case struct {
	Span
	Operand Expr // nil for a searched CASE
	Whens   []*When
	Else    Expr // nil without ELSE
}

// When is one WHEN Cond THEN Result of a Case.
type When struct {
	Span
	Cond, Result Expr
}

// Cast is CAST(X AS Type) or X::Type.
type Cast struct {
	Span
	X    Expr
	Type TypeName
}

// Extract is EXTRACT(Field FROM X); Field is lower case (year, month, day,
// hour, minute, second, quarter, week, dow, doy, epoch, ...).
type Extract struct {
	Span
	Field string
	X     Expr
}

// FuncCall is a function call, aggregate or window function. The special
// forms of the standard become calls too:
//
//	SUBSTRING(x FROM a FOR b)    substring(x, a, b) (FOR b alone: substring(x, 1, b))
//	POSITION(a IN b)             position(a, b)
//	TRIM([BOTH] [c] FROM x)      btrim(x[, c]); LEADING: ltrim, TRAILING: rtrim
//	CURRENT_DATE, CURRENT_TIMESTAMP  current_date(), current_timestamp()
//
// COALESCE, NULLIF, GREATEST and LEAST are ordinary calls.
type FuncCall struct {
	Span
	Name     string // lower case unless quoted
	Args     []Expr
	Star     bool         // count(*): Args is empty
	Distinct bool         // f(DISTINCT ...)
	OrderBy  []*OrderItem // f(x ORDER BY y)
	Filter   Expr         // FILTER (WHERE ...); nil without
	Over     *WindowSpec  // OVER ...; nil for a plain call
}

// TypeName is a type, canonically named: integer, bigint, smallint,
// tinyint, decimal, real, double, varchar, char, text, date, timestamp or
// boolean. Args are its parameters: decimal(15, 2), varchar(25).
type TypeName struct {
	Span
	Name string
	Args []int
}

func (*Literal) exprNode()        {}
func (*TypedLiteral) exprNode()   {}
func (*Interval) exprNode()       {}
func (*ColumnRef) exprNode()      {}
func (*Star) exprNode()           {}
func (*Unary) exprNode()          {}
func (*Binary) exprNode()         {}
func (*IsNull) exprNode()         {}
func (*IsBool) exprNode()         {}
func (*IsDistinctFrom) exprNode() {}
func (*Between) exprNode()        {}
func (*InList) exprNode()         {}
func (*InSubquery) exprNode()     {}
func (*LikeExpr) exprNode()       {}
func (*Exists) exprNode()         {}
func (*Subquery) exprNode()       {}
func (*Quantified) exprNode()     {}
func (*Row) exprNode()            {}
func (*Case) exprNode()           {}
func (*Cast) exprNode()           {}
func (*Extract) exprNode()        {}
func (*FuncCall) exprNode()       {}
