package parser

// Keywords are recognised by their (folded) text. Most are not reserved:
// year, date, value, position and the like stay usable as names. Reserved
// words are PostgreSQL's: they never name a column, table or alias unless
// quoted.
var reservedWords = setOf(
	"all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both",
	"case", "cast", "check", "collate", "column", "constraint", "create", "current_catalog",
	"current_date", "current_role", "current_time", "current_timestamp", "current_user",
	"default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false",
	"fetch", "for", "foreign", "from", "grant", "group", "having", "in", "initially",
	"intersect", "into", "lateral", "leading", "limit", "localtime", "localtimestamp",
	"not", "null", "offset", "on", "only", "or", "order", "placing", "primary",
	"references", "returning", "select", "session_user", "some", "symmetric", "table",
	"then", "to", "trailing", "true", "union", "unique", "user", "using", "variadic",
	"when", "where", "window", "with",
)

// funcOnlyWords may name a function or type but not a column, table or
// alias: they could continue a FROM clause or an expression (LEFT JOIN, x
// LIKE y).
var funcOnlyWords = setOf(
	"authorization", "binary", "collation", "concurrently", "cross", "current_schema",
	"freeze", "full", "ilike", "inner", "is", "isnull", "join", "left", "like", "natural",
	"notnull", "outer", "overlaps", "right", "similar", "tablesample", "verbose",
)

// specialCallWords are function-like keywords with a grammar of their own;
// a function by one of these names must be quoted to be called plainly.
var specialCallWords = setOf("exists", "extract", "trim", "row")

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// isReserved reports whether an unquoted word may not be a column, table or
// alias name.
func isReserved(w string) bool { return reservedWords[w] || funcOnlyWords[w] }
