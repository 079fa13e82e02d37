package slt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	errNoTable = errors.New(`relation "nope" does not exist`)
	ints3      = answer{cols: 1, rows: rows1(int64(3), int64(1), int64(2))}
	pairs      = answer{cols: 2, rows: [][]any{{int64(2), "b"}, {int64(1), "a"}, {int64(3), "c c"}}}
)

// failureAt says a failure is expected at a line, with a message containing
// some text.
type failureAt struct {
	line int
	text string
}

func TestRunRecords(t *testing.T) {
	tests := []struct {
		name     string
		answers  map[string]answer
		script   string
		opts     Options
		want     counts
		failures []failureAt
	}{
		{
			name:    "statement ok",
			answers: map[string]answer{"CREATE TABLE t(a INT)": {}},
			script: `
				statement ok
				CREATE TABLE t(a INT)

				statement ok
				DROP TABLE nope
			`,
			want:     counts{1, 1, 0},
			failures: []failureAt{{4, `statement failed: fake engine`}},
		},
		{
			name:    "multi-line SQL is joined with newlines",
			answers: map[string]answer{"INSERT INTO t\nVALUES (1),\n(2)": {}},
			script: `
				statement ok
				INSERT INTO t
				# a comment inside the SQL is not SQL
				VALUES (1),
				(2)
			`,
			want: counts{1, 0, 0},
		},
		{
			name:    "statement error without a pattern",
			answers: map[string]answer{"SELECT * FROM nope": {err: errNoTable}, "SELECT 1": {}},
			script: `
				statement error
				SELECT * FROM nope

				statement error
				SELECT 1
			`,
			want:     counts{1, 1, 0},
			failures: []failureAt{{4, "succeeded, but it should have failed"}},
		},
		{
			name:    "statement error with a regex",
			answers: map[string]answer{"SELECT * FROM nope": {err: errNoTable}},
			script: `
				statement error relation "\w+" does not exist
				SELECT * FROM nope

				statement error column .* does not exist
				SELECT * FROM nope

				statement error relation "nope
				SELECT * FROM nope

				statement error pgcode 42P01 relation .* does not exist
				SELECT * FROM nope
			`,
			want:     counts{3, 1, 0},
			failures: []failureAt{{4, "wrong error"}},
		},
		{
			name:    "statement error with the message under ---- (DuckDB, sqllogictest-rs)",
			answers: map[string]answer{"SELECT * FROM nope": {err: errNoTable}},
			script: `
				statement error
				SELECT * FROM nope
				----
				does not   exist

				statement error
				SELECT * FROM nope
				----
				no such table

				statement error
				SELECT * FROM nope
				----
				<REGEX>:.*"nope".*
			`,
			want:     counts{2, 1, 0},
			failures: []failureAt{{6, "wrong error"}},
		},
		{
			name:    "a multi-paragraph error message (sqllogictest-rs ends it with two blank lines)",
			answers: map[string]answer{"SELECT 1/0": {err: errors.New("division by zero\n\nHINT: do not")}, "SELECT 1": {cols: 1, rows: rows1(int64(1))}},
			script: `
				statement error
				SELECT 1/0
				----
				division by zero

				HINT: do not


				query I
				SELECT 1
				----
				1
			`,
			want: counts{2, 0, 0},
		},
		{
			name:    "statement maybe",
			answers: map[string]answer{"SELECT * FROM nope": {err: errNoTable}, "SELECT 1": {}},
			script: `
				statement maybe
				SELECT 1

				statement maybe
				SELECT * FROM nope
				----
				does not exist
			`,
			want: counts{2, 0, 0},
		},
		{
			name:    "statement count",
			answers: map[string]answer{"INSERT INTO t VALUES (1), (2)": {affected: 2}},
			script: `
				statement count 2
				INSERT INTO t VALUES (1), (2)

				statement count 3
				INSERT INTO t VALUES (1), (2)
			`,
			want:     counts{1, 1, 0},
			failures: []failureAt{{4, "wrong number of rows affected"}},
		},
		{
			name:    "query nosort, one value per line",
			answers: map[string]answer{"SELECT a FROM t": ints3},
			script: `
				query I nosort
				SELECT a FROM t
				----
				3
				1
				2

				query I
				SELECT a FROM t
				----
				1
				2
				3
			`,
			want:     counts{1, 1, 0},
			failures: []failureAt{{8, "wrong result"}},
		},
		{
			name:    "query rowsort and valuesort",
			answers: map[string]answer{"SELECT a FROM t": ints3, "SELECT a, b FROM t": pairs},
			script: `
				query I rowsort
				SELECT a FROM t
				----
				1
				2
				3

				query IT rowsort
				SELECT a, b FROM t
				----
				1
				a
				2
				b
				3
				c c

				query IT valuesort
				SELECT a, b FROM t
				----
				1
				2
				3
				a
				b
				c c
			`,
			want: counts{3, 0, 0},
		},
		{
			name:    "one row per line: tabs (DuckDB) and spaces (sqllogictest-rs)",
			answers: map[string]answer{"SELECT a, b FROM t": pairs},
			script: `
				query IT
				SELECT a, b FROM t
				----
				2	b
				1	a
				3	c c

				query IT rowsort
				SELECT a, b FROM t
				----
				1 a
				2 b
				3   c c

				query IT
				SELECT a, b FROM t
				----
				2 b
				1 a
				3 c d
			`,
			want:     counts{2, 1, 0},
			failures: []failureAt{{15, "wrong result"}},
		},
		{
			name:    "control sortmode sets the file's default",
			answers: map[string]answer{"SELECT a FROM t": ints3},
			script: `
				control sortmode rowsort

				query I
				SELECT a FROM t
				----
				1
				2
				3
			`,
			want: counts{1, 0, 0},
		},
		{
			name: "hashes",
			answers: map[string]answer{
				"SELECT a FROM t": ints3,
				"SELECT x":        {cols: 2, rows: [][]any{{"a", ""}, {"b", nil}}},
			},
			// The hashes were computed with md5sum, not with this package:
			// printf '1\n2\n3\n' | md5sum and printf '(empty)\nNULL\na\nb\n' | md5sum
			// (valuesort orders the values by their bytes).
			script: `
				hash-threshold 2

				query I rowsort
				SELECT a FROM t
				----
				3 values hashing to c0710d6b4f15dfa88f600b0e6b624077

				query TT valuesort
				SELECT x
				----
				4 values hashing to 211ac65da1ecf048c959d3a21419f5b0

				query I nosort
				SELECT a FROM t
				----
				3 values hashing to c0710d6b4f15dfa88f600b0e6b624077

				query I rowsort
				SELECT a FROM t
				----
				4 values hashing to c0710d6b4f15dfa88f600b0e6b624077
			`,
			want:     counts{2, 2, 0},
			failures: []failureAt{{13, "wrong result hash"}, {18, "wrong result hash"}},
		},
		{
			name: "labels",
			answers: map[string]answer{
				"SELECT a FROM t":     ints3,
				"SELECT a FROM t2":    {cols: 1, rows: rows1(int64(2), int64(3), int64(1))},
				"SELECT a + 1 FROM t": {cols: 1, rows: rows1(int64(4), int64(2), int64(3))},
			},
			script: `
				query I rowsort label-1
				SELECT a FROM t
				----
				1
				2
				3

				query I rowsort label-1
				SELECT a FROM t2

				query I rowsort label-1
				SELECT a + 1 FROM t
			`,
			want:     counts{2, 1, 0},
			failures: []failureAt{{11, "differs from that of label label-1 at line 1"}},
		},
		{
			name:    "a skipped labelled record seeds its label",
			answers: map[string]answer{"SELECT a + 1 FROM t": {cols: 1, rows: rows1(int64(4), int64(2), int64(3))}},
			script: `
				onlyif mysql
				query I rowsort label-2
				SELECT a FROM t
				----
				3 values hashing to c0710d6b4f15dfa88f600b0e6b624077

				query I rowsort label-2
				SELECT a + 1 FROM t
			`,
			want:     counts{0, 1, 1},
			failures: []failureAt{{7, "label label-2 at line 2"}},
		},
		{
			name:    "halt stops the file; records after it are not counted",
			answers: map[string]answer{"SELECT 1": {}},
			script: `
				statement ok
				SELECT 1

				onlyif mysql
				halt

				halt

				statement ok
				SELECT 2
			`,
			want: counts{1, 0, 0},
		},
		{
			name:    "skipif and onlyif with the default engine names",
			answers: map[string]answer{"SELECT 1": {}},
			script: `
				skipif postgresql
				statement ok
				SELECT 2

				onlyif PostgreSQL
				statement ok
				SELECT 1

				onlyif mysql
				statement ok
				SELECT 2

				skipif mysql
				skipif mssql
				statement ok
				SELECT 1

				onlyif shoal
				statement ok
				SELECT 1
			`,
			want: counts{3, 0, 2},
		},
		{
			name:    "skipif and onlyif with given engine names",
			answers: map[string]answer{"SELECT 1": {}},
			opts:    Options{Engines: []string{"sqlite"}},
			script: `
				onlyif sqlite
				statement ok
				SELECT 1

				onlyif postgresql
				statement ok
				SELECT 2
			`,
			want: counts{1, 0, 1},
		},
		{
			name:    "query error",
			answers: map[string]answer{"SELECT * FROM nope": {err: errNoTable}, "SELECT a FROM t": ints3},
			script: `
				query error
				SELECT * FROM nope

				query error does not exist
				SELECT * FROM nope

				query error syntax error
				SELECT * FROM nope

				query error
				SELECT a FROM t

				query error
				SELECT * FROM nope
				----
				relation "nope" does not exist
			`,
			want:     counts{3, 2, 0},
			failures: []failureAt{{7, "wrong error"}, {10, "should have failed"}},
		},
		{
			name:    "a failing query",
			answers: map[string]answer{"SELECT * FROM nope": {err: errNoTable}},
			script: `
				query I
				SELECT * FROM nope
				----
				1
			`,
			want:     counts{0, 1, 0},
			failures: []failureAt{{1, "query failed"}},
		},
		{
			name:    "column count must match the type string",
			answers: map[string]answer{"SELECT a, b FROM t": pairs},
			script: `
				query I
				SELECT a, b FROM t
				----
				1
			`,
			want:     counts{0, 1, 0},
			failures: []failureAt{{1, "returned 2 columns, but its type string \"I\" has 1"}},
		},
		{
			name:    "colnames (CockroachDB)",
			answers: map[string]answer{"SELECT a, b FROM t": pairs},
			script: `
				query IT colnames,rowsort
				SELECT a, b FROM t
				----
				a b
				1 a
				2 b
				3 c c
			`,
			want: counts{1, 0, 0},
		},
		{
			name: "query without ----",
			answers: map[string]answer{
				"SELECT a FROM t":     ints3,
				"SELECT a FROM empty": {cols: 1},
			},
			script: `
				query I
				SELECT a FROM empty

				query I
				SELECT a FROM t
			`,
			want:     counts{1, 1, 0},
			failures: []failureAt{{4, "no ---- line"}},
		},
		{
			name:    "empty result",
			answers: map[string]answer{"SELECT a FROM empty": {cols: 1}},
			script: `
				query I
				SELECT a FROM empty
				----

				query I
				SELECT a FROM empty
				----
				1
			`,
			want:     counts{1, 1, 0},
			failures: []failureAt{{5, "1 expected lines, but the query returned 0 rows"}},
		},
		{
			name:    "malformed records fail with their line and the file goes on",
			answers: map[string]answer{"SELECT 1": {}},
			script: `
				statement okay
				SELECT 1

				query I
				----
				1

				hash-threshold lots

				statement count many
				SELECT 1

				query I wobblesort
				SELECT 1
				----
				1

				query I-T
				SELECT 1

				statement ok

				statement ok
				SELECT 1
			`,
			want: counts{1, 7, 0},
			failures: []failureAt{
				{1, "statement needs ok, error"}, {4, "query has no SQL"}, {8, "hash-threshold needs"},
				{10, "count needs a whole number"}, {13, "unknown sort mode"}, {18, "not a letter"},
				{21, "statement has no SQL"},
			},
		},
		{
			name:    "require skips the rest of the file (DuckDB)",
			answers: map[string]answer{"SELECT 1": {}},
			script: `
				statement ok
				SELECT 1

				require parquet

				statement ok
				SELECT 1

				query I
				SELECT 1
				----
				1
			`,
			want: counts{1, 0, 2},
		},
		{
			name:    "mode skip, loops and unknown directives (DuckDB)",
			answers: map[string]answer{"SELECT 1": {}},
			script: `
				mode skip

				statement ok
				SELECT 2

				mode unskip

				loop i 0 10

				statement ok
				INSERT INTO t VALUES (${i})

				loop j 0 2

				statement ok
				SELECT ${j}

				endloop

				endloop

				load __TEST_DIR__/x.db

				mode output_result

				statement ok
				SELECT 1
			`,
			want: counts{1, 0, 4},
		},
		{
			name:    "StopAfter stops the file and skips the rest",
			answers: map[string]answer{"SELECT 1": {}},
			opts:    Options{StopAfter: 2},
			script: `
				statement ok
				SELECT 2

				statement ok
				SELECT 1

				statement ok
				SELECT 3

				statement ok
				SELECT 1

				statement ok
				SELECT 1
			`,
			want:     counts{1, 2, 2},
			failures: []failureAt{{1, "SELECT 2"}, {7, "SELECT 3"}},
		},
		{
			name:    "an engine panic is a failure and the file goes on",
			answers: map[string]answer{"SELECT boom": {panic: "index out of range [3]"}, "SELECT 1": {}},
			script: `
				statement ok
				SELECT boom

				statement error
				SELECT boom

				statement ok
				SELECT 1
			`,
			want:     counts{1, 2, 0},
			failures: []failureAt{{1, "engine panicked: index out of range [3]"}, {4, "engine panicked"}},
		},
		{
			name:    "a timeout is a failure and the file goes on",
			answers: map[string]answer{"SELECT slow": {block: true}, "SELECT 1": {}},
			opts:    Options{Timeout: 20 * time.Millisecond},
			script: `
				statement error
				SELECT slow

				statement ok
				SELECT 1
			`,
			want:     counts{1, 1, 0},
			failures: []failureAt{{1, "statement timed out after 20ms"}},
		},
		{
			name:    "value spellings of other runners",
			answers: map[string]answer{"SELECT x": {cols: 4, rows: [][]any{{0.5, true, "", "ünï"}}}},
			script: `
				query RIIT
				SELECT x
				----
				0.500
				1
				0
				ünï

				query RIIT
				SELECT x
				----
				0.5	true	·	ünï

				query RIIT
				SELECT x
				----
				0.500 1 (empty) @@n@@
			`,
			want: counts{3, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFake(tt.answers)
			sum := runFake(t, e, tt.script, tt.opts)
			checkCounts(t, sum, tt.want)
			if sum.Files != 1 {
				t.Errorf("Files = %d, want 1", sum.Files)
			}
			if len(sum.Failures) != len(tt.failures) {
				t.Fatalf("%d failures, want %d: %+v", len(sum.Failures), len(tt.failures), sum.Failures)
			}
			for i, want := range tt.failures {
				f := sum.Failures[i]
				if f.Line != want.line || !strings.Contains(f.Error, want.text) {
					t.Errorf("failure %d at line %d: %q; want line %d containing %q", i, f.Line, f.Error, want.line, want.text)
				}
				if f.File != "t.test" {
					t.Errorf("failure %d names file %q", i, f.File)
				}
			}
			if !e.closed {
				t.Error("the engine was not closed")
			}
		})
	}
}

func TestFailureCarriesExpectedAndActual(t *testing.T) {
	e := newFake(map[string]answer{"SELECT a FROM t": ints3})
	sum := runFake(t, e, `
		query I rowsort
		SELECT a FROM t
		----
		1
		2
		4
	`, Options{})
	if len(sum.Failures) != 1 {
		t.Fatalf("failures: %+v", sum.Failures)
	}
	f := sum.Failures[0]
	want := Failure{File: "t.test", Line: 1, SQL: "SELECT a FROM t", Expected: "1\n2\n4", Actual: "1\n2\n3", Error: "wrong result (after rowsort)"}
	if f != want {
		t.Errorf("failure\n%+v\nwant\n%+v", f, want)
	}
}

func TestVerboseAndMaxFailures(t *testing.T) {
	var log bytes.Buffer
	e := newFake(nil)
	sum := runFake(t, e, `
		statement ok
		SELECT 1

		statement ok
		SELECT 2
	`, Options{Verbose: &log, MaxFailures: 1})
	if sum.Failed != 2 || len(sum.Failures) != 1 {
		t.Errorf("Failed %d, %d kept; want 2 and 1", sum.Failed, len(sum.Failures))
	}
	for _, want := range []string{"t.test:1: statement failed", "t.test:4: statement failed", "    SELECT 2"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("verbose output lacks %q:\n%s", want, log.String())
		}
	}
}

// TestStuckEngine: an engine that ignores its context is abandoned after
// the grace period; the rest of the file is skipped and the engine is
// closed once it returns.
func TestStuckEngine(t *testing.T) {
	hang := make(chan struct{})
	e := newFake(map[string]answer{"SELECT stuck": {hang: hang}, "SELECT 1": {}})
	sum := runFake(t, e, `
		statement ok
		SELECT stuck

		statement ok
		SELECT 1

		query I
		SELECT 1
		----
		1
	`, Options{Timeout: 20 * time.Millisecond})
	checkCounts(t, sum, counts{0, 1, 2})
	if len(sum.Failures) == 1 && !strings.Contains(sum.Failures[0].Error, "the rest of the file is skipped") {
		t.Errorf("failure: %q", sum.Failures[0].Error)
	}
	if e.ran("SELECT 1") {
		t.Error("the engine was called while it was stuck")
	}
	close(hang)
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.mu.Lock()
		closed := e.closed
		e.mu.Unlock()
		if closed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the engine was not closed after it returned")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEngineFactoryFails(t *testing.T) {
	sum, err := RunScript(context.Background(), func() (Engine, error) { return nil, errors.New("no memory") },
		"f.test", []byte("statement ok\nSELECT 1\n\nstatement ok\nSELECT 2\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, sum, counts{0, 1, 2})
	if len(sum.Failures) != 1 || sum.Failures[0].Line != 0 || !strings.Contains(sum.Failures[0].Error, "no memory") {
		t.Errorf("failures: %+v", sum.Failures)
	}
	sum, _ = RunScript(context.Background(), func() (Engine, error) { panic("factory") }, "f.test", []byte("halt\n"), Options{})
	checkCounts(t, sum, counts{0, 1, 0})
}

func TestCancelledRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := newFake(map[string]answer{"SELECT 1": {}})
	calls := 0
	sum, err := RunScript(ctx, func() (Engine, error) { calls++; cancel(); return e, nil }, "c.test", []byte("statement ok\nSELECT 1\n"), Options{})
	if !errors.Is(err, context.Canceled) || sum.Passed != 0 || calls != 1 {
		t.Errorf("got %v, %+v", err, sum)
	}
}

// TestTestdata runs the hand-written files in SQLite's and DuckDB's styles
// against canned answers for their SQL.
func TestTestdata(t *testing.T) {
	t1 := [][]any{{int64(104), int64(3), "x"}, {int64(101), nil, "y y"}, {int64(102), int64(1), ""}}
	answers := map[string]answer{
		"CREATE TABLE t1(a INTEGER, b INTEGER, c VARCHAR(30))":  {},
		"INSERT INTO t1 VALUES(104, 3, 'x')":                    {affected: 1},
		"INSERT INTO t1 VALUES(101, NULL, 'y y')":               {affected: 1},
		"INSERT INTO t1 VALUES(102, 1, '')":                     {affected: 1},
		"SELECT a, b, c FROM t1":                                {cols: 3, rows: t1},
		"SELECT a FROM t1 WHERE b IS NULL":                      {cols: 1, rows: rows1(int64(101))},
		"SELECT a * 1.5 FROM t1\n WHERE b IS NOT NULL":          {cols: 1, rows: rows1(156.0, 153.0)},
		"SELECT a FROM t1 WHERE b > 0":                          {cols: 1, rows: rows1(int64(104), int64(102))},
		"SELECT a FROM t1 WHERE NOT b <= 0":                     {cols: 1, rows: rows1(int64(102), int64(104))},
		"SELECT count(*) FROM t1":                               {cols: 1, rows: rows1(int64(3))},
		"SELECT * FROM t2":                                      {err: errors.New(`Catalog Error: Table with name t2 does not exist!`)},
		"SELECT avg(a) FROM t1":                                 {cols: 1, rows: rows1(102.33333333333333)},
		"SELECT c, c IS NULL FROM t1 ORDER BY a":                {cols: 2, rows: [][]any{{"y y", false}, {"", false}, {"x", false}}},
		"SELECT a, b FROM t1":                                   {cols: 2, rows: [][]any{{int64(104), int64(3)}, {int64(101), nil}, {int64(102), int64(1)}}},
		"CREATE TABLE ints AS SELECT range AS i FROM range(10)": {affected: 10},
		"SELECT sum(i) FROM ints":                               {cols: 1, rows: rows1(int64(45))},
		"SELECT i FROM ints WHERE i < 3":                        {cols: 1, rows: rows1(int64(2), int64(0), int64(1))},
	}
	files, err := filepath.Glob("testdata/*.test")
	if err != nil || len(files) < 2 {
		t.Fatalf("testdata: %v %v", files, err)
	}
	var engines []*fakeEngine
	sum, err := Run(context.Background(), func() (Engine, error) {
		e := newFake(answers)
		engines = append(engines, e)
		return e, nil
	}, append(files, "testdata/missing.test"), Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Every record passes but those the files say are skipped, and the
	// missing file is one failure.
	if sum.Files != len(files)+1 || sum.Failed != 1 || !strings.Contains(sum.Failures[0].Error, "cannot read") {
		for _, f := range sum.Failures {
			t.Log(f)
		}
		t.Fatalf("summary %s", sum)
	}
	if sum.Passed != 22 || sum.Skipped != 5 {
		t.Errorf("summary %s, want 22 passed and 5 skipped", sum)
	}
	if len(engines) != len(files) {
		t.Errorf("%d engines for %d files", len(engines), len(files))
	}
	for _, e := range engines {
		if !e.closed {
			t.Error("an engine was not closed")
		}
	}
}

func TestTestdataFilesExist(t *testing.T) {
	for _, f := range []string{"testdata/sqlite_style.test", "testdata/duckdb_style.test"} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}
