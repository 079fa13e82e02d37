//go:build linux

package arena

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	goleak.VerifyTestMain(m)
}

func newTestArena(t testing.TB, size int64, opts Options, pol policy) *Arena {
	t.Helper()
	a, err := newArena(size, opts, pol)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// fill writes a pattern that depends on seed and on the position.
func fill(b []byte, seed byte) {
	for i := range min(len(b), 4096) {
		b[i] = seed + byte(i*31) + byte(i>>8)
	}
	for n := 4096; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}

func TestReuseDoesNotZero(t *testing.T) {
	sizes := []int64{1, 4096, 300 << 10, 5 << 20}
	for _, p := range testPolicies {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/%d", p.name, n), func(t *testing.T) {
				a := newTestArena(t, 32<<20, Options{}, p.pol)
				s, ok := a.Alloc(n)
				if !ok {
					t.Fatalf("Alloc(%d) failed", n)
				}
				want := make([]byte, n)
				fill(want, 7)
				copy(a.Bytes(s), want)
				a.Free(s)
				s2, ok := a.Alloc(n)
				if !ok || s2.Off != s.Off {
					t.Fatalf("Alloc(%d) after Free = %+v, %v; want offset %d again", n, s2, ok, s.Off)
				}
				if b := a.Bytes(s2); len(b) != int(n) || cap(b) != int(n) || !bytes.Equal(b, want) {
					t.Fatalf("reused span: len %d cap %d, the old bytes kept: %v", len(b), cap(b), bytes.Equal(b, want))
				}
			})
		}
	}
}

func TestFullArena(t *testing.T) {
	for _, n := range []int64{4096, 1 << 20, 3 << 20} {
		t.Run(strconv.FormatInt(n, 10), func(t *testing.T) {
			a := newTestArena(t, 16<<20, Options{}, defaultPolicy(testPage))
			var spans []Span
			for {
				s, ok := a.Alloc(n)
				if !ok {
					break
				}
				spans = append(spans, s)
			}
			st := a.Stats()
			if st.Failed != 1 || st.LargestFree >= n || st.Allocs != int64(len(spans)) {
				t.Fatalf("after filling with %d spans: %+v; want one failure, and no free extent of %d bytes", len(spans), st, n)
			}
			if _, ok := a.Alloc(n); ok || a.Stats().Failed != 2 {
				t.Fatalf("Alloc on a full arena: ok %v, %+v", ok, a.Stats())
			}
			a.Free(spans[len(spans)/2])
			if _, ok := a.Alloc(n); !ok {
				t.Fatalf("Alloc(%d) after a Free failed: %+v", n, a.Stats())
			}
			if got := a.Stats().Failed; got != 2 {
				t.Fatalf("Failed = %d after a successful Alloc, want 2", got)
			}
		})
	}
}

func TestDoubleFreePanics(t *testing.T) {
	a := newTestArena(t, 16<<20, Options{}, defaultPolicy(testPage))
	s, _ := a.Alloc(1 << 20)
	a.Free(s)
	reused, _ := a.Alloc(1 << 20) // at s's offset
	other, _ := a.Alloc(3 << 20)
	a.Free(other)
	cases := []struct {
		name string
		s    Span
	}{
		{"double free", other},
		{"free of a span whose memory was reallocated", s},
		{"zero span", Span{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := a.Stats()
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err, _ = r.(error)
						if err == nil {
							err = fmt.Errorf("panic: %v", r)
						}
					}
				}()
				a.Free(c.s)
				return nil
			}()
			if !errors.Is(err, errBadFree) {
				t.Fatalf("Free(%+v): %v, want a panic with errBadFree", c.s, err)
			}
			t.Logf("Free(%+v) panicked: %v", c.s, err)
			if after := a.Stats(); after != before {
				t.Fatalf("a refused Free changed the arena: %+v → %+v", before, after)
			}
		})
	}
	a.Free(reused) // the arena still works
	if st := a.Stats(); st.Live != 0 || st.FreeExtents != 1 {
		t.Fatalf("after freeing everything: %+v", st)
	}
}

// TestConcurrentWritersSurviveTrim churns spans from several goroutines,
// each writing and checking its own pattern, while Trim runs in a loop:
// a Trim that released a live span's pages would show as zeros.
func TestConcurrentWritersSurviveTrim(t *testing.T) {
	a := newTestArena(t, 64<<20, Options{}, defaultPolicy(testPage))
	stop := make(chan struct{})
	var trims sync.WaitGroup
	var released int64
	trims.Add(1)
	go func() {
		defer trims.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := a.Trim(0)
			if err != nil {
				t.Error(err)
				return
			}
			released += n
			if st := a.Stats(); st.Used+st.Free != st.Size || st.Used < st.Requested {
				t.Errorf("inconsistent stats during churn: %+v", st)
			}
			runtime.Gosched()
		}
	}()
	var wg sync.WaitGroup
	const workers = 3
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range 40 {
				s, ok := a.Alloc(2<<20 + rng.Int64N(1<<20))
				if !ok {
					continue
				}
				// A byte per page: a released page reads as zero.
				b, mark := a.Bytes(s), byte(w*50+i+1)
				for off := 0; off < len(b); off += 4096 {
					b[off] = mark
				}
				runtime.Gosched()
				for off := 0; off < len(b); off += 4096 {
					if b[off] != mark {
						t.Errorf("worker %d: byte %d of span %+v is %d, want %d", w, off, s, b[off], mark)
						break
					}
				}
				a.Free(s)
			}
		}()
	}
	wg.Wait()
	close(stop)
	trims.Wait()
	a.mu.Lock()
	checkAllocator(t, a.alloc)
	a.mu.Unlock()
	t.Logf("Trim released %d MiB while %d writers churned; %+v", released>>20, workers, a.Stats())
}

func TestBackings(t *testing.T) {
	cases := []struct {
		name string
		dir  string
	}{
		{"memfd", ""},
		{"dev-shm", "/dev/shm"},
		{"tempdir", t.TempDir()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			skipWithoutDir(t, c.dir)
			a := newTestArena(t, 8<<20+1, Options{dir: c.dir}, defaultPolicy(testPage))
			if a.Size() != 8<<20+testPage {
				t.Fatalf("Size() = %d, want the size rounded up to a page", a.Size())
			}
			if want := c.dir; want != "" && a.Where() != want || want == "" && a.Where() != "memfd" {
				t.Fatalf("Where() = %q", a.Where())
			}
			s, _ := a.Alloc(1 << 20)
			fill(a.Bytes(s), 3)
			v, err := Map(a.File(), a.Size())
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			got, err := v.Bytes(s.Off, s.Len)
			if err != nil || !bytes.Equal(got, a.Bytes(s)) {
				t.Fatalf("the view reads other bytes than the arena wrote (err %v)", err)
			}
			a.Bytes(s)[0] = 99 // shared: the view sees later writes
			if got[0] != 99 {
				t.Fatal("a write to the arena is not seen through the view")
			}
			// The file handed out is read-only.
			if _, err := a.File().Write([]byte{1}); err == nil {
				t.Fatal("writing to File() succeeded")
			}
			if m, err := syscall.Mmap(int(a.File().Fd()), 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); err == nil {
				syscall.Munmap(m)
				t.Fatal("File() can be mapped writable")
			}
		})
	}
}

func TestViewBounds(t *testing.T) {
	a := newTestArena(t, 1<<20, Options{}, defaultPolicy(testPage))
	v, err := Map(a.File(), a.Size())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		off, n int64
		ok     bool
	}{
		{0, 0, true},
		{0, 1 << 20, true},
		{1<<20 - 1, 1, true},
		{1 << 20, 0, true},
		{1 << 20, 1, false},
		{0, 1<<20 + 1, false},
		{-1, 1, false},
		{10, -1, false},
		{1 << 62, 1 << 62, false},
		{1, 1<<63 - 1, false},
	}
	for _, c := range cases {
		b, err := v.Bytes(c.off, c.n)
		if c.ok != (err == nil) || err != nil && !errors.Is(err, ErrOutOfRange) || err == nil && (int64(len(b)) != c.n || int64(cap(b)) != c.n) {
			t.Errorf("Bytes(%d, %d) = %d bytes (cap %d), %v; want ok %v", c.off, c.n, len(b), cap(b), err, c.ok)
		}
	}
	if _, err := Map(a.File(), a.Size()+1); err == nil {
		t.Error("Map of more than the file holds succeeded")
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Bytes(0, 1); err == nil {
		t.Error("Bytes after Close succeeded")
	}
}

// TestTrimReleasesMemory writes spans, frees them and trims: the memory of
// the file (its blocks) and of the process (Rss) must drop by what Trim
// reports, and a trimmed extent allocated again reads as zeros.
func TestTrimReleasesMemory(t *testing.T) {
	const n = trimPiece + 6<<20 // more than one piece
	cases := []struct {
		name string
		dir  string
	}{
		{"memfd", ""},
		{"dev-shm", "/dev/shm"},
		{"tempdir", t.TempDir()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			skipWithoutDir(t, c.dir)
			a := newTestArena(t, 256<<20, Options{dir: c.dir}, defaultPolicy(testPage))
			small, _ := a.Alloc(1 << 20) // freed too, but below minTrim
			fill(a.Bytes(small), 1)
			keep, _ := a.Alloc(4096) // keeps small's extent from joining s's
			fill(a.Bytes(keep), 3)
			s, _ := a.Alloc(n)
			fill(a.Bytes(s), 2)
			keep2, _ := a.Alloc(4096) // and s's from joining the rest
			fill(a.Bytes(keep2), 4)
			blocks0, rss0 := fileBytes(t, a), rss(t)
			a.Free(s)
			a.Free(small)
			if got, err := a.Trim(time.Hour); err != nil || got != 0 {
				t.Fatalf("Trim(1h) just after Free released %d bytes (%v), want 0", got, err)
			}
			got, err := a.Trim(0)
			if err != nil {
				t.Fatal(err)
			}
			blocks1, rss1 := fileBytes(t, a), rss(t)
			t.Logf("%s: Trim(0) released %d MiB; file %d → %d MiB; Rss %d → %d MiB", a.Where(), got>>20, blocks0>>20, blocks1>>20, rss0>>20, rss1>>20)
			if got != n {
				t.Errorf("Trim(0) released %d bytes, want the %d written and freed", got, n)
			}
			if drop := blocks0 - blocks1; drop != got {
				t.Errorf("the file's blocks dropped by %d bytes, Trim reported %d", drop, got)
			}
			if drop := rss0 - rss1; drop < got-16<<20 || drop > got+16<<20 {
				t.Errorf("Rss dropped by %d MiB, Trim reported %d MiB", drop>>20, got>>20)
			}
			if got, _ := a.Trim(0); got != 0 {
				t.Errorf("a second Trim released %d bytes, want 0", got)
			}
			again, _ := a.Alloc(n)
			if again.Off != s.Off {
				t.Fatalf("Alloc after Trim at %d, want %d", again.Off, s.Off)
			}
			if b := a.Bytes(again); b[0] != 0 || b[n/2] != 0 || b[n-1] != 0 {
				t.Fatal("a trimmed extent allocated again does not read as zeros")
			}
			if a.Bytes(keep)[1] != 3+31 {
				t.Fatal("Trim changed a live span")
			}
		})
	}
}

func skipWithoutDir(t *testing.T, dir string) {
	if _, err := os.Stat(dir); dir != "" && err != nil {
		t.Skip(err)
	}
}

// fileBytes returns the memory that a's file holds.
func fileBytes(t *testing.T, a *Arena) int64 {
	var st syscall.Stat_t
	if err := syscall.Fstat(a.fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// rss returns the resident memory of this process.
func rss(t *testing.T) int64 {
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Rss:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no Rss in /proc/self/smaps_rollup")
	return 0
}

func TestPrefault(t *testing.T) {
	a := newTestArena(t, 8<<20, Options{Prefault: true}, defaultPolicy(testPage))
	if got := fileBytes(t, a); got != 8<<20 {
		t.Fatalf("a prefaulted arena's file holds %d bytes, want %d", got, 8<<20)
	}
	if got, err := a.Trim(0); err != nil || got != 8<<20 {
		t.Fatalf("Trim(0) of a prefaulted, empty arena released %d bytes (%v), want all", got, err)
	}
}

func TestClose(t *testing.T) {
	a, err := New(1<<20, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := a.Alloc(10)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err == nil {
		t.Error("a second Close succeeded")
	}
	if _, ok := a.Alloc(10); ok {
		t.Error("Alloc after Close succeeded")
	}
	if _, err := a.Trim(0); err == nil {
		t.Error("Trim after Close succeeded")
	}
	defer func() {
		if recover() == nil {
			t.Error("Bytes after Close did not panic")
		}
	}()
	a.Bytes(s)
}

// Resident counts live spans and written free memory; TrimTo releases free
// extents, whatever their age, down to its limit and no further, and the
// file's blocks drop by what it reports.
func TestTrimToKeepsResidentWithinALimit(t *testing.T) {
	a := newTestArena(t, 256<<20, Options{}, defaultPolicy(testPage))
	if r := a.Resident(); r != 0 {
		t.Fatalf("a new arena's Resident is %d, want 0", r)
	}
	var spans []Span
	for i := range 6 {
		s, ok := a.Alloc(8 << 20)
		if !ok {
			t.Fatal("Alloc failed")
		}
		fill(a.Bytes(s), byte(i+1))
		spans = append(spans, s)
	}
	if r := a.Resident(); r != 48<<20 {
		t.Fatalf("Resident %d MiB with 48 MiB of live spans", r>>20)
	}
	for _, s := range spans[1:5] { // 32 MiB free, one extent, still written
		a.Free(s)
	}
	if r := a.Resident(); r != 48<<20 {
		t.Fatalf("Resident %d MiB after freeing written spans, want still 48", r>>20)
	}
	if got, err := a.TrimTo(64 << 20); err != nil || got != 0 {
		t.Fatalf("TrimTo above Resident released %d (%v)", got, err)
	}
	blocks0 := fileBytes(t, a)
	got, err := a.TrimTo(30 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if got != 18<<20 || a.Resident() != 30<<20 {
		t.Fatalf("TrimTo(30 MiB) released %d MiB, Resident now %d MiB; want 18 and 30", got>>20, a.Resident()>>20)
	}
	if drop := blocks0 - fileBytes(t, a); drop != got {
		t.Fatalf("the file's blocks dropped by %d bytes, TrimTo reported %d", drop, got)
	}
	if got, _ := a.TrimTo(0); got != 14<<20 || a.Resident() != 16<<20 {
		t.Fatalf("TrimTo(0) released %d MiB more, Resident %d MiB; want 14 and the 16 of live spans", got>>20, a.Resident()>>20)
	}
	for i, s := range []Span{spans[0], spans[5]} {
		want := make([]byte, s.Len)
		fill(want, byte(1+5*i))
		if !bytes.Equal(a.Bytes(s), want) {
			t.Fatalf("TrimTo changed live span %d", i)
		}
	}
}
