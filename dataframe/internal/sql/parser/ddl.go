package parser

import "strings"

// create reads CREATE TABLE, CREATE TABLE AS, CREATE VIEW and CREATE INDEX.
func (p *parser) create() Statement {
	start := p.advance().pos
	orReplace := false
	if p.acceptKw("or") {
		p.expectKw("replace")
		orReplace = true
	}
	temp := p.acceptKw("temp") || p.acceptKw("temporary")
	unique := p.isKw("unique")
	if unique {
		p.advance()
	}
	switch {
	case p.isKw("table") && !orReplace && !unique:
		p.advance()
		return p.createTable(start, temp)
	case p.isKw("view") && !unique:
		p.advance()
		return p.createView(start, orReplace, temp)
	case p.isKw("index") && !orReplace && !temp:
		p.advance()
		return p.createIndex(start, unique)
	}
	switch {
	case unique:
		p.unexpected("INDEX")
	case orReplace:
		p.unexpected("VIEW")
	case temp:
		p.unexpected("TABLE or VIEW")
	}
	p.unexpected("TABLE, VIEW or INDEX")
	return nil
}

func (p *parser) ifNotExists() bool {
	if !p.acceptKw("if") {
		return false
	}
	p.expectKw("not")
	p.expectKw("exists")
	return true
}

func (p *parser) createTable(start Pos, temp bool) Statement {
	ifNotExists := p.ifNotExists()
	name := p.tableName()
	// CREATE TABLE t [(a, b)] AS query: a list of bare names followed by AS.
	ctas := p.isKw("as")
	if p.isOp("(") {
		ctas = isWord(&p.toks[min(p.closing(p.i)+1, len(p.toks)-1)], "as")
	}
	if ctas {
		s := &CreateTableAs{Temp: temp, IfNotExists: ifNotExists, Name: name}
		if p.isOp("(") {
			s.Columns = p.nameList("a column name")
		}
		p.expectKw("as")
		s.Query = p.query()
		if p.isKw("with") {
			p.fail(p.tok().pos, "WITH [NO] DATA is not supported")
		}
		s.Span = p.span(start)
		return s
	}
	s := &CreateTable{Temp: temp, IfNotExists: ifNotExists, Name: name}
	p.expectOp("(")
	for {
		if p.isKw("constraint") || p.isKw("primary") || p.isKw("unique") || p.isKw("foreign") || p.isKw("check") {
			s.Constraints = append(s.Constraints, p.tableConstraint())
		} else {
			s.Columns = append(s.Columns, p.columnDef())
		}
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	s.Span = p.span(start)
	return s
}

func (p *parser) columnDef() *ColumnDef {
	start := p.tok().pos
	c := &ColumnDef{Name: p.name("a column name")}
	c.Type = p.typeName()
	null := false
	for {
		t := p.tok()
		switch {
		case p.acceptKw("constraint"):
			p.name("a constraint name")
		case p.acceptKw("not"):
			p.expectKw("null")
			if null {
				p.fail(t.pos, "conflicting NULL/NOT NULL declarations for column "+quoteText(c.Name))
			}
			c.NotNull = true
		case p.acceptKw("null"):
			if c.NotNull {
				p.fail(t.pos, "conflicting NULL/NOT NULL declarations for column "+quoteText(c.Name))
			}
			null = true
		case p.acceptKw("primary"):
			p.expectKw("key")
			c.PrimaryKey = true
		case p.acceptKw("unique"):
			c.Unique = true
		case p.acceptKw("default"):
			c.Default = p.exprPrec(precIs + 1)
		case p.isKw("check"), p.isKw("references"), p.isKw("generated"), p.isKw("collate"):
			p.fail(t.pos, strings.ToUpper(t.text)+" in a column definition is not supported")
		default:
			c.Span = p.span(start)
			return c
		}
	}
}

func (p *parser) tableConstraint() *TableConstraint {
	start := p.tok().pos
	c := &TableConstraint{}
	if p.acceptKw("constraint") {
		c.Name = p.name("a constraint name")
	}
	switch t := p.tok(); {
	case p.acceptKw("primary"):
		p.expectKw("key")
		c.Kind = PrimaryKey
	case p.acceptKw("unique"):
		c.Kind = Unique
	case p.isKw("foreign"), p.isKw("check"), p.isKw("exclude"):
		p.fail(t.pos, strings.ToUpper(t.text)+" constraints are not supported")
	default:
		p.unexpected("PRIMARY KEY or UNIQUE")
	}
	c.Columns = p.nameList("a column name")
	c.Span = p.span(start)
	return c
}

func (p *parser) createView(start Pos, orReplace, temp bool) *CreateView {
	s := &CreateView{OrReplace: orReplace, Temp: temp, Name: p.tableName()}
	if p.isOp("(") {
		s.Columns = p.nameList("a column name")
	}
	p.expectKw("as")
	s.Query = p.query()
	s.Span = p.span(start)
	return s
}

func (p *parser) createIndex(start Pos, unique bool) *CreateIndex {
	s := &CreateIndex{Unique: unique}
	if p.isKw("concurrently") {
		p.advance()
	}
	s.IfNotExists = p.ifNotExists()
	if !p.isKw("on") {
		s.Name = p.name("an index name")
	}
	p.expectKw("on")
	s.Table = p.tableName()
	if p.acceptKw("using") {
		s.Method = p.name("an index method")
	}
	p.expectOp("(")
	s.Keys = p.orderList()
	p.expectOp(")")
	s.Span = p.span(start)
	return s
}

func (p *parser) drop() *Drop {
	start := p.advance().pos
	s := &Drop{}
	switch {
	case p.acceptKw("table"):
		s.Object = TableObject
	case p.acceptKw("view"):
		s.Object = ViewObject
	case p.acceptKw("index"):
		s.Object = IndexObject
	default:
		p.unexpected("TABLE, VIEW or INDEX")
	}
	if p.acceptKw("if") {
		p.expectKw("exists")
		s.IfExists = true
	}
	for {
		s.Names = append(s.Names, p.tableName())
		if !p.acceptOp(",") {
			break
		}
	}
	if p.acceptKw("cascade") {
		s.Cascade = true
	} else {
		p.acceptKw("restrict")
	}
	s.Span = p.span(start)
	return s
}

func (p *parser) insert() *Insert {
	start := p.advance().pos
	p.expectKw("into")
	s := &Insert{Table: p.tableName()}
	if p.isKw("as") {
		p.fail(p.tok().pos, "an alias on the table of an INSERT is not supported")
	}
	if p.isOp("(") && isName(p.peek(1)) && !isWord(p.peek(1), "values") {
		s.Columns = p.nameList("a column name")
	}
	switch {
	case p.isKw("default"):
		p.fail(p.tok().pos, "DEFAULT VALUES is not supported")
	case p.isKw("select"), p.isKw("values"), p.isKw("with"), p.isOp("("):
		s.Query = p.query()
	default:
		p.unexpected("VALUES or a query")
	}
	if p.isKw("on") || p.isKw("returning") {
		p.fail(p.tok().pos, strings.ToUpper(p.tok().text)+" is not supported")
	}
	s.Span = p.span(start)
	return s
}

func (p *parser) update() *Update {
	start := p.advance().pos
	s := &Update{Table: p.tableName()}
	s.Alias = p.targetAlias("set")
	p.expectKw("set")
	for {
		astart := p.tok().pos
		a := &Assignment{Column: p.name("a column name")}
		if p.isOp("(") || p.isOp(".") {
			p.fail(p.tok().pos, "only plain column names can be assigned")
		}
		p.expectOp("=")
		if p.isKw("default") {
			p.fail(p.tok().pos, "SET column = DEFAULT is not supported")
		}
		a.Value = p.expr()
		a.Span = p.span(astart)
		s.Set = append(s.Set, a)
		if !p.acceptOp(",") {
			break
		}
	}
	if p.isKw("from") {
		p.fail(p.tok().pos, "UPDATE ... FROM is not supported")
	}
	if p.acceptKw("where") {
		s.Where = p.expr()
	}
	s.Span = p.span(start)
	return s
}

func (p *parser) delete() *Delete {
	start := p.advance().pos
	p.expectKw("from")
	s := &Delete{Table: p.tableName()}
	s.Alias = p.targetAlias("")
	if p.isKw("using") {
		p.fail(p.tok().pos, "DELETE ... USING is not supported")
	}
	if p.acceptKw("where") {
		s.Where = p.expr()
	}
	s.Span = p.span(start)
	return s
}

// targetAlias reads the [AS] alias of the table an UPDATE or DELETE changes;
// the word next, which would otherwise pass for an alias, ends the name.
func (p *parser) targetAlias(next string) string {
	switch {
	case p.acceptKw("as"):
		return p.name("an alias")
	case isName(p.tok()) && !isWord(p.tok(), next):
		return p.advance().text
	}
	return ""
}

func (p *parser) explain() *Explain {
	start := p.advance().pos
	s := &Explain{}
	if p.isOp("(") {
		p.fail(p.tok().pos, "EXPLAIN (options) is not supported; use EXPLAIN [ANALYZE] [VERBOSE]")
	}
	s.Analyze = p.acceptKw("analyze") || p.acceptKw("analyse")
	s.Verbose = p.acceptKw("verbose")
	s.Statement = p.statement()
	s.Span = p.span(start)
	return s
}

// set reads SET [SESSION|LOCAL] name = value or SET name TO value.
func (p *parser) set() *Set {
	start := p.advance().pos
	if !p.acceptKw("session") {
		p.acceptKw("local")
	}
	var parts []string
	for {
		t := p.tok()
		name := p.label("a setting name")
		if strings.Contains(name, ".") {
			p.fail(t.pos, "a setting name may not contain a dot")
		}
		parts = append(parts, name)
		if !p.acceptOp(".") {
			break
		}
	}
	s := &Set{Name: strings.Join(parts, ".")}
	if !p.acceptOp("=") {
		p.expectKw("to")
	}
	var vals []string
	for {
		switch t := p.tok(); {
		case t.kind == tokString || t.kind == tokIdent || t.kind == tokInteger || t.kind == tokNumeric:
			vals = append(vals, p.advance().text)
		case isOp(t, "-") && (p.peek(1).kind == tokInteger || p.peek(1).kind == tokNumeric):
			p.advance()
			vals = append(vals, "-"+p.advance().text)
		default:
			p.unexpected("a value")
		}
		if !p.acceptOp(",") {
			break
		}
	}
	s.Value = strings.Join(vals, ", ")
	s.Span = p.span(start)
	return s
}

func (p *parser) transaction() *Transaction {
	t := p.advance()
	s := &Transaction{}
	switch t.text {
	case "begin":
		s.Kind = Begin
	case "start":
		p.expectKw("transaction")
		s.Kind = Begin
	case "commit", "end":
		s.Kind = Commit
	default:
		s.Kind = Rollback
	}
	if !p.acceptKw("work") {
		p.acceptKw("transaction")
	}
	s.Span = p.span(t.pos)
	return s
}
