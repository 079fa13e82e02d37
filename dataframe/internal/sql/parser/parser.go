package parser

import (
	"fmt"
	"strings"
)

// Parse parses one statement; a trailing semicolon is allowed.
func Parse(sql string) (Statement, error) {
	p := newParser(sql)
	var s Statement
	err := p.run(func() {
		p.skipSemicolons()
		s = p.statement()
		p.skipSemicolons()
		if p.tok().kind != tokEOF {
			p.unexpected("end of input")
		}
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ParseScript parses statements separated by semicolons. Empty statements
// are skipped; an empty script gives no statements and no error.
func ParseScript(sql string) ([]Statement, error) {
	p := newParser(sql)
	var stmts []Statement
	err := p.run(func() {
		for {
			p.skipSemicolons()
			if p.tok().kind == tokEOF {
				return
			}
			stmts = append(stmts, p.statement())
			if p.tok().kind != tokEOF && !p.acceptOp(";") {
				p.unexpected(`";" or end of input`)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return stmts, nil
}

// ParseExpr parses one scalar expression.
func ParseExpr(sql string) (Expr, error) {
	p := newParser(sql)
	var e Expr
	err := p.run(func() {
		e = p.expr()
		if p.tok().kind != tokEOF {
			p.unexpected("end of input")
		}
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// maxDepth bounds nesting (parentheses, subqueries, NOT NOT ...) so that no
// input can exhaust the stack.
const maxDepth = 1000

type parser struct {
	src     string
	toks    []token
	i       int // the current token
	lastEnd int // where the last consumed token ends
	// expected lists the keywords tried at the current token, to suggest one
	// when the token misspells it.
	expected []string
	// bareAlias is the index of the last token taken as an alias without AS,
	// which may be a misspelled keyword (SELECT a FORM t).
	bareAlias int
	depth     int
	match     []int // match[i] is the index of the ")" closing toks[i]; built on demand
}

// bailout carries a syntax error up the parser's stack to run.
type bailout struct{ err *Error }

func newParser(src string) *parser {
	return &parser{src: src, toks: lex(src), bareAlias: -1, expected: make([]string, 0, 32)}
}

func (p *parser) run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			err = b.err
		}
	}()
	f()
	return nil
}

func (p *parser) tok() *token { return &p.toks[p.i] }

// peek returns the token n after the current one (the last token, EOF or an
// error, past the end).
func (p *parser) peek(n int) *token { return &p.toks[min(p.i+n, len(p.toks)-1)] }

func (p *parser) advance() *token {
	t := &p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	p.lastEnd = t.end
	p.expected = p.expected[:0]
	return t
}

// span is the span from start to the end of the last consumed token.
func (p *parser) span(start Pos) Span { return Span{Pos: start, End: p.lastEnd} }

func isWord(t *token, w string) bool { return t.kind == tokIdent && !t.quoted && t.text == w }

func isOp(t *token, op string) bool { return t.kind == tokOp && t.text == op }

// isKw reports whether the current token is the keyword kw, noting kw as
// expected if not.
func (p *parser) isKw(kw string) bool {
	if isWord(p.tok(), kw) {
		return true
	}
	p.expected = append(p.expected, kw)
	return false
}

func (p *parser) acceptKw(kw string) bool {
	if p.isKw(kw) {
		p.advance()
		return true
	}
	return false
}

func (p *parser) expectKw(kw string) *token {
	if !p.isKw(kw) {
		p.unexpected(strings.ToUpper(kw))
	}
	return p.advance()
}

func (p *parser) isOp(op string) bool { return isOp(p.tok(), op) }

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.advance()
		return true
	}
	return false
}

func (p *parser) expectOp(op string) *token {
	if !p.isOp(op) {
		p.unexpected(`"` + op + `"`)
	}
	return p.advance()
}

func (p *parser) skipSemicolons() {
	for p.acceptOp(";") {
	}
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.tok().pos, fmt.Sprintf("statement nested too deeply (more than %d levels)", maxDepth))
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) fail(pos Pos, msg string) {
	panic(bailout{&Error{Pos: pos, Msg: msg}})
}

// unexpected fails at the current token, which is not what the parser
// wanted ("expected want, found ..."). A word that misspells a keyword the
// parser would have taken here is reported as that keyword's misspelling.
func (p *parser) unexpected(want string) {
	t := p.tok()
	if t.kind == tokError {
		p.fail(t.pos, t.text)
	}
	if t.kind == tokIdent && !t.quoted {
		if k := closeKeyword(t.text, p.expected); k != "" {
			p.fail(t.pos, fmt.Sprintf("expected %s, found %s", strings.ToUpper(k), p.describe(t)))
		}
	}
	// A word just taken for an alias may be the misspelling instead.
	if p.bareAlias >= 0 && p.bareAlias == p.i-1 {
		a := &p.toks[p.bareAlias]
		if k := closeKeyword(a.text, p.expected); k != "" {
			p.fail(a.pos, fmt.Sprintf("expected %s, found %s", strings.ToUpper(k), p.describe(a)))
		}
	}
	p.fail(t.pos, fmt.Sprintf("expected %s, found %s", want, p.describe(t)))
}

func (p *parser) describe(t *token) string {
	if t.kind == tokEOF {
		return "end of input"
	}
	return quoteText(p.src[t.pos.Offset:t.end])
}

// isName reports whether t can be a column, table or alias name.
func isName(t *token) bool {
	return t.kind == tokIdent && (t.quoted || !isReserved(t.text))
}

// name reads a column, table or alias name.
func (p *parser) name(what string) string {
	if !isName(p.tok()) {
		p.unexpected(what)
	}
	return p.advance().text
}

// label reads a name after AS, where any word will do.
func (p *parser) label(what string) string {
	if p.tok().kind != tokIdent {
		p.unexpected(what)
	}
	return p.advance().text
}

// nameList reads (name, ...).
func (p *parser) nameList(what string) []string {
	p.expectOp("(")
	var names []string
	for {
		names = append(names, p.name(what))
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return names
}

// closing returns the index of the ")" that closes the "(" at index i, or
// the last token if none does.
func (p *parser) closing(i int) int {
	if p.match == nil {
		p.match = make([]int, len(p.toks))
		var open []int
		for j := range p.toks {
			p.match[j] = len(p.toks) - 1
			switch {
			case isOp(&p.toks[j], "("):
				open = append(open, j)
			case isOp(&p.toks[j], ")") && len(open) > 0:
				p.match[open[len(open)-1]] = j
				open = open[:len(open)-1]
			}
		}
	}
	return p.match[i]
}

func (p *parser) statement() Statement {
	switch {
	case p.isKw("select"), p.isKw("values"), p.isKw("with"), p.isOp("("):
		return p.query()
	case p.isKw("create"):
		return p.create()
	case p.isKw("drop"):
		return p.drop()
	case p.isKw("insert"):
		return p.insert()
	case p.isKw("update"):
		return p.update()
	case p.isKw("delete"):
		return p.delete()
	case p.isKw("explain"):
		return p.explain()
	case p.isKw("set"):
		return p.set()
	case p.isKw("begin"), p.isKw("start"), p.isKw("commit"), p.isKw("end"), p.isKw("rollback"), p.isKw("abort"):
		return p.transaction()
	}
	p.unexpected("a statement")
	return nil
}

// query reads a query expression: [WITH ...] body [ORDER BY] [LIMIT] ...
func (p *parser) query() *Query {
	p.enter()
	defer p.leave()
	start := p.tok().pos
	q := &Query{}
	if p.isKw("with") {
		q.With = p.with()
	}
	q.Body = p.setOps(nil, p.tok().pos)
	p.queryTail(q)
	q.Span = p.span(start)
	return q
}

// continuesQuery reports whether the current token goes on with a query
// whose first operand has been read.
func (p *parser) continuesQuery() bool {
	t := p.tok()
	for _, w := range [...]string{"union", "intersect", "except", "order", "limit", "offset", "fetch"} {
		if isWord(t, w) {
			return true
		}
	}
	return false
}

// queryTail reads ORDER BY, LIMIT, OFFSET and FETCH FIRST; LIMIT and OFFSET
// may come in either order.
func (p *parser) queryTail(q *Query) {
	if p.acceptKw("order") {
		p.expectKw("by")
		q.OrderBy = p.orderList()
	}
	limited := false
	for {
		switch {
		case !limited && p.isKw("limit"):
			p.advance()
			limited = true
			if !p.acceptKw("all") {
				q.Limit = p.expr()
			}
		case q.Offset == nil && p.isKw("offset"):
			p.advance()
			q.Offset = p.expr()
			if !p.acceptKw("rows") {
				p.acceptKw("row")
			}
		case !limited && p.isKw("fetch"):
			start := p.advance().pos
			limited = true
			if !p.acceptKw("first") {
				p.expectKw("next")
			}
			if p.isKw("row") || p.isKw("rows") {
				q.Limit = &Literal{Span: p.span(start), Kind: LitInteger, Value: "1"}
			} else {
				q.Limit = p.exprPrec(precUnary)
			}
			if !p.acceptKw("rows") {
				p.expectKw("row")
			}
			if p.isKw("with") {
				p.fail(p.tok().pos, "FETCH ... WITH TIES is not supported")
			}
			p.expectKw("only")
		default:
			return
		}
	}
}

func (p *parser) with() *With {
	start := p.advance().pos
	w := &With{Recursive: p.acceptKw("recursive")}
	for {
		cstart := p.tok().pos
		c := &CTE{Name: p.name("a query name")}
		if p.isOp("(") {
			c.Columns = p.nameList("a column name")
		}
		p.expectKw("as")
		if p.isKw("materialized") || p.isKw("not") {
			p.fail(p.tok().pos, "MATERIALIZED is not supported")
		}
		p.expectOp("(")
		c.Query = p.query()
		p.expectOp(")")
		c.Span = p.span(cstart)
		w.CTEs = append(w.CTEs, c)
		if !p.acceptOp(",") {
			break
		}
	}
	w.Span = p.span(start)
	return w
}

// setOps reads operands joined by UNION and EXCEPT; first, if not nil, is
// the first operand, already read. The operands start at start.
func (p *parser) setOps(first QueryBody, start Pos) QueryBody {
	left := p.intersects(first, start)
	for {
		var op SetOpKind
		switch {
		case p.isKw("union"):
			op = Union
		case p.isKw("except"):
			op = Except
		default:
			return left
		}
		p.advance()
		all := p.setQuantifier()
		right := p.intersects(nil, p.tok().pos)
		left = &SetOp{Span: p.span(start), Op: op, All: all, Left: left, Right: right}
	}
}

// intersects reads operands joined by INTERSECT, which binds tighter than
// UNION and EXCEPT.
func (p *parser) intersects(first QueryBody, start Pos) QueryBody {
	left := first
	if left == nil {
		left = p.queryPrimary()
	}
	for p.isKw("intersect") {
		p.advance()
		all := p.setQuantifier()
		right := p.queryPrimary()
		left = &SetOp{Span: p.span(start), Op: Intersect, All: all, Left: left, Right: right}
	}
	return left
}

func (p *parser) setQuantifier() bool {
	if p.acceptKw("all") {
		return true
	}
	p.acceptKw("distinct")
	return false
}

func (p *parser) queryPrimary() QueryBody {
	switch {
	case p.isKw("select"):
		return p.selectBlock()
	case p.isKw("values"):
		return p.values()
	case p.isOp("("):
		p.advance()
		q := p.query()
		p.expectOp(")")
		return bodyOf(q)
	}
	p.unexpected("SELECT, VALUES or a parenthesized query")
	return nil
}

// bodyOf is what a parenthesized query stands for as an operand: its body
// alone, unless it has a WITH, ORDER BY, LIMIT or OFFSET of its own.
func bodyOf(q *Query) QueryBody {
	if q.With == nil && q.OrderBy == nil && q.Limit == nil && q.Offset == nil {
		return q.Body
	}
	return q
}

func (p *parser) values() *Values {
	start := p.advance().pos
	v := &Values{}
	for {
		rowStart := p.tok().pos
		p.expectOp("(")
		row := p.exprList()
		p.expectOp(")")
		if len(v.Rows) > 0 && len(row) != len(v.Rows[0]) {
			p.fail(rowStart, fmt.Sprintf("VALUES lists must all be the same length (%d, not %d)", len(v.Rows[0]), len(row)))
		}
		v.Rows = append(v.Rows, row)
		if !p.acceptOp(",") {
			break
		}
	}
	v.Span = p.span(start)
	return v
}

func (p *parser) selectBlock() *Select {
	start := p.advance().pos
	s := &Select{}
	if p.acceptKw("distinct") {
		if p.acceptKw("on") {
			p.expectOp("(")
			s.DistinctOn = p.exprList()
			p.expectOp(")")
		} else {
			s.Distinct = true
		}
	} else {
		p.acceptKw("all")
	}
	for {
		s.Items = append(s.Items, p.selectItem())
		if !p.acceptOp(",") {
			break
		}
	}
	if p.isKw("into") {
		p.fail(p.tok().pos, "SELECT INTO is not supported; use CREATE TABLE ... AS")
	}
	if p.acceptKw("from") {
		for {
			s.From = append(s.From, p.tableExpr())
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKw("where") {
		s.Where = p.expr()
	}
	if p.acceptKw("group") {
		p.expectKw("by")
		for {
			if p.isOp("(") && isOp(p.peek(1), ")") {
				// () is the empty grouping set: one group of every row
				// (beside other keys it adds nothing).
				p.advance()
				p.advance()
				s.GroupAll = true
			} else {
				s.GroupBy = append(s.GroupBy, p.expr())
			}
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKw("having") {
		s.Having = p.expr()
	}
	if p.acceptKw("window") {
		for {
			wstart := p.tok().pos
			nw := &NamedWindow{Name: p.name("a window name")}
			p.expectKw("as")
			nw.Spec = p.windowSpec()
			nw.Span = p.span(wstart)
			s.Windows = append(s.Windows, nw)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	s.Span = p.span(start)
	return s
}

func (p *parser) selectItem() *SelectItem {
	start := p.tok().pos
	if star := p.star(); star != nil {
		return &SelectItem{Span: star.Span, Expr: star}
	}
	it := &SelectItem{Expr: p.expr()}
	if p.acceptKw("as") {
		it.Alias = p.label("an alias")
	} else if isName(p.tok()) {
		p.bareAlias = p.i
		it.Alias = p.advance().text
	}
	it.Span = p.span(start)
	return it
}

// star reads * or t.* (s.t.*), if that is what comes.
func (p *parser) star() *Star {
	start := p.tok().pos
	if p.acceptOp("*") {
		return &Star{Span: p.span(start)}
	}
	n := 0
	for isName(p.peek(n)) && isOp(p.peek(n+1), ".") {
		n += 2
		if isOp(p.peek(n), "*") {
			s := &Star{}
			for ; n > 0; n -= 2 {
				s.Table = append(s.Table, p.advance().text)
				p.advance()
			}
			p.advance()
			s.Span = p.span(start)
			return s
		}
	}
	return nil
}

func (p *parser) orderList() []*OrderItem {
	var items []*OrderItem
	for {
		items = append(items, p.orderItem())
		if !p.acceptOp(",") {
			return items
		}
	}
}

func (p *parser) orderItem() *OrderItem {
	start := p.tok().pos
	o := &OrderItem{Expr: p.expr()}
	if p.acceptKw("desc") {
		o.Desc = true
	} else if !p.acceptKw("asc") && p.isKw("using") {
		p.fail(p.tok().pos, "ORDER BY ... USING is not supported")
	}
	if p.acceptKw("nulls") {
		if p.acceptKw("first") {
			o.Nulls = NullsFirst
		} else {
			p.expectKw("last")
			o.Nulls = NullsLast
		}
	}
	o.Span = p.span(start)
	return o
}

// windowSpec reads (...) after OVER or AS in a WINDOW clause.
func (p *parser) windowSpec() *WindowSpec {
	start := p.expectOp("(").pos
	s := &WindowSpec{}
	if t := p.tok(); isName(t) && !isWord(t, "partition") && !isWord(t, "rows") && !isWord(t, "range") && !isWord(t, "groups") {
		s.Name = p.advance().text
	}
	if p.acceptKw("partition") {
		p.expectKw("by")
		s.PartitionBy = p.exprList()
	}
	if p.acceptKw("order") {
		p.expectKw("by")
		s.OrderBy = p.orderList()
	}
	var unit FrameUnit
	switch {
	case p.isKw("rows"):
		unit = Rows
	case p.isKw("range"):
		unit = Range
	case p.isKw("groups"):
		unit = Groups
	}
	if unit != 0 {
		fstart := p.advance().pos
		f := &Frame{Unit: unit}
		if p.acceptKw("between") {
			f.Start = p.frameBound()
			p.expectKw("and")
			f.End = p.frameBound()
		} else {
			f.Start = p.frameBound()
			f.End = FrameBound{Kind: CurrentRow}
		}
		if p.isKw("exclude") {
			p.fail(p.tok().pos, "EXCLUDE in a window frame is not supported")
		}
		f.Span = p.span(fstart)
		s.Frame = f
	}
	p.expectOp(")")
	s.Span = p.span(start)
	return s
}

func (p *parser) frameBound() FrameBound {
	switch {
	case p.acceptKw("unbounded"):
		if p.acceptKw("preceding") {
			return FrameBound{Kind: UnboundedPreceding}
		}
		p.expectKw("following")
		return FrameBound{Kind: UnboundedFollowing}
	case p.acceptKw("current"):
		p.expectKw("row")
		return FrameBound{Kind: CurrentRow}
	}
	b := FrameBound{Offset: p.exprPrec(precOther)}
	if p.acceptKw("preceding") {
		b.Kind = Preceding
	} else {
		p.expectKw("following")
		b.Kind = Following
	}
	return b
}
