package parser

import (
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokEOF     tokKind = iota
	tokIdent           // text: the name, folded to lower case unless quoted
	tokString          // text: the value, quotes removed and '' unescaped
	tokInteger         // text: the digits
	tokNumeric         // text: the number (1.5, .5, 1e-3)
	tokOp              // text: the operator or punctuation; != is read as <>
	tokError           // lexing stopped here; text: why
)

type token struct {
	kind   tokKind
	quoted bool // a "quoted" identifier: never a keyword
	text   string
	pos    Pos
	end    int // byte offset just past the token
}

// lexer turns SQL text into tokens. It reads the whole input up front; a
// lexical error becomes a tokError token at its place, so that it is reported
// only when the parser gets there.
type lexer struct {
	src  string
	off  int
	toks []token
	// posAt's cursor: offsets only grow, so positions cost O(n) in total.
	cur, line, col int
}

func lex(src string) []token {
	l := &lexer{src: src, line: 1, col: 1, toks: make([]token, 0, len(src)/5+2)}
	for {
		t := l.next()
		l.toks = append(l.toks, t)
		if t.kind == tokEOF || t.kind == tokError {
			return l.toks
		}
	}
}

// posAt returns the position of byte offset off, which must not be before
// any offset asked for earlier.
func (l *lexer) posAt(off int) Pos {
	for l.cur < off {
		c := l.src[l.cur]
		if c == '\n' {
			l.line++
			l.col = 1
		} else if c&0xC0 != 0x80 {
			l.col++
		}
		l.cur++
	}
	return Pos{Offset: off, Line: l.line, Col: l.col}
}

func (l *lexer) errorf(off int, msg string) token {
	return token{kind: tokError, text: msg, pos: l.posAt(off), end: off}
}

func (l *lexer) next() token {
	if t, ok := l.skipSpace(); !ok {
		return t
	}
	start := l.off
	if start >= len(l.src) {
		return token{kind: tokEOF, pos: l.posAt(start), end: start}
	}
	c := l.src[start]
	switch {
	case isIdentStart(c):
		return l.ident()
	case c >= '0' && c <= '9', c == '.' && start+1 < len(l.src) && isDigit(l.src[start+1]):
		return l.number()
	case c == '\'':
		return l.str()
	case c == '"':
		return l.quotedIdent()
	}
	op := ""
	if strings.HasPrefix(l.src[start:], "!~*") {
		op = "!~*"
	} else if start+1 < len(l.src) {
		switch two := l.src[start : start+2]; two {
		case "<>", "<=", ">=", "||", "::", "~*", "!~":
			op = two
		case "!=":
			op = "<>"
			l.off += 2
			return token{kind: tokOp, text: op, pos: l.posAt(start), end: l.off}
		}
	}
	if op == "" && strings.IndexByte("(),;.*+-/%^=<>[]~", c) >= 0 {
		op = l.src[start : start+1]
	}
	if op == "" {
		r, _ := utf8.DecodeRuneInString(l.src[start:])
		if c == '$' || c == '?' {
			return l.errorf(start, "query parameters are not supported")
		}
		return l.errorf(start, "unexpected character "+quoteRune(r))
	}
	l.off += len(op)
	return token{kind: tokOp, text: op, pos: l.posAt(start), end: l.off}
}

// skipSpace skips white space and comments; ok is false (and t the error)
// for an unterminated comment.
func (l *lexer) skipSpace() (t token, ok bool) {
	for l.off < len(l.src) {
		switch c := l.src[l.off]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			l.off++
		case c == '-' && strings.HasPrefix(l.src[l.off:], "--"):
			if nl := strings.IndexByte(l.src[l.off:], '\n'); nl >= 0 {
				l.off += nl + 1
			} else {
				l.off = len(l.src)
			}
		case c == '/' && strings.HasPrefix(l.src[l.off:], "/*"):
			// Block comments nest, as in PostgreSQL.
			start, depth := l.off, 0
			for {
				switch {
				case l.off >= len(l.src):
					return l.errorf(start, "unterminated /* comment"), false
				case strings.HasPrefix(l.src[l.off:], "/*"):
					depth++
					l.off += 2
				case strings.HasPrefix(l.src[l.off:], "*/"):
					depth--
					l.off += 2
				default:
					l.off++
				}
				if depth == 0 {
					break
				}
			}
		default:
			return token{}, true
		}
	}
	return token{}, true
}

func (l *lexer) ident() token {
	start := l.off
	upper := false
	for l.off < len(l.src) && isIdentChar(l.src[l.off]) {
		if c := l.src[l.off]; c >= 'A' && c <= 'Z' {
			upper = true
		}
		l.off++
	}
	text := l.src[start:l.off]
	if upper {
		text = foldASCII(text)
	}
	return token{kind: tokIdent, text: text, pos: l.posAt(start), end: l.off}
}

// foldASCII lower-cases ASCII letters only, as PostgreSQL folds identifiers.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (l *lexer) number() token {
	start := l.off
	kind := tokInteger
	for l.off < len(l.src) && isDigit(l.src[l.off]) {
		l.off++
	}
	if l.off < len(l.src) && l.src[l.off] == '.' {
		kind = tokNumeric
		l.off++
		for l.off < len(l.src) && isDigit(l.src[l.off]) {
			l.off++
		}
	}
	if l.off < len(l.src) && (l.src[l.off] == 'e' || l.src[l.off] == 'E') {
		e := l.off + 1
		if e < len(l.src) && (l.src[e] == '+' || l.src[e] == '-') {
			e++
		}
		if e < len(l.src) && isDigit(l.src[e]) {
			kind = tokNumeric
			for l.off = e; l.off < len(l.src) && isDigit(l.src[l.off]); l.off++ {
			}
		}
	}
	if l.off < len(l.src) && isIdentChar(l.src[l.off]) {
		return l.errorf(start, "trailing junk after numeric literal "+quoteText(l.src[start:l.off+1]))
	}
	return token{kind: kind, text: l.src[start:l.off], pos: l.posAt(start), end: l.off}
}

// str reads a 'string literal'.
func (l *lexer) str() token {
	start := l.off
	text, ok := l.quoted('\'')
	if !ok {
		return l.errorf(start, "unterminated string literal")
	}
	return token{kind: tokString, text: text, pos: l.posAt(start), end: l.off}
}

// quotedIdent reads a "quoted identifier", which keeps its case.
func (l *lexer) quotedIdent() token {
	start := l.off
	text, ok := l.quoted('"')
	switch {
	case !ok:
		return l.errorf(start, "unterminated quoted identifier")
	case text == "":
		return l.errorf(start, "zero-length quoted identifier")
	}
	return token{kind: tokIdent, quoted: true, text: text, pos: l.posAt(start), end: l.off}
}

// quoted reads text between quote characters q, in which a doubled q stands
// for one; ok is false if the closing quote is missing.
func (l *lexer) quoted(q byte) (text string, ok bool) {
	l.off++
	var b strings.Builder
	from := l.off
	for {
		i := strings.IndexByte(l.src[l.off:], q)
		if i < 0 {
			return "", false
		}
		l.off += i + 1
		if l.off < len(l.src) && l.src[l.off] == q {
			b.WriteString(l.src[from:l.off])
			l.off++
			from = l.off
			continue
		}
		break
	}
	text = l.src[from : l.off-1]
	if b.Len() > 0 {
		b.WriteString(text)
		text = b.String()
	}
	return text, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }
