package rotlog

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Writes past the cap rotate; only the newest backups stay; nothing is
// lost from the kept files and each file holds whole writes.
func TestRotatesAndKeepsBackups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.log")
	l, err := Open(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for i := range 30 {
		line := strings.Repeat(string(rune('a'+i%26)), 29) + "\n" // 30 bytes: 3 per file
		all = append(all, line)
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([]byte("x")); err == nil {
		t.Error("a write after Close succeeded")
	}
	backups := Backups(path)
	if len(backups) != 2 {
		t.Fatalf("backups %v, want 2", backups)
	}
	var got string
	for _, name := range append(backups, path) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 100 || len(b)%30 != 0 {
			t.Errorf("%s holds %d bytes", name, len(b))
		}
		got += string(b)
	}
	if want := strings.Join(all[len(all)-9:], ""); got != want {
		t.Errorf("kept %q, want the last 9 lines %q", got, want)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
}

// Opening an existing log appends to it and counts its size.
func TestOpenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	os.WriteFile(path, []byte("12345678\n"), 0o600)
	l, err := Open(path, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("abc\n")) // rotates: 9+4 > 10
	l.Close()
	if b, _ := os.ReadFile(path); string(b) != "abc\n" {
		t.Errorf("live file %q", b)
	}
	if bs := Backups(path); len(bs) != 1 {
		t.Errorf("backups %v", bs)
	} else if b, _ := os.ReadFile(bs[0]); string(b) != "12345678\n" {
		t.Errorf("backup %q", b)
	}
	if _, err := Open(path, 0, 1); err == nil {
		t.Error("a zero cap was accepted")
	}
}

func TestConcurrentWritesAreWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	l, err := Open(path, 1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				l.Write([]byte(strings.Repeat(string(rune('a'+g)), 99) + "\n"))
			}
		}()
	}
	wg.Wait()
	l.Close()
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if len(line) != 99 || strings.Trim(line, line[:1]) != "" {
			t.Fatalf("a torn line %q", line)
		}
	}
}
