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
