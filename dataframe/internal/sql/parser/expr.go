package parser

import (
	"fmt"
	"strconv"
	"strings"
)

// Binding strength of operators, loosest first (PostgreSQL's order).
const (
	precOr    = iota + 1
	precAnd   // AND
	precNot   // prefix NOT
	precIs    // IS [NOT] NULL|TRUE|FALSE|DISTINCT FROM, ISNULL, NOTNULL
	precCmp   // = <> < <= > >= (not associative)
	precLike  // [NOT] BETWEEN, IN, LIKE, ILIKE, SIMILAR TO (not associative)
	precOther // || ~ ~* !~ !~*
	precAdd   // + -
	precMul   // * / %
	precPow   // ^
	precUnary // prefix - +
	precCast  // ::
)

// infixWords are the keywords that may follow an operand; an unknown word
// there may misspell one of them.
var infixWords = []string{"and", "or", "is", "not", "between", "in", "like", "ilike"}

func (p *parser) expr() Expr { return p.exprPrec(precOr) }

// exprPrec reads an expression of operators binding at least as tightly as
// min.
func (p *parser) exprPrec(min int) Expr {
	p.enter()
	defer p.leave()
	var left Expr
	start := p.tok().pos
	switch {
	case p.isKw("not"):
		p.advance()
		x := p.exprPrec(precNot)
		left = &Unary{Span: p.span(start), Op: Not, X: x}
	case p.isOp("-"), p.isOp("+"):
		neg := p.advance().text == "-"
		x := p.exprPrec(precUnary)
		left = signed(p.span(start), neg, x)
	default:
		left = p.primary()
	}
	return p.infix(left, start, min)
}

// signed applies a unary sign; a sign before a number is folded into it.
func signed(span Span, neg bool, x Expr) Expr {
	if lit, ok := x.(*Literal); ok && (lit.Kind == LitInteger || lit.Kind == LitNumeric) {
		v := lit.Value
		if neg {
			if strings.HasPrefix(v, "-") {
				v = v[1:]
			} else {
				v = "-" + v
			}
		}
		return &Literal{Span: span, Kind: lit.Kind, Value: v}
	}
	op := Plus
	if neg {
		op = Neg
	}
	return &Unary{Span: span, Op: op, X: x}
}

var binaryOps = map[string]struct {
	op   BinaryOp
	prec int
}{
	"=": {Eq, precCmp}, "<>": {Ne, precCmp}, "<": {Lt, precCmp}, "<=": {Le, precCmp}, ">": {Gt, precCmp}, ">=": {Ge, precCmp},
	"||": {Concat, precOther}, "+": {Add, precAdd}, "-": {Sub, precAdd}, "*": {Mul, precMul}, "/": {Div, precMul},
	"%": {Mod, precMul}, "^": {Pow, precPow}, "or": {Or, precOr}, "and": {And, precAnd},
	"~": {Match, precOther}, "~*": {IMatch, precOther}, "!~": {NotMatch, precOther}, "!~*": {NotIMatch, precOther},
}

// infix extends left, which starts at start (at its opening parenthesis if
// parenthesized), with the infix and postfix operators that bind at least as
// tightly as min.
func (p *parser) infix(left Expr, start Pos, min int) Expr {
	last := 0 // the precedence of the operator last applied, for non-associativity
	for {
		t := p.tok()
		prec, word := 0, ""
		switch {
		case t.kind == tokOp:
			if t.text == "::" {
				prec = precCast
			} else if b, ok := binaryOps[t.text]; ok {
				prec = b.prec
			}
		case t.kind == tokIdent && !t.quoted:
			word = t.text
			switch word {
			case "or":
				prec = precOr
			case "and":
				prec = precAnd
			case "is", "isnull", "notnull":
				prec = precIs
			case "between", "in", "like", "ilike", "similar":
				prec = precLike
			case "not":
				switch n := p.peek(1); {
				case isWord(n, "between"), isWord(n, "in"), isWord(n, "like"), isWord(n, "ilike"), isWord(n, "similar"):
					prec = precLike
				}
			}
			if prec == 0 {
				p.expected = append(p.expected, infixWords...)
			}
		}
		if prec == 0 {
			p.unsupportedPostfix(t)
			return left
		}
		if prec < min {
			return left
		}
		if prec == last && (prec == precCmp || prec == precLike) {
			p.fail(t.pos, fmt.Sprintf("%s cannot follow another comparison without parentheses", p.describe(t)))
		}
		last = prec
		switch prec {
		case precIs:
			left = p.is(left, start)
		case precLike:
			left = p.like(left, start)
		case precCast:
			p.advance()
			typ := p.typeName()
			left = &Cast{Span: p.span(start), X: left, Type: typ}
		default:
			op := binaryOps[p.advance().text].op
			if op.IsComparison() && (p.isKw("any") || p.isKw("some") || p.isKw("all")) && isOp(p.peek(1), "(") {
				all := p.advance().text == "all"
				q := p.parenQuery("ANY and ALL take a subquery")
				left = &Quantified{Span: p.span(start), Op: op, All: all, Left: left, Query: q}
				continue
			}
			right := p.exprPrec(prec + 1)
			left = &Binary{Span: p.span(start), Op: op, Left: left, Right: right}
		}
	}
}

// unsupportedPostfix fails at t if it starts an operator PostgreSQL has and
// this parser does not, which would otherwise be taken for an alias or
// reported as a mere syntax error.
func (p *parser) unsupportedPostfix(t *token) {
	switch {
	case isOp(t, "["):
		p.fail(t.pos, "array subscripts are not supported")
	case isWord(t, "collate"):
		p.fail(t.pos, "COLLATE is not supported")
	case isWord(t, "at") && isWord(p.peek(1), "time"):
		p.fail(t.pos, "AT TIME ZONE is not supported")
	}
}

// is reads the rest of x IS ..., x ISNULL or x NOTNULL.
func (p *parser) is(x Expr, start Pos) Expr {
	switch p.advance().text {
	case "isnull":
		return &IsNull{Span: p.span(start), X: x}
	case "notnull":
		return &IsNull{Span: p.span(start), X: x, Not: true}
	}
	not := p.acceptKw("not")
	switch {
	case p.acceptKw("null"), p.acceptKw("unknown"):
		return &IsNull{Span: p.span(start), X: x, Not: not}
	case p.acceptKw("true"):
		return &IsBool{Span: p.span(start), X: x, Not: not, Value: true}
	case p.acceptKw("false"):
		return &IsBool{Span: p.span(start), X: x, Not: not, Value: false}
	case p.acceptKw("distinct"):
		p.expectKw("from")
		y := p.exprPrec(precIs + 1)
		return &IsDistinctFrom{Span: p.span(start), Left: x, Right: y, Not: not}
	}
	p.unexpected("NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM")
	return nil
}

// like reads the rest of x [NOT] BETWEEN|IN|LIKE|ILIKE|SIMILAR TO ...
func (p *parser) like(x Expr, start Pos) Expr {
	not := p.acceptKw("not")
	var op LikeOp
	switch p.advance().text {
	case "between":
		if p.isKw("symmetric") || p.isKw("asymmetric") {
			p.fail(p.tok().pos, "BETWEEN SYMMETRIC is not supported")
		}
		low := p.exprPrec(precOther)
		p.expectKw("and")
		high := p.exprPrec(precOther)
		return &Between{Span: p.span(start), X: x, Low: low, High: high, Not: not}
	case "in":
		if !p.isOp("(") {
			p.unexpected(`"("`)
		}
		if isOp(p.peek(1), ")") {
			// x IN (): SQLite's empty list (false; NOT IN: true), which
			// SQLite-made test corpora use; PostgreSQL refuses it.
			p.advance()
			p.advance()
			return &InList{Span: p.span(start), X: x, Not: not}
		}
		q, list := p.parenQueryOrList()
		if q != nil {
			return &InSubquery{Span: p.span(start), X: x, Query: q, Not: not}
		}
		return &InList{Span: p.span(start), X: x, List: list, Not: not}
	case "like":
		op = Like
	case "ilike":
		op = ILike
	case "similar":
		p.expectKw("to")
		op = SimilarTo
	}
	e := &LikeExpr{Op: op, X: x, Pattern: p.exprPrec(precOther), Not: not}
	if p.acceptKw("escape") {
		e.Escape = p.exprPrec(precOther)
	}
	e.Span = p.span(start)
	return e
}

func (p *parser) exprList() []Expr {
	var list []Expr
	for {
		list = append(list, p.expr())
		if !p.acceptOp(",") {
			return list
		}
	}
}

// parenQueryOrList reads a parenthesized query or a parenthesized list of
// expressions.
func (p *parser) parenQueryOrList() (*Query, []Expr) {
	p.expectOp("(")
	if p.isKw("select") || p.isKw("values") || p.isKw("with") {
		q := p.query()
		p.expectOp(")")
		return q, nil
	}
	list := p.exprList()
	// ((SELECT ...) UNION ...): a parenthesized query was the first operand.
	if sub, ok := list[0].(*Subquery); ok && len(list) == 1 && p.continuesQuery() {
		q := &Query{Body: p.setOps(bodyOf(sub.Query), sub.Pos)}
		p.queryTail(q)
		q.Span = p.span(sub.Pos)
		p.expectOp(")")
		return q, nil
	}
	p.expectOp(")")
	return nil, list
}

// parenQuery reads a parenthesized query; why says what else was wrong.
func (p *parser) parenQuery(why string) *Query {
	start := p.tok().pos
	q, list := p.parenQueryOrList()
	if q != nil {
		return q
	}
	if sub, ok := list[0].(*Subquery); ok && len(list) == 1 {
		return sub.Query
	}
	p.fail(start, why)
	return nil
}

func (p *parser) primary() Expr {
	t := p.tok()
	start := t.pos
	switch t.kind {
	case tokInteger, tokNumeric, tokString:
		p.advance()
		kind := LitString
		if t.kind == tokInteger {
			kind = LitInteger
		} else if t.kind == tokNumeric {
			kind = LitNumeric
		}
		return &Literal{Span: p.span(start), Kind: kind, Value: t.text}
	case tokOp:
		if t.text == "(" {
			q, list := p.parenQueryOrList()
			switch {
			case q != nil:
				return &Subquery{Span: p.span(start), Query: q}
			case len(list) == 1:
				return list[0]
			}
			return &Row{Span: p.span(start), Items: list}
		}
	case tokIdent:
		if t.quoted {
			return p.nameExpr()
		}
		paren := isOp(p.peek(1), "(")
		str := p.peek(1).kind == tokString
		switch {
		case t.text == "null":
			p.advance()
			return &Literal{Span: p.span(start), Kind: LitNull}
		case t.text == "true", t.text == "false":
			p.advance()
			return &Literal{Span: p.span(start), Kind: LitBool, Value: t.text}
		case t.text == "case":
			return p.caseExpr()
		case t.text == "cast":
			p.advance()
			p.expectOp("(")
			x := p.expr()
			p.expectKw("as")
			typ := p.typeName()
			p.expectOp(")")
			return &Cast{Span: p.span(start), X: x, Type: typ}
		case t.text == "exists" && paren:
			p.advance()
			q := p.parenQuery("EXISTS takes a subquery")
			return &Exists{Span: p.span(start), Query: q}
		case t.text == "extract" && paren:
			return p.extract()
		case t.text == "substring" && paren:
			return p.substring()
		case t.text == "position" && paren:
			return p.position()
		case t.text == "trim" && paren:
			return p.trim()
		case t.text == "row" && paren:
			p.advance()
			p.advance()
			var items []Expr
			if !p.isOp(")") {
				items = p.exprList()
			}
			p.expectOp(")")
			return &Row{Span: p.span(start), Items: items}
		case t.text == "interval" && str:
			return p.interval()
		case (t.text == "date" || t.text == "timestamp") && str:
			typ := TypeName{Span: Span{Pos: start, End: t.end}, Name: t.text}
			p.advance()
			v := p.advance().text
			return &TypedLiteral{Span: p.span(start), Type: typ, Value: v}
		case t.text == "current_date" || t.text == "current_timestamp":
			p.advance()
			return &FuncCall{Span: p.span(start), Name: t.text}
		case funcOnlyWords[t.text] && paren:
			return p.funcCall()
		case !isReserved(t.text):
			return p.nameExpr()
		}
	}
	p.unexpected("an expression")
	return nil
}

// nameExpr reads a column reference or a function call.
func (p *parser) nameExpr() Expr {
	start := p.tok().pos
	if isOp(p.peek(1), "(") {
		return p.funcCall()
	}
	c := &ColumnRef{Parts: []string{p.advance().text}}
	for p.acceptOp(".") {
		c.Parts = append(c.Parts, p.name("a column name"))
	}
	if p.isOp("(") {
		p.fail(start, "qualified function names are not supported")
	}
	c.Span = p.span(start)
	return c
}

func (p *parser) funcCall() *FuncCall {
	start := p.tok().pos
	f := &FuncCall{Name: p.advance().text}
	p.expectOp("(")
	switch {
	case p.acceptOp("*"):
		f.Star = true
	case !p.isOp(")"):
		if p.acceptKw("distinct") {
			f.Distinct = true
		} else {
			p.acceptKw("all")
		}
		f.Args = p.exprList()
		if p.acceptKw("order") {
			p.expectKw("by")
			f.OrderBy = p.orderList()
		}
	}
	p.expectOp(")")
	if p.isKw("within") {
		p.fail(p.tok().pos, "WITHIN GROUP is not supported")
	}
	if p.isKw("filter") && isOp(p.peek(1), "(") {
		p.advance()
		p.advance()
		p.expectKw("where")
		f.Filter = p.expr()
		p.expectOp(")")
	}
	if p.acceptKw("over") {
		if p.isOp("(") {
			f.Over = p.windowSpec()
		} else {
			wstart := p.tok().pos
			f.Over = &WindowSpec{Name: p.name("a window name or (")}
			f.Over.Span = p.span(wstart)
		}
	}
	f.Span = p.span(start)
	return f
}

func (p *parser) caseExpr() *Case {
	start := p.advance().pos
	c := &Case{}
	if !p.isKw("when") {
		c.Operand = p.expr()
	}
	for p.isKw("when") {
		wstart := p.advance().pos
		cond := p.expr()
		p.expectKw("then")
		c.Whens = append(c.Whens, &When{Cond: cond, Result: p.expr()})
		c.Whens[len(c.Whens)-1].Span = p.span(wstart)
	}
	if len(c.Whens) == 0 {
		p.unexpected("WHEN")
	}
	if p.acceptKw("else") {
		c.Else = p.expr()
	}
	p.expectKw("end")
	c.Span = p.span(start)
	return c
}

// extract reads EXTRACT(field FROM x).
func (p *parser) extract() *Extract {
	start := p.advance().pos
	p.advance()
	e := &Extract{}
	switch t := p.tok(); t.kind {
	case tokIdent:
		e.Field = t.text
	case tokString:
		e.Field = strings.ToLower(t.text)
	default:
		p.unexpected("a field name (year, month, day, ...)")
	}
	p.advance()
	p.expectKw("from")
	e.X = p.expr()
	p.expectOp(")")
	e.Span = p.span(start)
	return e
}

// substring reads SUBSTRING(x FROM a FOR b) or substring(x, a, b).
func (p *parser) substring() *FuncCall {
	start := p.advance().pos
	p.advance()
	f := &FuncCall{Name: "substring", Args: []Expr{p.expr()}}
	switch {
	case p.acceptKw("from"):
		f.Args = append(f.Args, p.expr())
		if p.acceptKw("for") {
			f.Args = append(f.Args, p.expr())
		}
	case p.isKw("for"):
		one := &Literal{Span: p.span(p.tok().pos), Kind: LitInteger, Value: "1"}
		p.advance()
		f.Args = append(f.Args, one, p.expr())
	case p.acceptOp(","):
		f.Args = append(f.Args, p.exprList()...)
	}
	p.expectOp(")")
	f.Span = p.span(start)
	return f
}

// position reads POSITION(a IN b) or position(a, b).
func (p *parser) position() *FuncCall {
	start := p.advance().pos
	p.advance()
	argStart := p.tok().pos
	f := &FuncCall{Name: "position", Args: []Expr{p.exprPrec(precOther)}}
	if p.acceptKw("in") {
		f.Args = append(f.Args, p.exprPrec(precOther))
	} else {
		f.Args[0] = p.infix(f.Args[0], argStart, precOr)
		if p.acceptOp(",") {
			f.Args = append(f.Args, p.exprList()...)
		}
	}
	p.expectOp(")")
	f.Span = p.span(start)
	return f
}

// trim reads TRIM([BOTH|LEADING|TRAILING] [chars] FROM x) or trim(x[, chars])
// as btrim, ltrim or rtrim(x[, chars]).
func (p *parser) trim() *FuncCall {
	start := p.advance().pos
	p.advance()
	f := &FuncCall{Name: "btrim"}
	switch {
	case p.acceptKw("both"):
	case p.acceptKw("leading"):
		f.Name = "ltrim"
	case p.acceptKw("trailing"):
		f.Name = "rtrim"
	}
	if p.acceptKw("from") {
		f.Args = p.exprList()
	} else {
		first := p.expr()
		if p.acceptKw("from") {
			f.Args = append(p.exprList(), first)
		} else {
			f.Args = []Expr{first}
			if p.acceptOp(",") {
				f.Args = append(f.Args, p.exprList()...)
			}
		}
	}
	p.expectOp(")")
	f.Span = p.span(start)
	return f
}

var intervalUnits = setOf("year", "month", "day", "hour", "minute", "second")

// interval reads INTERVAL 'value' [unit [(precision)]].
func (p *parser) interval() *Interval {
	start := p.advance().pos
	iv := &Interval{Value: p.advance().text, Precision: -1}
	if t := p.tok(); t.kind == tokIdent && !t.quoted && intervalUnits[t.text] {
		iv.Unit = p.advance().text
		if p.acceptOp("(") {
			iv.Precision = p.smallInt("a precision")
			p.expectOp(")")
		}
		if p.isKw("to") {
			p.fail(p.tok().pos, "interval ranges (DAY TO SECOND) are not supported")
		}
	}
	iv.Span = p.span(start)
	return iv
}

// smallInt reads a non-negative integer that fits an int32.
func (p *parser) smallInt(what string) int {
	t := p.tok()
	if t.kind != tokInteger {
		p.unexpected(what)
	}
	n, err := strconv.ParseInt(t.text, 10, 32)
	if err != nil {
		p.fail(t.pos, fmt.Sprintf("%s %s is out of range", what, t.text))
	}
	p.advance()
	return int(n)
}

// typeName reads a type and names it canonically.
func (p *parser) typeName() TypeName {
	t := p.tok()
	start := t.pos
	if t.kind != tokIdent {
		p.unexpected("a type name")
	}
	p.advance()
	typ := TypeName{}
	maxArgs := 0
	switch t.text {
	case "integer", "int", "int4":
		typ.Name = "integer"
	case "bigint", "int8":
		typ.Name = "bigint"
	case "smallint", "int2":
		typ.Name = "smallint"
	case "tinyint":
		typ.Name = "tinyint"
	case "decimal", "numeric", "dec":
		typ.Name, maxArgs = "decimal", 2
	case "real", "float4":
		typ.Name = "real"
	case "double":
		p.acceptKw("precision")
		typ.Name = "double"
	case "float8":
		typ.Name = "double"
	case "float":
		typ.Name = "double"
		if p.acceptOp("(") {
			pos := p.tok().pos
			n := p.smallInt("a precision")
			if n < 1 || n > 53 {
				p.fail(pos, "precision for type float must be between 1 and 53")
			}
			if n <= 24 {
				typ.Name = "real"
			}
			p.expectOp(")")
		}
	case "varchar":
		typ.Name, maxArgs = "varchar", 1
	case "character", "char":
		typ.Name, maxArgs = "char", 1
		if p.acceptKw("varying") {
			typ.Name = "varchar"
		}
	case "text", "string":
		typ.Name = "text"
	case "date":
		typ.Name = "date"
	case "timestamp":
		typ.Name = "timestamp"
		if p.acceptKw("without") {
			p.expectKw("time")
			p.expectKw("zone")
		} else if p.isKw("with") && isWord(p.peek(1), "time") {
			p.fail(p.tok().pos, "TIMESTAMP WITH TIME ZONE is not supported")
		}
	case "boolean", "bool":
		typ.Name = "boolean"
	default:
		p.fail(start, "unknown type "+p.describe(t))
	}
	if maxArgs > 0 && p.acceptOp("(") {
		for {
			typ.Args = append(typ.Args, p.smallInt("a type modifier"))
			if len(typ.Args) == maxArgs || !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
	}
	typ.Span = p.span(start)
	return typ
}
