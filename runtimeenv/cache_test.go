package runtimeenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fileFetcher serves archives from local files and counts fetches.
type fileFetcher struct {
	paths   map[string]string
	fetches atomic.Int32
	corrupt atomic.Int32  // damage this many more downloads
	gate    chan struct{} // if set, a fetch waits for it
	started chan struct{} // if set, closed when the first fetch starts
	once    sync.Once
	breakAt atomic.Int64 // if set, the next fetch stops with an error after this many bytes
	offsets []int64      // the offset of every fetch
	mu      sync.Mutex
}

func (f *fileFetcher) fetch(ctx context.Context, hash string, offset int64, dst io.Writer) error {
	f.fetches.Add(1)
	if f.started != nil {
		f.once.Do(func() { close(f.started) })
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p, ok := f.paths[hash]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, hash)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.offsets = append(f.offsets, offset)
	f.mu.Unlock()
	data = data[offset:]
	if n := f.breakAt.Swap(0); n > 0 {
		dst.Write(data[:n])
		return errors.New("connection reset")
	}
	if f.corrupt.Add(-1) >= 0 {
		data = bytes.Clone(data)
		data[len(data)/3] ^= 0x10
	}
	_, err = dst.Write(data)
	return err
}

func packages(t *testing.T, n int, mib int) ([]*Package, *fileFetcher) {
	ff := &fileFetcher{paths: map[string]string{}}
	var pkgs []*Package
	for i := range n {
		j := newJob(t)
		j.spec.Env = []string{fmt.Sprintf("PKG=%d", i)}
		if mib > 0 {
			writeRandomFile(t, filepath.Join(j.spec.WorkingDir, "blob"), uint64(100+i), int64(mib)<<20)
		}
		p := pack(t, j.spec, PackOptions{})
		ff.paths[p.Hash] = p.Path
		pkgs = append(pkgs, p)
	}
	return pkgs, ff
}

// TestCacheFetchesOnceForConcurrentUsers: executors of several jobs start
// at once; the package is downloaded once and shared.
func TestCacheFetchesOnceForConcurrentUsers(t *testing.T) {
	pkgs, ff := packages(t, 1, 1)
	ff.gate = make(chan struct{})
	c := &Cache{Dir: t.TempDir(), Logger: discardLogger()}
	var wg sync.WaitGroup
	dirs := make([]string, 16)
	errs := make([]error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = c.Acquire(context.Background(), pkgs[0].Hash, fmt.Sprintf("job-%d", i%4), ff.fetch)
		}()
	}
	close(ff.gate)
	wg.Wait()
	for i := range 16 {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Fatalf("caller %d: %q, %v", i, dirs[i], errs[i])
		}
	}
	if n := ff.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for one package", n)
	}
	got, _ := c.Contents()
	if len(got) != 1 || len(got[0].Jobs) != 4 || got[0].Jobs["job-0"] != 4 {
		t.Fatalf("contents %+v", got)
	}
	if _, err := ReadLayout(dirs[0]); err != nil {
		t.Fatal(err)
	}
}

// TestCacheEvictsOnlyUnusedPackages: past the budget, the least recently
// used package no job holds goes; a package in use stays however old.
func TestCacheEvictsOnlyUnusedPackages(t *testing.T) {
	pkgs, ff := packages(t, 4, 1)
	a, b, c3, d := pkgs[0], pkgs[1], pkgs[2], pkgs[3]
	one := a.Size + a.ContentSize() // every package has the same size, near enough
	c := &Cache{Dir: t.TempDir(), BudgetBytes: 2*one + one/2, Logger: discardLogger()}
	ctx := context.Background()
	acquire := func(p *Package, job string) {
		t.Helper()
		if _, err := c.Acquire(ctx, p.Hash, job, ff.fetch); err != nil {
			t.Fatal(err)
		}
	}
	held := func() map[string]bool {
		got, _ := c.Contents()
		m := map[string]bool{}
		for _, p := range got {
			m[p.Hash] = true
		}
		return m
	}
	acquire(a, "running") // oldest, in use throughout
	acquire(b, "done")
	c.Release(b.Hash, "done")
	acquire(c3, "done") // over budget: b (unused) goes, a (in use) stays
	if h := held(); !h[a.Hash] || h[b.Hash] || !h[c3.Hash] {
		t.Fatalf("after the third package: %v", h)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, b.Hash)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the evicted package's files remain")
	}
	acquire(d, "other") // over budget, c3 still held by "done": nothing can go
	if h := held(); len(h) != 3 {
		t.Fatalf("evicted a package in use: %v", h)
	}
	c.ReleaseJob("done") // c3 is free now and goes
	if h := held(); !h[a.Hash] || h[c3.Hash] || !h[d.Hash] {
		t.Fatalf("after the job ended: %v", h)
	}
	// A package evicted comes back on demand.
	acquire(b, "again")
	if n := ff.fetches.Load(); n != 5 {
		t.Fatalf("%d fetches, want 5", n)
	}
	_, used := c.Contents()
	if used > c.BudgetBytes+one {
		t.Fatalf("used %d, budget %d", used, c.BudgetBytes)
	}
}

// TestCacheRefetchesDamagedDownload: a download that fails its hash check
// is deleted and fetched again; twice is an error.
func TestCacheRefetchesDamagedDownload(t *testing.T) {
	pkgs, ff := packages(t, 2, 1)
	c := &Cache{Dir: t.TempDir(), Logger: discardLogger()}
	ff.corrupt.Store(1)
	if _, err := c.Acquire(context.Background(), pkgs[0].Hash, "j", ff.fetch); err != nil {
		t.Fatal(err)
	}
	if n := ff.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	ff.corrupt.Store(2)
	_, err := c.Acquire(context.Background(), pkgs[1].Hash, "j", ff.fetch)
	if !errors.Is(err, ErrHashMismatch) || !strings.Contains(err.Error(), "twice the download failed verification") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, pkgs[1].Hash)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("an unverified package became visible")
	}
}

// TestCacheSurvivesRestart: a node agent restarted finds its packages.
func TestCacheSurvivesRestart(t *testing.T) {
	pkgs, ff := packages(t, 2, 0)
	dir := t.TempDir()
	c := &Cache{Dir: dir, Logger: discardLogger()}
	for _, p := range pkgs {
		if _, err := c.Acquire(context.Background(), p.Hash, "j", ff.fetch); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, ".x.unpack-123"), 0o755) // a crash mid-unpack
	c2 := &Cache{Dir: dir, Logger: discardLogger()}
	for _, p := range pkgs {
		if _, err := c2.Acquire(context.Background(), p.Hash, "j", ff.fetch); err != nil {
			t.Fatal(err)
		}
	}
	if n := ff.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after a restart, want 2", n)
	}
	if _, err := os.Stat(filepath.Join(dir, ".x.unpack-123")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("leftover unpack directory kept")
	}
}

// TestCacheLoaderCancelled: the caller downloading a package gives up; a
// caller waiting for the same package takes over and resumes.
func TestCacheLoaderCancelled(t *testing.T) {
	pkgs, ff := packages(t, 1, 0)
	ff.gate, ff.started = make(chan struct{}), make(chan struct{})
	c := &Cache{Dir: t.TempDir(), Logger: discardLogger()}
	ctx1, cancel1 := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.Acquire(ctx1, pkgs[0].Hash, "j1", ff.fetch)
		first <- err
	}()
	<-ff.started // the first caller is fetching
	second := make(chan error, 1)
	go func() {
		_, err := c.Acquire(context.Background(), pkgs[0].Hash, "j2", ff.fetch)
		second <- err
	}()
	cancel1()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v", err)
	}
	close(ff.gate)
	if err := <-second; err != nil {
		t.Fatalf("second caller: %v", err)
	}
	got, _ := c.Contents()
	if len(got) != 1 || got[0].Jobs["j2"] != 1 || got[0].Jobs["j1"] != 0 {
		t.Fatalf("contents %+v", got)
	}
}

func TestCacheBadInput(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), Logger: discardLogger()}
	if _, err := c.Acquire(context.Background(), "../etc", "j", nil); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("bad hash: %v", err)
	}
	if _, err := (&Cache{}).Acquire(context.Background(), hashOf(nil), "j", nil); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("no directory: %v", err)
	}
	ff := &fileFetcher{paths: map[string]string{}}
	if _, err := c.Acquire(context.Background(), hashOf(nil), "j", ff.fetch); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown package: %v", err)
	}
}

// TestCacheResumesBrokenDownload: a download that breaks keeps its bytes;
// the next use of the package resumes from them.
func TestCacheResumesBrokenDownload(t *testing.T) {
	pkgs, ff := packages(t, 1, 2)
	c := &Cache{Dir: t.TempDir(), Logger: discardLogger()}
	ff.breakAt.Store(1 << 20)
	_, err := c.Acquire(context.Background(), pkgs[0].Hash, "j", ff.fetch)
	if err == nil || !strings.Contains(err.Error(), "connection reset") || errors.Is(err, ErrHashMismatch) {
		t.Fatalf("broken download: %v", err)
	}
	if _, err := c.Acquire(context.Background(), pkgs[0].Hash, "j", ff.fetch); err != nil {
		t.Fatal(err)
	}
	if len(ff.offsets) != 2 || ff.offsets[1] != 1<<20 {
		t.Fatalf("fetch offsets %v, want a resume at %d", ff.offsets, 1<<20)
	}
}
