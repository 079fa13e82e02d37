package scan

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// oldMtime is the mtime every test file is given, as cp -p would restore it.
var oldMtime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// settledClock makes every file look changed long ago, so that kept digests
// are trusted.
func settledClock() time.Time { return time.Now().Add(time.Hour) }

func randomBytes(n int) []byte {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// writeOld writes data to path and restores oldMtime.
func writeOld(t *testing.T, path string, data []byte) os.FileInfo {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, oldMtime, oldMtime); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// rewriteOld rewrites path with data and restores oldMtime, repeating until the
// file's ctime has moved past before's: timestamps come from a coarse clock.
func rewriteOld(t *testing.T, path string, data []byte, before os.FileInfo) {
	t.Helper()
	ctime0, ino, _ := changeInfo(before)
	if ino == 0 { // no ctime on this OS
		writeOld(t, path, data)
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		fi := writeOld(t, path, data)
		if ctime, _, _ := changeInfo(fi); ctime != ctime0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the file's ctime did not change in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func identify(t *testing.T, ids *fileIdentities, path string, budget int64) string {
	t.Helper()
	_, id, err := ids.identify(path, &budget)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestFileIdentity(t *testing.T) {
	const small, large = 4 << 10, 4 << 20
	stride := (large - sampleBlockSize) / (sampleBlocks - 1)
	if stride < 2*sampleBlockSize {
		t.Fatalf("samples of a %d-byte file leave no gaps", large)
	}
	flip := func(off int) func([]byte) {
		return func(b []byte) { b[off] ^= 0xff }
	}
	for _, tc := range []struct {
		name    string
		size    int
		budget  int64
		settled bool         // kept digests are trusted
		change  func([]byte) // nil: the file is left alone
		touch   bool         // set the mtime to now (content unchanged)
		same    bool
		// needsCtime: without ctime (Windows) the change is not found, as
		// fileid.go says.
		needsCtime bool
	}{
		{name: "whole/unchanged", size: small, budget: fullHashBudget, settled: true, same: true},
		{name: "whole/touched", size: small, budget: fullHashBudget, settled: true, touch: true, same: true},
		{name: "whole/rewritten, mtime restored", size: small, budget: fullHashBudget, settled: true, change: flip(small / 2)},
		// A rewrite in the clock tick of the last change keeps the stat: only the
		// racy-file rule saves it.
		{name: "whole/rewritten at once, mtime restored", size: small, budget: fullHashBudget, change: flip(small / 2)},
		{name: "sampled/unchanged", size: large, settled: true, same: true},
		{name: "sampled/head rewritten, mtime restored", size: large, settled: true, change: flip(0)},
		{name: "sampled/tail rewritten, mtime restored", size: large, settled: true, change: flip(large - 1)},
		{name: "sampled/byte between samples rewritten, mtime restored", size: large, settled: true,
			change: flip(sampleBlockSize + (stride-sampleBlockSize)/2), needsCtime: true},
		{name: "sampled/changed just now", size: large, needsCtime: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := time.Now
			if tc.settled {
				clock = settledClock
			}
			ids := newFileIdentities(clock)
			path := filepath.Join(t.TempDir(), "f")
			data := randomBytes(tc.size)
			before := writeOld(t, path, data)
			if _, ino, _ := changeInfo(before); ino == 0 && tc.needsCtime {
				t.Skip("no ctime on this OS")
			}
			id1 := identify(t, ids, path, tc.budget)
			if sampled := int64(tc.size) > max(tc.budget, sampleBlocks*sampleBlockSize); sampled != !strings.Contains(id1, ":sha256=") {
				t.Fatalf("identity %s: want sampled %v", id1, sampled)
			}
			switch {
			case tc.change != nil:
				changed := append([]byte(nil), data...)
				tc.change(changed)
				if tc.settled {
					rewriteOld(t, path, changed, before)
				} else {
					writeOld(t, path, changed)
				}
			case tc.touch:
				if err := os.Chtimes(path, time.Now(), time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			if id2 := identify(t, ids, path, tc.budget); (id1 == id2) != tc.same {
				t.Errorf("identities %s and %s: want equal %v", id1, id2, tc.same)
			}
		})
	}
}

// TestFileIdentityKeepsDigests: an unchanged settled file is not hashed again;
// a file changed just now, or changed since, is.
func TestFileIdentityKeepsDigests(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int
		settled  bool
		change   bool
		rehashed bool
	}{
		{name: "whole, settled", size: 4 << 10, settled: true},
		{name: "sampled, settled", size: 4 << 20, settled: true},
		{name: "whole, changed just now", size: 4 << 10, rehashed: true},
		{name: "whole, settled, changed since", size: 4 << 10, settled: true, change: true, rehashed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := time.Now
			if tc.settled {
				clock = settledClock
			}
			ids := newFileIdentities(clock)
			path := filepath.Join(t.TempDir(), "f")
			data := randomBytes(tc.size)
			before := writeOld(t, path, data)
			if _, ino, _ := changeInfo(before); ino == 0 {
				t.Skip("no ctime on this OS: no digest is kept")
			}
			identify(t, ids, path, 1<<20)
			if tc.change {
				data[0] ^= 0xff
				rewriteOld(t, path, data, before)
			}
			hashed := ids.hashed.Load()
			identify(t, ids, path, 1<<20)
			if again := ids.hashed.Load() - hashed; (again > 0) != tc.rehashed {
				t.Errorf("second read hashed %d bytes; want rehashed %v", again, tc.rehashed)
			}
		})
	}
}

// TestFileIdentityBudget: a source's files are hashed whole until the budget is
// spent, then sampled; files no larger than the samples are always hashed whole.
func TestFileIdentityBudget(t *testing.T) {
	ids := newFileIdentities(settledClock)
	dir := t.TempDir()
	budget := int64(3 << 20)
	for i, want := range []struct {
		size  int
		whole bool
	}{{2 << 20, true}, {2 << 20, false}, {1 << 20, true}, {4 << 20, false}} {
		path := filepath.Join(dir, string(rune('a'+i)))
		writeOld(t, path, randomBytes(want.size))
		_, id, err := ids.identify(path, &budget)
		if err != nil {
			t.Fatal(err)
		}
		if whole := strings.Contains(id, ":sha256="); whole != want.whole {
			t.Errorf("file %d (%d bytes): identity %s, want hashed whole %v", i, want.size, id, want.whole)
		}
	}
}

// TestFileIdentityUnhashable: a device is not read; its identity never repeats.
func TestFileIdentityUnhashable(t *testing.T) {
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode().IsRegular() {
		t.Skipf("%s is not a device here", os.DevNull)
	}
	ids := newFileIdentities(time.Now)
	if a, b := identify(t, ids, os.DevNull, fullHashBudget), identify(t, ids, os.DevNull, fullHashBudget); a == b {
		t.Errorf("two reads of %s share the identity %s", os.DevNull, a)
	}
	if ids.hashed.Load() != 0 {
		t.Errorf("%s was hashed", os.DevNull)
	}
}

// BenchmarkFileIdentity measures the cost quoted in fileid.go.
func BenchmarkFileIdentity(b *testing.B) {
	dir := b.TempDir()
	whole := filepath.Join(dir, "whole")
	if err := os.WriteFile(whole, randomBytes(fullHashBudget), 0o644); err != nil {
		b.Fatal(err)
	}
	// Sparse: the samples read zeros, which hash as fast as data.
	sampled := filepath.Join(dir, "sampled")
	f, err := os.Create(sampled)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		b.Fatal(err)
	}
	f.Close()
	run := func(b *testing.B, path string, ids func() *fileIdentities) {
		for b.Loop() {
			budget := newHashBudget()
			if _, _, err := ids().identify(path, &budget); err != nil {
				b.Fatal(err)
			}
		}
	}
	fresh := func() *fileIdentities { return newFileIdentities(settledClock) }
	b.Run("whole 64MiB", func(b *testing.B) {
		b.SetBytes(fullHashBudget)
		run(b, whole, fresh)
	})
	b.Run("sampled 1GiB", func(b *testing.B) { run(b, sampled, fresh) })
	shared := fresh()
	b.Run("kept digest", func(b *testing.B) { run(b, whole, func() *fileIdentities { return shared }) })
}

// A node opens a spec's file where it has it (a job's files are unpacked
// in a directory of each node's own): the same bytes elsewhere are the
// data the planner saw; other bytes are refused.
func TestSpecOpensTheSameBytesElsewhere(t *testing.T) {
	schema := types.Schema{{Name: "a", Type: types.Type{ID: types.Int64}}}
	planner, node, other := t.TempDir(), t.TempDir(), t.TempDir()
	writeOld(t, filepath.Join(planner, "t.csv"), []byte("1\n2\n3\n"))
	writeOld(t, filepath.Join(node, "t.csv"), []byte("1\n2\n3\n"))
	writeOld(t, filepath.Join(other, "t.csv"), []byte("1\n2\n4\n"))
	src, err := NewCSV(filepath.Join(planner, "t.csv"), schema, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := src.Spec()
	spec.Path = filepath.Join(node, "t.csv")
	if _, err := FromSpec(spec); err != nil {
		t.Errorf("the same bytes on another node were refused: %v", err)
	}
	spec.Path = filepath.Join(other, "t.csv")
	if _, err := FromSpec(spec); err == nil || !strings.Contains(err.Error(), "changed since the query was planned") {
		t.Errorf("other bytes were accepted: %v", err)
	}
}

func TestPortableIdentity(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"parquet|file:/tmp/a/x.parquet:size=10:sha256=ab12", "parquet|file:/srv/b/x.parquet:size=10:sha256=ab12"},
		{"csv|file:/a:b/t.csv:size=5:mtime=1:ctime=2:ino=3:dev=4:sampled-sha256=ff|opts", "csv|file:/c/t.csv:size=5:mtime=9:ctime=8:ino=7:dev=6:sampled-sha256=ff|opts"},
	} {
		if portable(tc.a) != portable(tc.b) {
			t.Errorf("%q and %q name the same content: %q != %q", tc.a, tc.b, portable(tc.a), portable(tc.b))
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"file:/a:size=10:sha256=ab12", "file:/a:size=10:sha256=ab13"},
		{"file:/a:size=10:sha256=ab12", "file:/a:size=11:sha256=ab12"},
		{"file:/a:size=5:mtime=1:ctime=2:ino=3:dev=4:sampled-sha256=ff", "file:/a:size=5:mtime=1:ctime=2:ino=3:dev=4:sampled-sha256=fe"},
		{"csv|file:/a:size=10:sha256=ab12|delim=,", "csv|file:/a:size=10:sha256=ab12|delim=;"},
	} {
		if portable(tc.a) == portable(tc.b) {
			t.Errorf("%q and %q name different content, both %q", tc.a, tc.b, portable(tc.a))
		}
	}
}
