package parser

// tableExpr reads a FROM item with the joins that follow it (joins are
// left-associative).
func (p *parser) tableExpr() TableExpr {
	p.enter()
	defer p.leave()
	start := p.tok().pos
	left := p.tablePrimary()
	for {
		natural := p.acceptKw("natural")
		kind := p.joinKind()
		if kind == 0 {
			if natural {
				p.unexpected("JOIN")
			}
			return left
		}
		if natural && kind == CrossJoin {
			p.fail(p.toks[p.i-1].pos, "NATURAL CROSS JOIN is not a join")
		}
		right := p.tablePrimary()
		j := &Join{Kind: kind, Natural: natural, Left: left, Right: right}
		if kind != CrossJoin && !natural {
			switch {
			case p.acceptKw("on"):
				j.On = p.expr()
			case p.acceptKw("using"):
				j.Using = p.nameList("a column name")
			default:
				p.unexpected("ON or USING")
			}
		}
		j.Span = p.span(start)
		left = j
	}
}

// joinKind reads [INNER | LEFT|RIGHT|FULL [OUTER] | CROSS] JOIN; 0 if no
// join comes.
func (p *parser) joinKind() JoinKind {
	var kind JoinKind
	switch {
	case p.isKw("join"):
		p.advance()
		return InnerJoin
	case p.isKw("inner"):
		kind = InnerJoin
	case p.isKw("left"):
		kind = LeftJoin
	case p.isKw("right"):
		kind = RightJoin
	case p.isKw("full"):
		kind = FullJoin
	case p.isKw("cross"):
		kind = CrossJoin
	default:
		return 0
	}
	p.advance()
	if kind == LeftJoin || kind == RightJoin || kind == FullJoin {
		p.acceptKw("outer")
	}
	p.expectKw("join")
	return kind
}

func (p *parser) tablePrimary() TableExpr {
	start := p.tok().pos
	switch {
	case p.isOp("("):
		if p.parenHoldsQuery() {
			p.advance()
			d := &DerivedTable{Query: p.query()}
			p.expectOp(")")
			d.Alias = p.alias()
			d.Span = p.span(start)
			return d
		}
		p.advance()
		t := p.tableExpr()
		p.expectOp(")")
		if p.isKw("as") || isName(p.tok()) {
			p.fail(p.tok().pos, "an alias on a parenthesized join is not supported")
		}
		return t
	case p.isKw("values"):
		// PostgreSQL wants (VALUES ...) here; the parentheses may be left out.
		v := p.values()
		d := &DerivedTable{Query: &Query{Span: v.Span, Body: v}}
		d.Alias = p.alias()
		d.Span = p.span(start)
		return d
	case p.isKw("lateral"):
		p.fail(start, "LATERAL is not supported")
	}
	if !isName(p.tok()) {
		p.unexpected("a table name, subquery or table function")
	}
	if isOp(p.peek(1), "(") {
		f := &TableFunc{Name: p.advance().text}
		p.advance()
		if !p.isOp(")") {
			f.Args = p.exprList()
		}
		p.expectOp(")")
		f.Alias = p.alias()
		f.Span = p.span(start)
		return f
	}
	t := &Table{Name: p.tableName()}
	t.Alias = p.alias()
	t.Span = p.span(start)
	return t
}

// parenHoldsQuery reports whether the "(" at the current token opens a
// query (a derived table) rather than a parenthesized join. Both may start
// with "((SELECT": what follows the inner parentheses tells them apart.
func (p *parser) parenHoldsQuery() bool {
	i := p.i
	for {
		next := &p.toks[min(i+1, len(p.toks)-1)]
		if isWord(next, "select") || isWord(next, "values") || isWord(next, "with") {
			return true
		}
		if !isOp(next, "(") {
			return false
		}
		after := &p.toks[min(p.closing(i+1)+1, len(p.toks)-1)]
		if !isOp(after, ")") {
			for _, w := range [...]string{"union", "intersect", "except", "order", "limit", "offset", "fetch"} {
				if isWord(after, w) {
					return true
				}
			}
			return false
		}
		i++
	}
}

// alias reads [AS] name [(columns)] after a FROM item, if one comes.
func (p *parser) alias() Alias {
	var a Alias
	switch {
	case p.acceptKw("as"):
		a.Name = p.name("an alias")
	case isName(p.tok()):
		p.bareAlias = p.i
		a.Name = p.advance().text
	default:
		return a
	}
	if p.isOp("(") {
		a.Columns = p.nameList("a column name")
	}
	return a
}

// tableName reads [schema.]name.
func (p *parser) tableName() TableName {
	start := p.tok().pos
	var t TableName
	t.Name = p.name("a table name")
	if p.acceptOp(".") {
		t.Schema, t.Name = t.Name, p.name("a table name")
		if p.isOp(".") {
			p.fail(p.tok().pos, "names qualified by a database are not supported")
		}
	}
	t.Span = p.span(start)
	return t
}
