package slt

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Summary counts the outcome of a run. Every statement and query record of
// a file up to its halt is counted once, as passed, failed or skipped (a
// record of a directive the runner does not know counts as skipped, a
// malformed one as failed); directives that only steer the run
// (hash-threshold, halt, control, mode, require, loop) are not counted. A
// file that cannot be read, or whose engine cannot be made, adds one
// failure of its own, and its records count as skipped. Files counts the
// files given to the run.
type Summary struct {
	Files   int
	Passed  int
	Failed  int
	Skipped int
	// Failures describes failed records in the order they failed, up to
	// Options.MaxFailures of them; Failed counts them all.
	Failures []Failure
}

// Failure is one failed record.
type Failure struct {
	File     string `json:"file"`
	Line     int    `json:"line"` // the line of the record's directive; 0 for the file as a whole
	SQL      string `json:"sql,omitempty"`
	Expected string `json:"expected,omitempty"` // trimmed
	Actual   string `json:"actual,omitempty"`   // trimmed
	Error    string `json:"error"`              // what went wrong
}

// String formats a failure for people: file:line: error, then the SQL,
// expected and actual results indented.
func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: %s", f.File, f.Line, f.Error)
	section := func(name, text string) {
		if text == "" {
			return
		}
		fmt.Fprintf(&b, "\n  %s:\n    %s", name, strings.ReplaceAll(text, "\n", "\n    "))
	}
	section("sql", f.SQL)
	section("expected", f.Expected)
	section("actual", f.Actual)
	return b.String()
}

// String is the one-line summary, e.g.
// "slt: 3 files, 1200 passed, 4 failed, 10 skipped".
func (s Summary) String() string {
	return fmt.Sprintf("slt: %d files, %d passed, %d failed, %d skipped", s.Files, s.Passed, s.Failed, s.Skipped)
}

// WriteText writes the one-line summary and a newline.
func (s Summary) WriteText(w io.Writer) error {
	_, err := fmt.Fprintln(w, s.String())
	return err
}

// WriteJSON writes the summary as one line of JSON,
// {"files":N,"passed":N,"failed":N,"skipped":N}, with a "failures" array
// after them (possibly empty) when withFailures is set.
func (s Summary) WriteJSON(w io.Writer, withFailures bool) error {
	out := struct {
		Files    int        `json:"files"`
		Passed   int        `json:"passed"`
		Failed   int        `json:"failed"`
		Skipped  int        `json:"skipped"`
		Failures *[]Failure `json:"failures,omitempty"`
	}{Files: s.Files, Passed: s.Passed, Failed: s.Failed, Skipped: s.Skipped}
	if withFailures {
		fs := s.Failures
		if fs == nil {
			fs = []Failure{}
		}
		out.Failures = &fs
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Trimming limits for the texts of a Failure.
const (
	trimLines = 40
	trimBytes = 4000
)

// trim shortens text to at most trimLines lines and about trimBytes bytes,
// saying how much was left out.
func trim(text string) string {
	lines := strings.Split(text, "\n")
	cut := 0
	if len(lines) > trimLines {
		cut = len(lines) - trimLines
		lines = lines[:trimLines]
	}
	text = strings.Join(lines, "\n")
	if len(text) > trimBytes {
		n := trimBytes
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n] + "…"
	}
	if cut > 0 {
		text += fmt.Sprintf("\n… (%d more lines)", cut)
	}
	return text
}
