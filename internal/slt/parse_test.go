package slt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	src := "# leading comment\r\n" +
		"skipif mysql\r\n" +
		"onlyif postgresql\r\n" +
		"query IT rowsort label-7\r\n" +
		"SELECT a,\r\n" +
		"# not SQL\r\n" +
		"  b FROM t\r\n" +
		"----\r\n" +
		"1\r\n" +
		"# a value, not a comment\r\n" +
		"   \t \r\n" + // white space only: blank
		"statement error relation \"t\" does not exist\n" +
		"DROP TABLE t\n" +
		"\n" +
		"query error\n" +
		"SELECT 1/0\n" +
		"----\n" +
		"division by zero\n" +
		"\n" +
		"DETAIL: more\n" +
		"\n" +
		"\n" +
		"query\n" +
		"SELECT 1\n" +
		"----\n" +
		"1\n" +
		"\n" +
		"hash-threshold 8\n" +
		"\n" +
		"statement count 3\n" +
		"DELETE FROM t" // no final newline
	recs := parse([]byte(src))
	if len(recs) != 6 {
		t.Fatalf("%d records: %+v", len(recs), recs)
	}
	q := recs[0]
	if q.kind != recQuery || q.line != 4 || q.types != "IT" || q.sort != rowSort || !q.sortGiven || q.label != "label-7" ||
		q.sql != "SELECT a,\n  b FROM t" || !q.hasResults || strings.Join(q.expected, "|") != "1|# a value, not a comment" ||
		len(q.conds) != 2 || q.conds[0] != (condition{false, "mysql"}) || q.conds[1] != (condition{true, "postgresql"}) {
		t.Errorf("query record: %+v", q)
	}
	if s := recs[1]; s.kind != recStatement || s.expect != expectError || s.errPattern != `relation "t" does not exist` || s.sql != "DROP TABLE t" || s.line != 12 {
		t.Errorf("statement error record: %+v", s)
	}
	if e := recs[2]; e.kind != recQuery || e.expect != expectError || e.errText != "division by zero\n\nDETAIL: more" {
		t.Errorf("query error record: %+v", e)
	}
	if b := recs[3]; b.kind != recQuery || b.types != "" || b.line != 23 {
		t.Errorf("bare query record: %+v", b)
	}
	if h := recs[4]; h.kind != recHashThreshold || h.threshold != 8 {
		t.Errorf("hash-threshold record: %+v", h)
	}
	if c := recs[5]; c.kind != recStatement || c.expect != expectCount || c.count != 3 || c.sql != "DELETE FROM t" {
		t.Errorf("statement count record at the end without a newline: %+v", c)
	}
}

func TestParseDirectives(t *testing.T) {
	tests := []struct {
		src  string
		kind recordKind
	}{
		{"halt", recHalt},
		{"\ufeffhalt\r", recHalt}, // a byte order mark and CRLF
		{"control sortmode valuesort", recSortMode},
		{"control substitution on", recIgnored},
		{"control sortmode sideways", recMalformed},
		{"mode skip", recModeSkip},
		{"mode unskip", recModeUnskip},
		{"mode output_hash", recIgnored},
		{"require parquet", recSkipFile},
		{"loop i 0 10", recLoopBegin},
		{"foreach x a b", recLoopBegin},
		{"endloop", recLoopEnd},
		{"subtest one", recIgnored},
		{"sleep 1s", recIgnored},
		{"load file.db\nmore", recUnknown},
		{"include other.slt", recUnknown},
		{"connection other\nstatement ok\nSELECT 1", recUnknown},
		{"statement ok\nSELECT 1\n----\n1", recMalformed},
		{"query I nosort,colnames\nSELECT 1", recQuery},
		{"query I partialsort(1)\nSELECT 1", recQuery},
		{"query II rowsort retry 3 backoff 1s\nSELECT 1, 2", recQuery},
	}
	for _, tt := range tests {
		recs := parse([]byte(tt.src))
		if len(recs) != 1 || recs[0].kind != tt.kind {
			t.Errorf("parse(%q) = %+v, want one record of kind %d", tt.src, recs, tt.kind)
		}
	}
	if r := parse([]byte("query II rowsort retry 3 backoff 1s\nSELECT 1, 2"))[0]; r.label != "" {
		t.Errorf("retry taken as a label: %+v", r)
	}
}

func FuzzParseFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.test")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"statement ok\nSELECT 1\n",
		"query IT rowsort lbl\nSELECT 1\n----\n1\nx\n\nquery IT rowsort lbl\nSELECT 2\n",
		"query I\nSELECT err\n----\n3 values hashing to 0123456789abcdef0123456789abcdef\n",
		"statement error (unclosed\nSELECT err\n----\nmsg\n\nmore\n\n\nhalt\n",
		"loop i 0 2\n\nmode skip\n\nendloop\n\nhalt\n\nstatement ok\nx\n",
		"query II colnames,valuesort\nSELECT panic\n----\na b\n1 2\n",
		"skipif postgresql\nhalt\n\nrequire x\n\nquery\n\n----\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		recs := parse(src)
		lines := strings.Count(string(src), "\n") + 1
		for _, r := range recs {
			if r.line < 1 || r.line > lines {
				t.Fatalf("record at line %d of %d: %+v", r.line, lines, r)
			}
			if r.kind == recMalformed && r.problem == "" {
				t.Fatalf("malformed record without a problem: %+v", r)
			}
		}
		sum, err := RunScript(context.Background(), func() (Engine, error) { return echoEngine{}, nil }, "fuzz.test", src,
			Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if want := countUnits(recs, DefaultEngines); sum.Passed+sum.Failed+sum.Skipped != want || sum.Files != 1 {
			t.Fatalf("summary %s does not count the %d records", sum, want)
		}
	})
}

// echoEngine answers any SQL: statements affect as many rows as the SQL
// has bytes; queries return one row of (length, SQL text); SQL that
// mentions err fails and SQL that mentions panic panics.
type echoEngine struct{}

func (echoEngine) Exec(_ context.Context, sql string) (int64, error) {
	return int64(len(sql)), echo(sql)
}

func (echoEngine) Query(_ context.Context, sql string) (int, [][]any, error) {
	if err := echo(sql); err != nil {
		return 0, nil, err
	}
	return 2, [][]any{{int64(len(sql)), sql}}, nil
}

func echo(sql string) error {
	if strings.Contains(sql, "panic") {
		panic("echo engine: " + sql)
	}
	if strings.Contains(sql, "err") {
		return errors.New("echo engine: " + sql)
	}
	return nil
}
