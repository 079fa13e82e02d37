package runtimeenv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/bytesize"
)

// stalePartial is the age past which a partial download is deleted when
// the cache opens.
const stalePartial = 24 * time.Hour

// FetchFunc writes the archive of package hash, from byte offset to its
// end, to dst (bytes before offset were fetched by an earlier attempt).
// Fetcher builds one from gRPC connections.
type FetchFunc func(ctx context.Context, hash string, offset int64, dst io.Writer) error

// Cache is a node's package cache: packages unpacked by hash, shared by
// every executor of every job that uses them.
//
//	Dir/<hash>/           an unpacked, verified package (see ReadLayout)
//	Dir/<hash>.tar.zst    its archive, kept to serve peers (NewPeerServer)
//	Dir/<hash>.partial    a download in progress; a new attempt resumes it
//
// Acquire fetches a package on first use, once however many callers ask
// for it at the same time, verifies its hash while unpacking it, and counts
// a reference for the job. Release drops it. When the cache holds more than
// BudgetBytes, the least recently used packages that no job references are
// deleted; a package in use never is. Safe for concurrent use.
type Cache struct {
	// Dir holds the cache; it is created if needed.
	Dir string
	// BudgetBytes bounds the disk the cache uses (archives plus unpacked
	// trees). 0 means no bound.
	BudgetBytes int64
	// Limit bounds a package's content size as on every path (0:
	// DefaultLimit; negative: none).
	Limit  int64
	Logger *slog.Logger

	mu      sync.Mutex
	inited  bool
	entries map[string]*cacheEntry
	used    int64  // bytes of ready entries
	clock   uint64 // use counter, for LRU
}

// cacheEntry is one package: loading (ready false, loaded open) or ready.
type cacheEntry struct {
	hash    string
	ready   bool
	loaded  chan struct{} // closed when loading ends
	err     error         // loading's error, set before loaded closes
	size    int64         // disk bytes: archive plus content
	lastUse uint64
	jobs    map[string]int // references per job
}

func (e *cacheEntry) refs() int {
	n := 0
	for _, c := range e.jobs {
		n += c
	}
	return n
}

// CachedPackage describes a package in a Cache.
type CachedPackage struct {
	Hash string
	Size int64          // disk bytes: archive plus unpacked content
	Jobs map[string]int // references per job
}

func (c *Cache) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func (c *Cache) limit() int64 {
	if c.Limit == 0 {
		return DefaultLimit
	}
	return c.Limit
}

func (c *Cache) pkgDir(hash string) string { return filepath.Join(c.Dir, hash) }

// initLocked scans Dir once: unpacked packages become ready entries (least
// recently used first by modification time), leftovers of interrupted
// unpacking and eviction are deleted, partial downloads are kept.
func (c *Cache) initLocked() error {
	if c.inited {
		return nil
	}
	if c.Dir == "" {
		return fmt.Errorf("%w: Cache.Dir is empty", ErrBadSpec)
	}
	if err := mkdirPrivate(c.Dir); err != nil {
		return fmt.Errorf("opening the package cache: %w", err)
	}
	des, err := os.ReadDir(c.Dir)
	if err != nil {
		return fmt.Errorf("opening the package cache: %w", err)
	}
	c.entries = make(map[string]*cacheEntry)
	type found struct {
		e   *cacheEntry
		mod time.Time
	}
	var ready []found
	archives := make(map[string]bool)
	for _, de := range des {
		name := de.Name()
		full := filepath.Join(c.Dir, name)
		switch {
		case strings.HasPrefix(name, "."):
			os.RemoveAll(full) // an interrupted unpack or eviction
		case de.IsDir() && checkHash(name) == nil:
			l, err := ReadLayout(full)
			if err != nil {
				c.logger().Warn("package cache: removing an unreadable package", "dir", full, "err", err)
				os.RemoveAll(full)
				continue
			}
			size := l.ContentSize()
			if fi, err := os.Stat(full + ".tar.zst"); err == nil {
				size += fi.Size()
			}
			fi, _ := de.Info()
			var mod time.Time
			if fi != nil {
				mod = fi.ModTime()
			}
			ready = append(ready, found{&cacheEntry{hash: name, ready: true, size: size, jobs: map[string]int{}}, mod})
		case strings.HasSuffix(name, ".tar.zst"):
			archives[strings.TrimSuffix(name, ".tar.zst")] = true
		case strings.HasSuffix(name, ".partial"):
			// Kept for a resume, unless nobody came back for it.
			if fi, err := de.Info(); err == nil && time.Since(fi.ModTime()) > stalePartial {
				os.Remove(full)
			}
		}
	}
	slices.SortFunc(ready, func(a, b found) int { return a.mod.Compare(b.mod) })
	for _, f := range ready {
		c.clock++
		f.e.lastUse = c.clock
		c.entries[f.e.hash] = f.e
		c.used += f.e.size
	}
	for h := range archives {
		if c.entries[h] == nil {
			os.Remove(filepath.Join(c.Dir, h+".tar.zst")) // its tree is gone
		}
	}
	c.inited = true
	return nil
}

// Acquire returns the directory of package hash unpacked, fetching it with
// fetch if the cache does not hold it, and counts a reference for job.
// Concurrent callers for one package share one download; if the caller
// doing it is cancelled, another carries on. Pair every successful Acquire
// with a Release (or ReleaseJob when the job ends).
func (c *Cache) Acquire(ctx context.Context, hash, job string, fetch FetchFunc) (string, error) {
	if err := checkHash(hash); err != nil {
		return "", err
	}
	for {
		c.mu.Lock()
		if err := c.initLocked(); err != nil {
			c.mu.Unlock()
			return "", err
		}
		e := c.entries[hash]
		if e == nil {
			e = &cacheEntry{hash: hash, loaded: make(chan struct{}), jobs: map[string]int{}}
			c.entries[hash] = e
			c.mu.Unlock()
			size, err := c.load(ctx, hash, fetch)
			c.mu.Lock()
			e.err = err
			if err != nil {
				delete(c.entries, hash)
				close(e.loaded)
				c.mu.Unlock()
				return "", err
			}
			e.ready, e.size = true, size
			c.used += size
			c.useLocked(e, job)
			close(e.loaded)
			victims := c.evictLocked()
			c.mu.Unlock()
			c.removeVictims(victims)
			return c.pkgDir(hash), nil
		}
		if !e.ready {
			loaded := e.loaded
			c.mu.Unlock()
			select {
			case <-loaded:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			if e.err != nil && !errors.Is(e.err, context.Canceled) && !errors.Is(e.err, context.DeadlineExceeded) {
				return "", e.err
			}
			continue
		}
		c.useLocked(e, job)
		c.mu.Unlock()
		now := time.Now()
		os.Chtimes(c.pkgDir(hash), now, now) // the LRU order after a restart
		return c.pkgDir(hash), nil
	}
}

func (c *Cache) useLocked(e *cacheEntry, job string) {
	e.jobs[job]++
	c.clock++
	e.lastUse = c.clock
}

// load fetches, verifies and unpacks a package, returning its disk size.
// Unpacking follows the download as it is written, so hashing and
// decompressing overlap with the transfer. A download that fails its hash
// check is deleted and fetched once more; one that breaks keeps its bytes
// for the next attempt to resume.
func (c *Cache) load(ctx context.Context, hash string, fetch FetchFunc) (int64, error) {
	dir := c.pkgDir(hash)
	partial := dir + ".partial"
	start := time.Now()
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		l, size, fetchErr, err := c.fetchAndUnpack(ctx, hash, partial, dir, fetch)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return 0, ctx.Err()
		case fetchErr != nil:
			if errors.Is(fetchErr, ErrBadSpec) || errors.Is(fetchErr, ErrCorrupt) || errors.Is(fetchErr, ErrTooLarge) {
				os.Remove(partial) // not a partial of what the source holds
			}
			return 0, fmt.Errorf("fetching package %s: %w", short(hash), fetchErr)
		case errors.Is(err, ErrHashMismatch) || errors.Is(err, ErrCorrupt):
			c.logger().Warn("package cache: downloaded package failed verification; fetching it again", "hash", hash, "err", err)
			os.Remove(partial)
			lastErr = err
			continue
		default:
			if errors.Is(err, ErrTooLarge) {
				os.Remove(partial)
			}
			return 0, err
		}
		if err := os.Rename(partial, dir+".tar.zst"); err != nil {
			return 0, fmt.Errorf("keeping the archive of package %s: %w", short(hash), err)
		}
		c.logger().Info("package fetched", "hash", hash, "archive", size, "content", l.ContentSize(), "took", time.Since(start))
		return size + l.ContentSize(), nil
	}
	return 0, fmt.Errorf("fetching package %s: twice the download failed verification: %w", short(hash), lastErr)
}

// fetchAndUnpack runs fetch into the partial file on a goroutine while
// Unpack reads the file behind it. It returns the fetch's error apart, so
// that a broken transfer is not taken for a damaged package.
func (c *Cache) fetchAndUnpack(ctx context.Context, hash, partial, dir string, fetch FetchFunc) (l *Layout, size int64, fetchErr, err error) {
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, privateFile)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("fetching package %s: %w", short(hash), err)
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("fetching package %s: %w", short(hash), err)
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tail := newTailFile(f, have, ArchiveLimit(c.limit()))
	fetched := make(chan error, 1)
	go func() {
		err := fetch(fctx, hash, have, tail)
		tail.finish(err)
		fetched <- err
	}()
	l, err = Unpack(fctx, tail, hash, dir, UnpackOptions{Limit: c.limit()})
	if err != nil {
		cancel() // stop a download that can no longer be used
	}
	fetchErr = <-fetched
	if err == nil && fetchErr != nil {
		err = fetchErr
	}
	if err != nil && fetchErr != nil && errors.Is(fetchErr, context.Canceled) && ctx.Err() == nil {
		fetchErr = nil // cancelled here because unpacking failed
	}
	return l, tail.size(), fetchErr, err
}

// tailFile is the partial download: the fetch appends to it (Write) while
// Unpack reads it from the start (Read), waiting for bytes not yet written
// until the fetch ends.
type tailFile struct {
	f     *os.File
	limit int64

	mu      sync.Mutex
	grew    *sync.Cond
	written int64
	done    bool
	err     error // the fetch's, once done
	off     int64 // read position (Read is called from one goroutine)
}

func newTailFile(f *os.File, written, limit int64) *tailFile {
	t := &tailFile{f: f, written: written, limit: limit}
	t.grew = sync.NewCond(&t.mu)
	return t
}

func (t *tailFile) Write(p []byte) (int, error) {
	t.mu.Lock()
	over := t.written+int64(len(p)) > t.limit
	t.mu.Unlock()
	if over {
		return 0, fmt.Errorf("%w: the download runs past %s, the most a package within the node's limit can take", ErrTooLarge, bytesize.Format(t.limit))
	}
	n, err := t.f.Write(p)
	t.mu.Lock()
	t.written += int64(n)
	t.mu.Unlock()
	t.grew.Broadcast()
	return n, err
}

func (t *tailFile) finish(err error) {
	t.mu.Lock()
	t.done, t.err = true, err
	t.mu.Unlock()
	t.grew.Broadcast()
}

func (t *tailFile) size() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.written
}

func (t *tailFile) Read(p []byte) (int, error) {
	t.mu.Lock()
	for t.off == t.written && !t.done {
		t.grew.Wait()
	}
	avail, done, ferr := t.written-t.off, t.done, t.err
	t.mu.Unlock()
	if avail == 0 && done {
		if ferr != nil {
			return 0, fmt.Errorf("the download stopped: %w", ferr)
		}
		return 0, io.EOF
	}
	n, err := t.f.ReadAt(p[:min(int64(len(p)), avail)], t.off)
	t.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Release drops one of job's references to package hash.
func (c *Cache) Release(hash, job string) {
	c.mu.Lock()
	e := c.entries[hash]
	if e == nil || !e.ready || e.jobs[job] == 0 {
		c.mu.Unlock()
		c.logger().Warn("package cache: release of a package the job does not hold", "hash", hash, "job", job)
		return
	}
	if e.jobs[job]--; e.jobs[job] == 0 {
		delete(e.jobs, job)
	}
	victims := c.evictLocked()
	c.mu.Unlock()
	c.removeVictims(victims)
}

// ReleaseJob drops every reference job holds (the job ended or its node
// agent lost track of its executors).
func (c *Cache) ReleaseJob(job string) {
	c.mu.Lock()
	for _, e := range c.entries {
		delete(e.jobs, job)
	}
	victims := c.evictLocked()
	c.mu.Unlock()
	c.removeVictims(victims)
}

// evictLocked picks the least recently used unreferenced packages to
// delete while the cache is over budget, and moves their files aside
// (cheap renames) so that a new download of the same hash does not collide
// with their removal.
func (c *Cache) evictLocked() []string {
	if c.BudgetBytes <= 0 || c.used <= c.BudgetBytes {
		return nil
	}
	var idle []*cacheEntry
	for _, e := range c.entries {
		if e.ready && e.refs() == 0 {
			idle = append(idle, e)
		}
	}
	slices.SortFunc(idle, func(a, b *cacheEntry) int { return cmp.Compare(a.lastUse, b.lastUse) })
	var trash []string
	for _, e := range idle {
		if c.used <= c.BudgetBytes {
			break
		}
		delete(c.entries, e.hash)
		c.used -= e.size
		c.clock++
		for _, p := range []string{c.pkgDir(e.hash), c.pkgDir(e.hash) + ".tar.zst"} {
			t := filepath.Join(c.Dir, ".evicted-"+filepath.Base(p)+"-"+strconv.FormatUint(c.clock, 10))
			if err := os.Rename(p, t); err == nil {
				trash = append(trash, t)
			}
		}
		c.logger().Info("package cache: evicted", "hash", e.hash, "bytes", e.size)
	}
	if c.used > c.BudgetBytes {
		c.logger().Warn("package cache over budget: every remaining package is in use",
			"used", c.used, "budget", c.BudgetBytes)
	}
	return trash
}

func (c *Cache) removeVictims(paths []string) {
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			c.logger().Warn("package cache: removing an evicted package", "path", p, "err", err)
		}
	}
}

// OpenPackage opens the archive of a package the cache holds, for peers.
func (c *Cache) OpenPackage(hash string) (*os.File, int64, error) {
	if err := checkHash(hash); err != nil {
		return nil, 0, err
	}
	c.mu.Lock()
	if err := c.initLocked(); err != nil {
		c.mu.Unlock()
		return nil, 0, err
	}
	e := c.entries[hash]
	ready := e != nil && e.ready
	c.mu.Unlock()
	if !ready {
		return nil, 0, fmt.Errorf("%w: this node holds no package %s", ErrNotFound, short(hash))
	}
	f, err := os.Open(c.pkgDir(hash) + ".tar.zst")
	if err != nil {
		return nil, 0, fmt.Errorf("%w: package %s: %v", ErrNotFound, short(hash), err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("opening package %s: %w", short(hash), err)
	}
	return f, fi.Size(), nil
}

// Contents lists the packages the cache holds (loading ones excluded) and
// the bytes they use.
func (c *Cache) Contents() (pkgs []CachedPackage, used int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if !e.ready {
			continue
		}
		jobs := make(map[string]int, len(e.jobs))
		for j, n := range e.jobs {
			jobs[j] = n
		}
		pkgs = append(pkgs, CachedPackage{Hash: e.hash, Size: e.size, Jobs: jobs})
	}
	slices.SortFunc(pkgs, func(a, b CachedPackage) int { return strings.Compare(a.Hash, b.Hash) })
	return pkgs, c.used
}
