package slt

import (
	"strconv"
	"strings"
)

// recordKind is what a record asks the runner to do.
type recordKind uint8

const (
	recStatement     recordKind = iota // statement ok|error|count N|maybe
	recQuery                           // query <types> [sort] [label], query error
	recHashThreshold                   // hash-threshold N
	recHalt                            // halt: stop reading the file
	recSortMode                        // control sortmode X: the file's default sort mode
	recSkipFile                        // require X: the rest of the file is skipped
	recModeSkip                        // mode skip: skip records until mode unskip
	recModeUnskip                      // mode unskip
	recLoopBegin                       // loop/foreach: the body is skipped up to endloop
	recLoopEnd                         // endloop
	recIgnored                         // a record with no bearing on results (subtest, sleep, mode output_hash, ...)
	recUnknown                         // a directive this runner does not know: counted as skipped
	recMalformed                       // a known directive written wrongly: counted as failed
)

// isUnit reports whether a record counts as one passed, failed or skipped
// unit of the summary.
func (k recordKind) isUnit() bool {
	return k == recStatement || k == recQuery || k == recUnknown || k == recMalformed
}

type sortMode uint8

const (
	noSort sortMode = iota
	rowSort
	valueSort
)

func (m sortMode) String() string {
	switch m {
	case rowSort:
		return "rowsort"
	case valueSort:
		return "valuesort"
	}
	return "nosort"
}

// expectation is what a statement (or a query error record) must do.
type expectation uint8

const (
	expectOK    expectation = iota // statement ok, or a query with results
	expectError                    // statement error / query error
	expectCount                    // statement count N
	expectMaybe                    // statement maybe (DuckDB): either, but an error must match
)

type condition struct {
	only   bool   // onlyif (else skipif)
	engine string // the engine name it names
}

// record is one parsed record of a test file.
type record struct {
	kind  recordKind
	line  int // 1-based line of the directive (after any skipif/onlyif lines)
	conds []condition
	word  string // the directive's first word, for unknown and malformed records

	sql string

	expect     expectation
	errPattern string // regular expression written after "error" on the directive line
	errText    string // expected error message written under ----
	count      int64  // statement count N

	types      string // query type string, one character per column; "" for a bare "query"
	sort       sortMode
	sortGiven  bool // the header named a sort mode (else the file's default applies)
	label      string
	colnames   bool // CockroachDB: the first result line holds column names
	hasResults bool // a ---- line was present
	expected   []string

	threshold int    // hash-threshold N
	problem   string // why a record is malformed
}

// skipped reports whether the record's conditions exclude an engine that
// answers to names (compared without regard to case).
func (r *record) skipped(names []string) bool {
	for _, c := range r.conds {
		match := false
		for _, n := range names {
			if strings.EqualFold(n, c.engine) {
				match = true
				break
			}
		}
		if match != c.only {
			return true
		}
	}
	return false
}

// separator is the line between a record's SQL and its expected results.
const separator = "----"

// keywords start records. A blank line inside an expected error message
// ends the message only if the next line starts with one of them (or is
// blank too): sqllogictest-rs ends a multi-line error message with two
// blank lines, DuckDB with one.
var keywords = map[string]bool{
	"statement": true, "query": true, "skipif": true, "onlyif": true, "halt": true,
	"hash-threshold": true, "control": true, "mode": true, "require": true,
	"loop": true, "foreach": true, "concurrentloop": true, "concurrentforeach": true,
	"endloop": true, "subtest": true, "sleep": true, "include": true, "connection": true,
	"load": true, "system": true, "user": true, "let": true, "restart": true,
	"reconnect": true, "set": true, "unset": true, "require-env": true, "tags": true,
	"continue": true,
}

// parser walks the lines of one file. Lines are split on \n with a trailing
// \r removed, and a line of white space only counts as blank, as in
// SQLite's sqllogictest.c.
type parser struct {
	lines []string
	i     int // index of the next line to read
}

func newParser(src []byte) *parser {
	text := strings.TrimPrefix(string(src), "\ufeff")
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if strings.TrimSpace(l) == "" {
			l = ""
		}
		lines[i] = l
	}
	return &parser{lines: lines}
}

func (p *parser) more() bool { return p.i < len(p.lines) }

// sqlLine returns the next line of a record's SQL, passing over comment
// lines as SQLite's runner does; ok is false at a blank line, at ---- (sep
// true, consumed) or at the end of the file.
func (p *parser) sqlLine() (line string, sep, ok bool) {
	for p.more() {
		l := p.lines[p.i]
		if l == "" {
			return "", false, false
		}
		p.i++
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.TrimRight(l, " \t") == separator {
			return "", true, false
		}
		return l, false, true
	}
	return "", false, false
}

// sql reads a record's SQL up to a blank line or ----.
func (p *parser) sql() (sql string, sep bool) {
	var b strings.Builder
	for {
		l, s, ok := p.sqlLine()
		if !ok {
			return b.String(), s
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
}

// results reads expected result lines up to a blank line. Unlike SQL lines,
// a result line that starts with # is a value (as in sqllogictest-rs).
func (p *parser) results() []string {
	var out []string
	for p.more() && p.lines[p.i] != "" {
		out = append(out, p.lines[p.i])
		p.i++
	}
	return out
}

// errorText reads an expected error message under ----. It ends at a blank
// line followed by a blank line, the end of the file or a line that starts
// a record; paragraphs between are part of the message.
func (p *parser) errorText() string {
	var parts []string
	for {
		parts = append(parts, p.results()...)
		// p.i is at a blank line or the end.
		j := p.i + 1
		if j >= len(p.lines) || p.lines[j] == "" || strings.HasPrefix(p.lines[j], "#") {
			break
		}
		if f := strings.Fields(p.lines[j]); keywords[f[0]] {
			break
		}
		parts = append(parts, "")
		p.i = j
	}
	return strings.TrimSpace(strings.Join(parts, "\n"))
}

// skipRecord moves past the rest of the current record.
func (p *parser) skipRecord() {
	for p.more() && p.lines[p.i] != "" {
		p.i++
	}
}

// parse splits a file into records. It never fails: a record it cannot make
// sense of becomes recMalformed (a known directive written wrongly) or
// recUnknown (a directive it does not know), and the next record starts
// after the next blank line.
func parse(src []byte) []record {
	p := newParser(src)
	var recs []record
	for {
		// Find the first line of the next record.
		for p.more() && (p.lines[p.i] == "" || strings.HasPrefix(p.lines[p.i], "#")) {
			p.i++
		}
		if !p.more() {
			return recs
		}
		var r record
		for p.more() {
			l := p.lines[p.i]
			if strings.HasPrefix(l, "#") {
				p.i++
				continue
			}
			f := strings.Fields(l)
			if len(f) == 0 || (f[0] != "skipif" && f[0] != "onlyif") {
				break
			}
			c := condition{only: f[0] == "onlyif"}
			if len(f) > 1 {
				c.engine = f[1]
			}
			r.conds = append(r.conds, c)
			p.i++
		}
		if !p.more() || p.lines[p.i] == "" {
			continue // conditions with nothing to apply to
		}
		r.line = p.i + 1
		header := p.lines[p.i]
		p.i++
		p.parseRecord(&r, header)
		recs = append(recs, r)
	}
}

// parseRecord fills r from its directive line and the lines after it.
func (p *parser) parseRecord(r *record, header string) {
	f := strings.Fields(header)
	r.word = f[0]
	malformed := func(why string) {
		r.kind = recMalformed
		r.problem = why
		p.skipRecord()
	}
	switch f[0] {
	case "statement":
		p.parseStatement(r, header, f)
	case "query":
		p.parseQuery(r, header, f)
	case "hash-threshold":
		n, err := strconv.Atoi(arg(f, 1))
		if err != nil || n < 0 {
			malformed("hash-threshold needs a whole number")
			return
		}
		r.kind = recHashThreshold
		r.threshold = n
		p.skipRecord()
	case "halt":
		r.kind = recHalt
	case "control":
		r.kind = recIgnored
		if arg(f, 1) == "sortmode" {
			m, ok := parseSortMode(arg(f, 2))
			if !ok {
				malformed("control sortmode needs nosort, rowsort or valuesort")
				return
			}
			r.kind = recSortMode
			r.sort = m
		}
		p.skipRecord()
	case "mode":
		switch arg(f, 1) {
		case "skip":
			r.kind = recModeSkip
		case "unskip":
			r.kind = recModeUnskip
		default:
			r.kind = recIgnored // output_hash, output_result, debug: about printing
		}
		p.skipRecord()
	case "require":
		r.kind = recSkipFile
		p.skipRecord()
	case "loop", "foreach", "concurrentloop", "concurrentforeach":
		r.kind = recLoopBegin
		p.skipRecord()
	case "endloop":
		r.kind = recLoopEnd
		p.skipRecord()
	case "subtest", "sleep":
		r.kind = recIgnored
		p.skipRecord()
	default:
		r.kind = recUnknown
		p.skipRecord()
	}
}

func (p *parser) parseStatement(r *record, header string, f []string) {
	r.kind = recStatement
	switch arg(f, 1) {
	case "ok":
		r.expect = expectOK
	case "error":
		r.expect = expectError
		r.errPattern = restAfter(header, "error")
	case "maybe":
		r.expect = expectMaybe
	case "count":
		n, err := strconv.ParseInt(arg(f, 2), 10, 64)
		if err != nil || n < 0 {
			r.kind, r.problem = recMalformed, "statement count needs a whole number"
			p.skipRecord()
			return
		}
		r.expect = expectCount
		r.count = n
	default:
		r.kind, r.problem = recMalformed, "statement needs ok, error, count N or maybe"
		p.skipRecord()
		return
	}
	sql, sep := p.sql()
	r.sql = sql
	if sep {
		r.hasResults = true
		if r.expect == expectError || r.expect == expectMaybe {
			r.errText = p.errorText()
		} else {
			r.kind, r.problem = recMalformed, "statement "+f[1]+" has a ---- section (results need a query record)"
			p.skipRecord()
			return
		}
	}
	if strings.TrimSpace(sql) == "" {
		r.kind, r.problem = recMalformed, "statement has no SQL"
		p.skipRecord()
	}
}

func (p *parser) parseQuery(r *record, header string, f []string) {
	r.kind = recQuery
	if arg(f, 1) == "error" {
		r.expect = expectError
		r.errPattern = restAfter(header, "error")
	} else if len(f) > 1 {
		r.types = f[1]
		for _, c := range r.types {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '?') {
				r.kind, r.problem = recMalformed, "type string "+strconv.Quote(r.types)+" has a character that is not a letter"
				p.skipRecord()
				return
			}
		}
		if len(f) > 2 {
			if !r.parseOptions(f[2]) {
				r.kind, r.problem = recMalformed, "unknown sort mode "+strconv.Quote(f[2])
				p.skipRecord()
				return
			}
		}
		if len(f) > 3 && f[3] != "retry" {
			r.label = f[3]
		}
	}
	sql, sep := p.sql()
	r.sql = sql
	r.hasResults = sep
	if sep {
		if r.expect == expectError {
			r.errText = p.errorText()
		} else {
			r.expected = p.results()
		}
	}
	if strings.TrimSpace(sql) == "" {
		r.kind, r.problem = recMalformed, "query has no SQL"
		p.skipRecord()
	}
}

// parseOptions reads the sort mode position of a query header: a sort mode,
// or CockroachDB's comma-separated options.
func (r *record) parseOptions(s string) bool {
	for _, o := range strings.Split(s, ",") {
		if m, ok := parseSortMode(o); ok {
			r.sort, r.sortGiven = m, true
			continue
		}
		switch {
		case o == "colnames":
			r.colnames = true
		case o == "retry" || o == "":
		case strings.HasPrefix(o, "partialsort("):
			// Sorted within groups of equal leading columns: rowsort
			// accepts every order partialsort accepts.
			r.sort, r.sortGiven = rowSort, true
		default:
			return false
		}
	}
	return true
}

func parseSortMode(s string) (sortMode, bool) {
	switch s {
	case "nosort":
		return noSort, true
	case "rowsort", "sort": // DuckDB spells rowsort "sort" too
		return rowSort, true
	case "valuesort":
		return valueSort, true
	}
	return noSort, false
}

func arg(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// restAfter returns what follows the first whole word w of line, trimmed.
func restAfter(line, w string) string {
	f := strings.Fields(line)
	// The words before w are "statement" or "query"; find w's offset.
	idx := 0
	for _, word := range f {
		j := strings.Index(line[idx:], word)
		idx += j + len(word)
		if word == w {
			return strings.TrimSpace(line[idx:])
		}
	}
	return ""
}
