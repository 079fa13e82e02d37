package slt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// answer is a fake engine's canned reply to one SQL text.
type answer struct {
	cols     int
	rows     [][]any
	affected int64
	err      error
	panic    any
	block    bool          // wait for ctx to be done, then fail with its error
	hang     chan struct{} // ignore ctx; return only when closed
}

// fakeEngine answers SQL from a map of canned answers; SQL it does not know
// fails as an engine would on a missing table.
type fakeEngine struct {
	answers map[string]answer

	mu     sync.Mutex
	calls  []string
	closed bool
}

func newFake(answers map[string]answer) *fakeEngine {
	return &fakeEngine{answers: answers}
}

func (e *fakeEngine) answer(ctx context.Context, sql string) (answer, error) {
	e.mu.Lock()
	e.calls = append(e.calls, sql)
	a, ok := e.answers[sql]
	e.mu.Unlock()
	if !ok {
		return answer{}, fmt.Errorf("fake engine: no canned answer for %q", sql)
	}
	if a.panic != nil {
		panic(a.panic)
	}
	if a.block {
		<-ctx.Done()
		return answer{}, ctx.Err()
	}
	if a.hang != nil {
		<-a.hang
	}
	return a, a.err
}

func (e *fakeEngine) Exec(ctx context.Context, sql string) (int64, error) {
	a, err := e.answer(ctx, sql)
	return a.affected, err
}

func (e *fakeEngine) Query(ctx context.Context, sql string) (int, [][]any, error) {
	a, err := e.answer(ctx, sql)
	if err != nil {
		return 0, nil, err
	}
	return a.cols, a.rows, nil
}

func (e *fakeEngine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("closed twice")
	}
	e.closed = true
	return nil
}

func (e *fakeEngine) ran(sql string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.calls {
		if c == sql {
			return true
		}
	}
	return false
}

// rows1 makes a one-column result.
func rows1(vals ...any) [][]any {
	out := make([][]any, len(vals))
	for i, v := range vals {
		out[i] = []any{v}
	}
	return out
}

// runFake runs a script (with its indentation removed) on one fake engine.
func runFake(t *testing.T, e *fakeEngine, script string, opts Options) Summary {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	sum, err := RunScript(context.Background(), func() (Engine, error) { return e, nil }, "t.test", []byte(dedent(script)), opts)
	if err != nil {
		t.Fatalf("RunScript: %v", err)
	}
	return sum
}

// dedent removes the leading tabs of every line, so that scripts can be
// written indented in tests.
func dedent(s string) string {
	lines := strings.Split(strings.TrimPrefix(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t")
	}
	return strings.Join(lines, "\n")
}

type counts struct{ passed, failed, skipped int }

func (c counts) of(s Summary) counts { return counts{s.Passed, s.Failed, s.Skipped} }

func checkCounts(t *testing.T, sum Summary, want counts) {
	t.Helper()
	if got := (counts{}).of(sum); got != want {
		var fs []string
		for _, f := range sum.Failures {
			fs = append(fs, f.String())
		}
		t.Errorf("got %+v, want %+v; failures:\n%s", got, want, strings.Join(fs, "\n"))
	}
}
