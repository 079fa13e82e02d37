package slt

import (
	"bytes"
	"math"
	"math/big"
	"slices"
	"testing"
	"time"
)

// decimal stands for an engine's exact decimal type.
type decimal string

func (d decimal) String() string { return string(d) }

func TestRender(t *testing.T) {
	tests := []struct {
		v    any
		typ  byte
		want string
	}{
		// NULL under every type.
		{nil, 'I', "NULL"}, {nil, 'R', "NULL"}, {nil, 'T', "NULL"}, {nil, 'B', "NULL"},
		{[]byte(nil), 'T', "NULL"},

		// I: %d; reals truncated toward zero; booleans 1/0; text by its
		// leading integer; decimals truncated.
		{int64(-42), 'I', "-42"}, {7, 'I', "7"}, {uint8(200), 'I', "200"}, {uint64(math.MaxUint64), 'I', "18446744073709551615"},
		{2.9, 'I', "2"}, {-2.9, 'I', "-2"}, {float32(1.5), 'I', "1"}, {1e300, 'I', "9223372036854775807"},
		{math.NaN(), 'I', "0"}, {true, 'I', "1"}, {false, 'I', "0"},
		{"12abc", 'I', "12"}, {"abc", 'I', "0"}, {" -3.7", 'I', "-3"}, {"", 'I', "0"},
		{decimal("12.75"), 'I', "12"}, {decimal("-0.5"), 'I', "0"}, {decimal("-007.0"), 'I', "-7"},
		{decimal("123456789012345678901234.9"), 'I', "123456789012345678901234"}, {decimal("1e3"), 'I', "1"},
		{"99999999999999999999", 'I', "9223372036854775807"},

		// R: %.3f.
		{1.0, 'R', "1.000"}, {-0.0005, 'R', "-0.001"}, {2.0 / 3, 'R', "0.667"}, {int64(3), 'R', "3.000"},
		{true, 'R', "1.000"}, {"2.5e1x", 'R', "25.000"}, {"x", 'R', "0.000"}, {decimal("1.2345"), 'R', "1.234"},
		{float32(0.1), 'R', "0.100"},

		// T: strings as they are, (empty), @ for control characters and
		// every byte of non-ASCII; numbers in their canonical text;
		// booleans true/false.
		{"hello world", 'T', "hello world"}, {"", 'T', "(empty)"}, {"a\tb\nc", 'T', "a@b@c"},
		{"é", 'T', "@@"}, {"~\x7f", 'T', "~@"}, {[]byte("raw"), 'T', "raw"},
		{int64(10), 'T', "10"}, {1.0, 'T', "1"}, {0.1, 'T', "0.1"}, {1e20, 'T', "1e+20"},
		{123456789012345.0, 'T', "123456789012345"}, {1e15, 'T', "1e+15"}, {0.0001, 'T', "0.0001"},
		{0.00001, 'T', "1e-05"}, {math.Inf(-1), 'T', "-Infinity"}, {math.NaN(), 'T', "NaN"},
		{float32(0.1), 'T', "0.1"}, {true, 'T', "true"}, {false, 'T', "false"},
		{decimal("1.50"), 'T', "1.50"},
		{time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), 'T', "2024-02-29"},
		{time.Date(2024, 2, 29, 13, 4, 5, 500000000, time.UTC), 'T', "2024-02-29 13:04:05.5"},
		{big.NewInt(12), 'T', "12"},

		// Other type characters are text-like.
		{true, 'B', "true"}, {"x", 'D', "x"}, {2.5, '?', "2.5"},
	}
	for _, tt := range tests {
		if got := render(tt.v, tt.typ); got != tt.want {
			t.Errorf("render(%#v, %c) = %q, want %q", tt.v, tt.typ, got, tt.want)
		}
	}
}

func TestMatchCellAcceptsOtherRunnersSpellings(t *testing.T) {
	tests := []struct {
		exp  string
		v    any
		typ  byte
		want bool
	}{
		{"0.5", 0.5, 'R', true},      // DataFusion/DuckDB print reals as they are under R
		{"1.0", 1.0, 'R', true},      // DuckDB
		{"1", 1.0, 'R', true},        // PostgreSQL, DataFusion
		{"1.0e+20", 1e20, 'T', true}, // SQLite's text of a REAL
		{"100000000000000000000", 1e20, 'T', true},
		{"true", true, 'I', true}, // DuckDB's query I on a boolean
		{"t", true, 'T', true},    // PostgreSQL
		{"hello", "hello", 'I', true},
		{"·", "", 'T', true}, // CockroachDB's empty string
		{"ünï", "ünï", 'T', true},
		{"a b", "a  b", 'T', true}, // white space runs fold
		{"<REGEX>:[0-9]+", int64(42), 'I', true},
		{"<REGEX>:[0-9]", int64(42), 'I', false}, // the whole value must match
		{"<!REGEX>:x", int64(42), 'I', true},
		{"0.501", 0.5, 'R', false},
		{"2", 1.0, 'I', false},
		{"NULL", "", 'T', false},
		{"1", "1.0", 'R', false},
		{"false", true, 'T', false},
	}
	for _, tt := range tests {
		c := cell{v: tt.v, typ: tt.typ, text: render(tt.v, tt.typ)}
		if got := matchCell(tt.exp, c); got != tt.want {
			t.Errorf("matchCell(%q, %#v as %c) = %v, want %v", tt.exp, tt.v, tt.typ, got, tt.want)
		}
	}
}

func TestSortCellsLikeSQLite(t *testing.T) {
	// rowsort compares column by column, bytewise: "-1" before "-10",
	// "10" before "9", "NULL" before lower case.
	rows := [][]any{{int64(9), "b"}, {int64(10), "a"}, {int64(-10), "z"}, {int64(-1), "z"}, {nil, "q"}, {int64(10), "NULL"}}
	flat := cells("IT", rows)
	sortCells(flat, 2, rowSort)
	want := []string{"-1", "z", "-10", "z", "10", "NULL", "10", "a", "9", "b", "NULL", "q"}
	if got := texts(flat); !slices.Equal(got, want) {
		t.Errorf("rowsort: %q, want %q", got, want)
	}
	sortCells(flat, 2, valueSort)
	want = []string{"-1", "-10", "10", "10", "9", "NULL", "NULL", "a", "b", "q", "z", "z"}
	if got := texts(flat); !slices.Equal(got, want) {
		t.Errorf("valuesort: %q, want %q", got, want)
	}
}

func texts(flat []cell) []string {
	out := make([]string, len(flat))
	for i, c := range flat {
		out[i] = c.text
	}
	return out
}

func TestSummaryOutput(t *testing.T) {
	s := Summary{Files: 3, Passed: 1200, Failed: 1, Skipped: 10,
		Failures: []Failure{{File: "a.test", Line: 7, SQL: "SELECT 1", Expected: "1", Actual: "2", Error: "wrong result"}}}
	var b bytes.Buffer
	if err := s.WriteText(&b); err != nil || b.String() != "slt: 3 files, 1200 passed, 1 failed, 10 skipped\n" {
		t.Errorf("WriteText: %q %v", b.String(), err)
	}
	b.Reset()
	if err := s.WriteJSON(&b, false); err != nil || b.String() != `{"files":3,"passed":1200,"failed":1,"skipped":10}`+"\n" {
		t.Errorf("WriteJSON: %q %v", b.String(), err)
	}
	b.Reset()
	want := `{"files":3,"passed":1200,"failed":1,"skipped":10,"failures":[{"file":"a.test","line":7,"sql":"SELECT 1","expected":"1","actual":"2","error":"wrong result"}]}` + "\n"
	if err := s.WriteJSON(&b, true); err != nil || b.String() != want {
		t.Errorf("WriteJSON with failures:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := (Summary{}).WriteJSON(&b, true); err != nil || b.String() != `{"files":0,"passed":0,"failed":0,"skipped":0,"failures":[]}`+"\n" {
		t.Errorf("WriteJSON of nothing: %q", b.String())
	}
}

func TestTrim(t *testing.T) {
	long := bytes.Repeat([]byte("x\n"), 100)
	got := trim(string(long[:len(long)-1])) // 100 lines
	if want := "\n… (60 more lines)"; !bytes.HasSuffix([]byte(got), []byte(want)) {
		t.Errorf("trim of 100 lines ends %q", got[len(got)-30:])
	}
	wide := string(bytes.Repeat([]byte("é"), trimBytes))
	if got := trim(wide); len(got) > trimBytes+len("…") || !bytes.HasSuffix([]byte(got), []byte("é…")) {
		t.Errorf("trim of a wide line: %d bytes, ends %q", len(got), got[len(got)-8:])
	}
}
