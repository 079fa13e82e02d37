package node

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shoal-dev/shoal/internal/ids"
)

// A job's output is read back from its end across the files rotation left
// (older files named with a timestamp), and a job with no output here says
// so.
func TestExecLogsTailAcrossRotations(t *testing.T) {
	l := &execLogs{dir: t.TempDir()}
	defer l.close()
	job := ids.Random()
	base := strings.TrimSuffix(l.name(job), ".log")
	// Two rotated files (their names sort by time) and the live one.
	os.WriteFile(base+"-2026-12-06T10-00-00.000.log", []byte("one\ntwo\n"), 0o600)
	os.WriteFile(base+"-2026-12-06T11-00-00.000.log", []byte("three\nfour\n"), 0o600)
	w, done, err := l.open(job)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("five\nsix\n"))
	done()
	for _, c := range []struct {
		tail        int64
		want        string
		wantSkipped int64
	}{
		{4, "six\n", 24},
		{9, "five\nsix\n", 19},
		{14, "four\nfive\nsix\n", 14},
		{1 << 20, "one\ntwo\nthree\nfour\nfive\nsix\n", 0},
	} {
		got, skipped, err := l.tail(job, c.tail)
		if err != nil || string(got) != c.want || skipped != c.wantSkipped {
			t.Errorf("tail %d: %q, skipped %d, %v; want %q, skipped %d", c.tail, got, skipped, err, c.want, c.wantSkipped)
		}
	}
	if _, _, err := l.tail(ids.Random(), 100); err == nil || !strings.Contains(err.Error(), "no executor of job") {
		t.Errorf("a job without output here: %v", err)
	}
	if matches, _ := filepath.Glob(filepath.Join(l.dir, "*")); len(matches) != 3 {
		t.Errorf("files: %v", matches)
	}
}

// A follower reads what was written after its position, also across a
// rotation that removed old output (positions count what was written, not
// what is on disk), and a position past the end (the log began again)
// reads from the end.
func TestExecLogsFollow(t *testing.T) {
	l := &execLogs{dir: t.TempDir()}
	defer l.close()
	job := ids.Random()
	w, done, err := l.open(job)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	read := func(from, n int64) (string, int64, int64) {
		t.Helper()
		data, skipped, end, err := l.read(job, from, n)
		if err != nil {
			t.Fatal(err)
		}
		return string(data), skipped, end
	}
	if got, skipped, end := read(0, 100); got != "" || skipped != 0 || end != 0 {
		t.Fatalf("nothing written: %q %d %d", got, skipped, end)
	}
	w.Write([]byte("alpha\n"))
	got, _, end := read(0, 100)
	if got != "alpha\n" || end != 6 {
		t.Fatalf("after a line: %q end %d", got, end)
	}
	w.Write([]byte("beta\ngamma\n"))
	if got, skipped, e := read(end, 100); got != "beta\ngamma\n" || skipped != 0 || e != 17 {
		t.Fatalf("from %d: %q skipped %d end %d", end, got, skipped, e)
	}
	// Past n: the newest n bytes, the rest counted as skipped.
	if got, skipped, _ := read(6, 6); got != "gamma\n" || skipped != 5 {
		t.Fatalf("bounded: %q skipped %d", got, skipped)
	}
	if got, skipped, e := read(1000, 100); got != "" || skipped != 0 || e != 17 {
		t.Fatalf("past the end: %q skipped %d end %d", got, skipped, e)
	}
	// The tail, with the end to follow from.
	if data, skipped, e, err := l.read(job, -1, 6); err != nil || string(data) != "gamma\n" || skipped != 11 || e != 17 {
		t.Fatalf("tail: %q %d %d %v", data, skipped, e, err)
	}
}

// An executor's lines go to the node's output with a prefix, to the job's
// log with the process's pid, and long lines are cut with a marker, never
// ending the output.
func TestCopyLinesToLog(t *testing.T) {
	var out, log bytes.Buffer
	long := strings.Repeat("y", maxLineBytes+10)
	wg := newWaitGroup(1)
	copyLines(wg, &out, &log, 42, strings.NewReader("a\n"+long+"\nb\n"), "[executor] ", nil)
	want := "[pid 42] a\n[pid 42] " + strings.Repeat("y", maxLineBytes) + " … [10 more bytes of this line cut]\n[pid 42] b\n"
	if log.String() != want {
		t.Errorf("log: %q", shorten([]string{log.String()}))
	}
	if !strings.HasPrefix(out.String(), "[executor] a\n") || !strings.HasSuffix(out.String(), "[executor] b\n") {
		t.Errorf("node output: %q", shorten([]string{out.String()}))
	}
}

func newWaitGroup(n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(n)
	return &wg
}
