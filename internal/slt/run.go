package slt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Engine runs SQL for the runner, one statement at a time, on one
// connection's session: each file gets a fresh Engine, and the runner
// closes it after the file if it implements io.Closer.
//
// Exec runs any statement, a query included (DuckDB's files write
// "statement ok" for queries whose rows do not matter); rowsAffected is
// checked only by "statement count N". Query returns the number of result
// columns and the rows, each a slice of that many values: nil (NULL), bool,
// an integer type, float64 or float32, string or []byte, time.Time, or a
// fmt.Stringer for exact types such as decimals, dates and intervals
// (printed by their String). Both methods should return soon after ctx is
// done; one that does not is abandoned (see Options.Timeout).
type Engine interface {
	Exec(ctx context.Context, sql string) (rowsAffected int64, err error)
	Query(ctx context.Context, sql string) (columns int, rows [][]any, err error)
}

// NewEngine makes the Engine a file runs on.
type NewEngine func() (Engine, error)

// Options tune a run. The zero value is ready to use.
type Options struct {
	// Engines are the names skipif and onlyif match, without regard to
	// case; nil means DefaultEngines.
	Engines []string
	// Timeout bounds each statement and query; 0 means DefaultTimeout. A
	// statement that runs longer fails. If the engine has not returned
	// within a grace period after that (the timeout, at most 5 s), the rest
	// of the file is skipped and the engine is closed whenever it returns.
	Timeout time.Duration
	// StopAfter stops a file after this many failed records, counting the
	// rest as skipped; 0 means never.
	StopAfter int
	// Verbose, if set, receives each failure as it happens, starting
	// file:line.
	Verbose io.Writer
	// MaxFailures bounds Summary.Failures (Summary.Failed counts them
	// all); 0 means 1000, a negative number no bound.
	MaxFailures int
}

// DefaultEngines are the names Shoal answers to in skipif and onlyif: its
// SQL is PostgreSQL's dialect.
var DefaultEngines = []string{"postgresql", "shoal"}

// DefaultTimeout bounds a statement when Options.Timeout is 0.
const DefaultTimeout = 60 * time.Second

const (
	defaultMaxFailures = 1000
	maxGrace           = 5 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Engines == nil {
		o.Engines = DefaultEngines
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxFailures == 0 {
		o.MaxFailures = defaultMaxFailures
	}
	return o
}

// Run runs each test file on a fresh engine, one file after another, and
// sums their outcomes. It returns early with ctx's error if ctx is done;
// problems with files and engines are failures in the Summary, not errors.
func Run(ctx context.Context, newEngine NewEngine, paths []string, opts Options) (Summary, error) {
	opts = opts.withDefaults()
	var sum Summary
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			sum.Files++
			sum.fail(opts, Failure{File: path, Error: fmt.Sprintf("cannot read the test file: %v", err)})
			continue
		}
		if err := runScript(ctx, newEngine, path, src, opts, &sum); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// RunScript runs one test file's text, named name in failures, on a fresh
// engine.
func RunScript(ctx context.Context, newEngine NewEngine, name string, src []byte, opts Options) (Summary, error) {
	opts = opts.withDefaults()
	var sum Summary
	err := runScript(ctx, newEngine, name, src, opts, &sum)
	return sum, err
}

func (s *Summary) fail(opts Options, f Failure) {
	s.Failed++
	if opts.MaxFailures < 0 || len(s.Failures) < opts.MaxFailures {
		s.Failures = append(s.Failures, f)
	}
	if opts.Verbose != nil {
		fmt.Fprintln(opts.Verbose, f.String())
	}
}

func runScript(ctx context.Context, newEngine NewEngine, name string, src []byte, opts Options, sum *Summary) error {
	sum.Files++
	recs := parse(src)
	eng, err := makeEngine(newEngine)
	if err != nil {
		sum.Skipped += countUnits(recs, opts.Engines)
		sum.fail(opts, Failure{File: name, Error: fmt.Sprintf("cannot make an engine for the file: %v", err)})
		return nil
	}
	fr := &fileRun{opts: opts, name: name, eng: eng, sum: sum, labels: map[string]labelSeen{}}
	defer fr.close()
	return fr.run(ctx, recs)
}

func makeEngine(newEngine NewEngine) (eng Engine, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
	}()
	eng, err = newEngine()
	if err == nil && eng == nil {
		err = errors.New("the engine factory returned no engine")
	}
	return eng, err
}

// steering follows the records that decide which records run: loops,
// mode skip/unskip, and each record's skipif/onlyif.
type steering struct {
	names     []string
	loopDepth int
	modeSkip  bool
}

// passOver reports whether a record is passed over (counted as skipped if
// it is a unit), and follows it if it steers.
func (s *steering) passOver(r *record) bool {
	switch {
	case s.loopDepth > 0:
		// A loop's body needs the loop's variables substituted, which
		// this runner does not do: its records are skipped.
		switch r.kind {
		case recLoopBegin:
			s.loopDepth++
		case recLoopEnd:
			s.loopDepth--
		}
		return true
	case r.kind == recLoopBegin:
		s.loopDepth = 1
		return true
	case s.modeSkip && r.kind != recModeUnskip:
		return true
	case r.skipped(s.names):
		return true
	}
	switch r.kind {
	case recModeSkip:
		s.modeSkip = true
	case recModeUnskip:
		s.modeSkip = false
	}
	return false
}

// countUnits counts the records a run of recs would count, up to the first
// halt that takes effect. It counts the rest of a file when a run stops
// early (where no loop or mode skip is open), and states Summary's
// invariant for tests.
func countUnits(recs []record, names []string) int {
	s := steering{names: names}
	n := 0
	for i := range recs {
		r := &recs[i]
		if !s.passOver(r) && r.kind == recHalt {
			return n
		}
		if r.kind.isUnit() {
			n++
		}
	}
	return n
}

// fileRun is the state of running one file.
type fileRun struct {
	opts   Options
	name   string
	eng    Engine
	sum    *Summary
	failed int // failed records in this file

	defaultSort sortMode // control sortmode
	labels      map[string]labelSeen

	// stuck is set when a call outlived its timeout and grace period: the
	// engine is still running it and must not be called or closed until
	// it returns on this channel.
	stuck chan outcome
}

type labelSeen struct {
	hash string
	line int
}

func (fr *fileRun) run(ctx context.Context, recs []record) error {
	steer := steering{names: fr.opts.Engines}
	for i := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := &recs[i]
		if steer.passOver(r) {
			if r.kind.isUnit() {
				fr.sum.Skipped++
				if r.skipped(fr.opts.Engines) {
					fr.seedLabel(r)
				}
			}
			continue
		}

		var f *Failure
		var err error
		switch r.kind {
		case recStatement:
			f, err = fr.runStatement(ctx, r)
		case recQuery:
			f, err = fr.runQuery(ctx, r)
		case recMalformed:
			f = &Failure{File: fr.name, Line: r.line, Error: "malformed " + r.word + " record: " + r.problem}
		case recUnknown:
			fr.sum.Skipped++
			continue
		case recHashThreshold:
			// Nothing to do: whether a result is compared by hash follows
			// the form of its expected lines (see compareResult).
		case recSortMode:
			fr.defaultSort = r.sort
		case recHalt:
			return nil
		case recSkipFile:
			fr.sum.Skipped += countUnits(recs[i+1:], fr.opts.Engines)
			return nil
		}
		if err != nil {
			return err
		}
		if r.kind.isUnit() {
			if f != nil {
				fr.failed++
				fr.sum.fail(fr.opts, *f)
			} else {
				fr.sum.Passed++
			}
		}
		if fr.stuck != nil || (fr.opts.StopAfter > 0 && fr.failed >= fr.opts.StopAfter) {
			fr.sum.Skipped += countUnits(recs[i+1:], fr.opts.Engines)
			return nil
		}
	}
	return nil
}

func (fr *fileRun) close() {
	c, ok := fr.eng.(io.Closer)
	if !ok {
		return
	}
	if fr.stuck != nil {
		stuck := fr.stuck
		go func() {
			<-stuck
			closeQuietly(c)
		}()
		return
	}
	if err := closeQuietly(c); err != nil && fr.opts.Verbose != nil {
		fmt.Fprintf(fr.opts.Verbose, "%s: closing the engine: %v\n", fr.name, err)
	}
}

func closeQuietly(c io.Closer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
	}()
	return c.Close()
}

// outcome is what one engine call returned.
type outcome struct {
	columns  int
	rows     [][]any
	affected int64
	err      error
}

// faultError is an error of the runner's making (a timeout, a panic): it
// never satisfies "statement error".
type faultError struct{ msg string }

func (e *faultError) Error() string { return e.msg }

func panicError(p any) error {
	return &faultError{msg: fmt.Sprintf("engine panicked: %v\n%s", p, trim(string(debug.Stack())))}
}

// call runs one statement or query on the engine under the timeout,
// turning a panic into an error. Its error is ctx's, when ctx is done.
func (fr *fileRun) call(ctx context.Context, query bool, sql string) (outcome, error) {
	cctx, cancel := context.WithTimeout(ctx, fr.opts.Timeout)
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if p := recover(); p != nil {
				o = outcome{err: panicError(p)}
			}
			done <- o
		}()
		if query {
			o.columns, o.rows, o.err = fr.eng.Query(cctx, sql)
		} else {
			o.affected, o.err = fr.eng.Exec(cctx, sql)
		}
	}()
	timedOut := &faultError{msg: fmt.Sprintf("timed out after %v", fr.opts.Timeout)}
	select {
	case o := <-done:
		if err := ctx.Err(); err != nil {
			return outcome{}, err
		}
		if o.err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
			o.err = timedOut // the engine gave up at our deadline
		}
		return o, nil
	case <-cctx.Done():
	}
	grace := min(fr.opts.Timeout, maxGrace)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		fr.stuck = done
		timedOut.msg += fmt.Sprintf(", and the engine had not returned %v later: the rest of the file is skipped", grace)
	}
	if err := ctx.Err(); err != nil {
		return outcome{}, err
	}
	return outcome{err: timedOut}, nil
}

func (fr *fileRun) failure(r *record, msg string) *Failure {
	return &Failure{File: fr.name, Line: r.line, SQL: trim(r.sql), Error: msg}
}

func (fr *fileRun) runStatement(ctx context.Context, r *record) (*Failure, error) {
	o, err := fr.call(ctx, false, r.sql)
	if err != nil {
		return nil, err
	}
	var fault *faultError
	if errors.As(o.err, &fault) {
		return fr.failure(r, "statement "+fault.msg), nil
	}
	switch r.expect {
	case expectOK, expectCount:
		if o.err != nil {
			return fr.failure(r, "statement failed: "+o.err.Error()), nil
		}
		if r.expect == expectCount && o.affected != r.count {
			f := fr.failure(r, "statement count: wrong number of rows affected")
			f.Expected = strconv.FormatInt(r.count, 10)
			f.Actual = strconv.FormatInt(o.affected, 10)
			return f, nil
		}
	case expectError:
		if o.err == nil {
			f := fr.failure(r, "statement succeeded, but it should have failed")
			f.Expected = r.errorWanted()
			return f, nil
		}
		return fr.checkError(r, o.err), nil
	case expectMaybe:
		if o.err != nil {
			return fr.checkError(r, o.err), nil
		}
	}
	return nil, nil
}

func (fr *fileRun) runQuery(ctx context.Context, r *record) (*Failure, error) {
	o, err := fr.call(ctx, true, r.sql)
	if err != nil {
		return nil, err
	}
	var fault *faultError
	if errors.As(o.err, &fault) {
		return fr.failure(r, "query "+fault.msg), nil
	}
	if r.expect == expectError {
		if o.err == nil {
			f := fr.failure(r, fmt.Sprintf("query returned %d rows, but it should have failed", len(o.rows)))
			f.Expected = r.errorWanted()
			return f, nil
		}
		return fr.checkError(r, o.err), nil
	}
	if o.err != nil {
		f := fr.failure(r, "query failed: "+o.err.Error())
		f.Expected = trim(strings.Join(r.expected, "\n"))
		return f, nil
	}
	ncols := o.columns
	if r.types != "" && ncols != len(r.types) {
		return fr.failure(r, fmt.Sprintf("query returned %d columns, but its type string %q has %d", ncols, r.types, len(r.types))), nil
	}
	for i, row := range o.rows {
		if len(row) != ncols {
			return fr.failure(r, fmt.Sprintf("row %d of the result has %d values, but the query returned %d columns", i+1, len(row), ncols)), nil
		}
	}
	flat := cells(r.types, o.rows)
	mode := fr.defaultSort
	if r.sortGiven {
		mode = r.sort
	}
	sortCells(flat, ncols, mode)

	labelProblem := ""
	if r.label != "" {
		h := hashCells(flat)
		if prev, ok := fr.labels[r.label]; !ok {
			fr.labels[r.label] = labelSeen{hash: h, line: r.line}
		} else if prev.hash != h {
			labelProblem = fmt.Sprintf("result differs from that of label %s at line %d", r.label, prev.line)
		}
	}

	expected := r.expected
	if r.colnames && len(expected) > 0 {
		expected = expected[1:]
	}
	var cmp comparison
	switch {
	case !r.hasResults && r.label != "":
		// SQLite compares a labelled query without results by its label
		// alone.
		cmp.ok = true
	case !r.hasResults && len(flat) > 0:
		cmp.reason = "query has no ---- line, so its result should be empty"
		cmp.actual = showValues(flat)
	default:
		cmp = compareResult(expected, flat, ncols, mode)
	}
	if cmp.ok && labelProblem == "" {
		return nil, nil
	}
	msg := cmp.reason
	if cmp.ok {
		msg = labelProblem
	} else if labelProblem != "" {
		msg += "; " + labelProblem
	}
	if !cmp.ok && mode != noSort {
		msg += " (after " + mode.String() + ")"
	}
	f := fr.failure(r, msg)
	f.Expected = trim(strings.Join(expected, "\n"))
	f.Actual = trim(cmp.actual)
	return f, nil
}

// seedLabel records the hash of a skipped labelled query's expected
// results, as SQLite's runner does, so that the records run later under
// the same label are checked against it. Only expected results whose hash
// is known are used: a hash line, or values of a one-column query.
func (fr *fileRun) seedLabel(r *record) {
	if r.kind != recQuery || r.label == "" || !r.hasResults {
		return
	}
	if _, ok := fr.labels[r.label]; ok {
		return
	}
	if len(r.expected) == 1 {
		if h := hashLineRE.FindStringSubmatch(r.expected[0]); h != nil {
			fr.labels[r.label] = labelSeen{hash: strings.ToLower(h[2]), line: r.line}
			return
		}
	}
	if len(r.types) == 1 {
		flat := make([]cell, len(r.expected))
		for i, e := range r.expected {
			flat[i].text = e
		}
		fr.labels[r.label] = labelSeen{hash: hashCells(flat), line: r.line}
	}
}

// errorWanted describes the error a record expects.
func (r *record) errorWanted() string {
	switch {
	case r.errPattern != "" && r.errText != "":
		return r.errPattern + "\n" + r.errText
	case r.errPattern != "":
		return r.errPattern
	case r.errText != "":
		return r.errText
	}
	return "an error"
}

// checkError compares an error with the one a record expects: the pattern
// on the directive line is a regular expression that must match somewhere
// in the message (sqllogictest-rs, CockroachDB; a pattern that does not
// compile is looked for as text, and CockroachDB's leading "pgcode XXXXX"
// is passed over); the text under ---- must appear in the message, with
// white space runs folded (DuckDB; sqllogictest-rs wants it whole).
func (fr *fileRun) checkError(r *record, err error) *Failure {
	msg := err.Error()
	ok := true
	if p := r.errPattern; p != "" {
		if f := strings.Fields(p); len(f) >= 2 && f[0] == "pgcode" {
			p = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(p, "pgcode")), f[1]))
		}
		if p != "" {
			if re, cerr := regexp.Compile(p); cerr == nil {
				ok = re.MatchString(msg)
			} else {
				ok = strings.Contains(msg, p)
			}
		}
	}
	if ok && r.errText != "" {
		ok = textMatches(r.errText, msg)
	}
	if ok {
		return nil
	}
	f := fr.failure(r, "failed with the wrong error")
	f.Expected = trim(r.errorWanted())
	f.Actual = trim(msg)
	return f
}

func textMatches(want, msg string) bool {
	if re, ok := strings.CutPrefix(want, "<REGEX>:"); ok {
		r, err := regexp.Compile(`(?s)` + re)
		return err == nil && r.MatchString(msg)
	}
	if re, ok := strings.CutPrefix(want, "<!REGEX>:"); ok {
		r, err := regexp.Compile(`(?s)` + re)
		return err == nil && !r.MatchString(msg)
	}
	return strings.Contains(normWS(msg), normWS(want))
}
