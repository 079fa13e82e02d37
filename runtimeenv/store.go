package runtimeenv

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-dev/shoal/internal/bytesize"
)

// Store is the head's package store: complete packages and partial
// uploads on disk, by hash.
//
//	dir/<hash>.tar.zst   a complete package, verified against its hash
//	dir/<hash>.partial   an upload in progress: the bytes received so far
//
// An upload appends at the byte the store holds, so a broken one resumes
// there; bytes already held are skipped, so two clients uploading the same
// package both succeed. When the last byte arrives the hash is checked and
// the file renamed into place atomically; on a mismatch the partial file is
// deleted and the error says so. Safe for concurrent use.
type Store struct {
	dir   string
	limit int64
	log   *slog.Logger

	mu      sync.Mutex
	uploads map[string]*upload
	closed  bool
}

// StoreOptions tune a Store.
type StoreOptions struct {
	// Limit bounds a package's content size, as Pack's limit does (0:
	// DefaultLimit; negative: no limit). Archives may exceed it by the
	// archive's own overhead (see ArchiveLimit).
	Limit  int64
	Logger *slog.Logger
}

// upload is an upload in progress. Lock order: upload.mu, then Store.mu
// (finishing or abandoning an upload removes it from the map); Store.mu is
// never held while taking an upload's mutex.
type upload struct {
	mu      sync.Mutex
	hash    string
	size    int64 // declared archive size
	f       *os.File
	hasher  *fileHasher // hashes f's bytes behind the writes
	written int64
	done    bool // finished or abandoned: the next writer starts anew
}

// OpenStore opens (creating it if needed) the store in dir.
func OpenStore(dir string, opts StoreOptions) (*Store, error) {
	if err := mkdirPrivate(dir); err != nil {
		return nil, fmt.Errorf("opening the package store: %w", err)
	}
	limit := opts.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Store{dir: dir, limit: limit, log: log, uploads: make(map[string]*upload)}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// ArchiveLimit bounds the archive of a package whose content is limited to
// limit: compression never grows data by more than a few bytes per 128 KiB
// block, and tar adds a header per file, which compresses well.
func ArchiveLimit(limit int64) int64 {
	if limit <= 0 {
		return 1<<63 - 1
	}
	return limit + limit/64 + 64<<20
}

func (s *Store) completePath(hash string) string { return filepath.Join(s.dir, hash+".tar.zst") }
func (s *Store) partialPath(hash string) string  { return filepath.Join(s.dir, hash+".partial") }

// Stat reports how much of a package the store holds: held is 0 for
// nothing, the bytes received of a partial upload, or size when complete.
// size is 0 when unknown (no upload has declared it since the store opened).
func (s *Store) Stat(hash string) (held, size int64, complete bool, err error) {
	if err := checkHash(hash); err != nil {
		return 0, 0, false, err
	}
	if fi, err := os.Stat(s.completePath(hash)); err == nil {
		return fi.Size(), fi.Size(), true, nil
	}
	s.mu.Lock()
	u := s.uploads[hash]
	s.mu.Unlock()
	if u != nil {
		u.mu.Lock()
		defer u.mu.Unlock()
		if !u.done {
			return u.written, u.size, false, nil
		}
	}
	if fi, err := os.Stat(s.partialPath(hash)); err == nil {
		return fi.Size(), 0, false, nil
	}
	return 0, 0, false, nil
}

// OpenPackage opens a complete package for reading; it wraps ErrNotFound
// if the store does not hold it.
func (s *Store) OpenPackage(hash string) (*os.File, int64, error) {
	if err := checkHash(hash); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(s.completePath(hash))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, 0, fmt.Errorf("%w: the head holds no package %s (submit the job again to upload it)", ErrNotFound, short(hash))
		}
		return nil, 0, fmt.Errorf("opening package %s: %w", short(hash), err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("opening package %s: %w", short(hash), err)
	}
	return f, fi.Size(), nil
}

// checkSizes applies the store's limit to an upload's declared sizes.
func (s *Store) checkSizes(hash string, size, contentSize int64) error {
	if size <= 0 || contentSize < 0 {
		return fmt.Errorf("%w: upload of package %s declares size %d and content size %d", ErrBadSpec, short(hash), size, contentSize)
	}
	if s.limit > 0 && (contentSize > s.limit || size > ArchiveLimit(s.limit)) {
		return fmt.Errorf("%w: package %s holds %s (a %s archive), over the head's package limit of %s; exclude files with --exclude PATTERN (Spec.Excludes) or raise the limit on the head and the client with --package-limit SIZE",
			ErrTooLarge, short(hash), bytesize.Format(contentSize), bytesize.Format(size), bytesize.Format(s.limit))
	}
	return nil
}

// Write stores data at offset of the package's archive of size bytes and
// reports how much the store now holds and whether the package is complete.
// Bytes the store already holds are skipped; an offset beyond them is
// refused. The write that completes the package verifies its hash.
func (s *Store) Write(hash string, size, contentSize, offset int64, data []byte) (held int64, complete bool, err error) {
	if err := checkHash(hash); err != nil {
		return 0, false, err
	}
	if err := s.checkSizes(hash, size, contentSize); err != nil {
		return 0, false, err
	}
	u, err := s.openUpload(hash, size)
	if err != nil {
		return 0, false, err
	}
	if u == nil {
		return size, true, nil // already complete
	}
	defer u.mu.Unlock()
	if offset < 0 || offset > u.written {
		return u.written, false, fmt.Errorf("%w: upload of package %s sent bytes from offset %d, but the head holds only %d; resume from there", errGap, short(hash), offset, u.written)
	}
	if skip := u.written - offset; skip > 0 {
		if skip >= int64(len(data)) {
			return u.written, false, nil
		}
		data = data[skip:]
	}
	if u.written+int64(len(data)) > u.size {
		return u.written, false, fmt.Errorf("%w: upload of package %s runs past its declared size of %d bytes", ErrCorrupt, short(hash), u.size)
	}
	if _, err := u.f.WriteAt(data, u.written); err != nil {
		return u.written, false, fmt.Errorf("storing package %s: %w", short(hash), err)
	}
	u.written += int64(len(data))
	u.hasher.advance(u.written)
	if u.written < u.size {
		return u.written, false, nil
	}
	if err := s.finish(u); err != nil {
		return 0, false, err
	}
	return u.size, true, nil
}

// errGap is returned for a write beyond the bytes held; the client asks
// again what the store holds and resumes there.
var errGap = errors.New("runtimeenv: upload offset beyond the bytes held")

// openUpload returns the locked upload state of hash, creating it (and its
// partial file) if needed; nil if the package is already complete.
func (s *Store) openUpload(hash string, size int64) (*upload, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, fmt.Errorf("package store %s is closed", s.dir)
		}
		if _, err := os.Stat(s.completePath(hash)); err == nil {
			s.mu.Unlock()
			return nil, nil
		}
		u := s.uploads[hash]
		if u == nil {
			f, err := os.OpenFile(s.partialPath(hash), os.O_RDWR|os.O_CREATE, privateFile)
			if err != nil {
				s.mu.Unlock()
				return nil, fmt.Errorf("storing package %s: %w", short(hash), err)
			}
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				s.mu.Unlock()
				return nil, fmt.Errorf("storing package %s: %w", short(hash), err)
			}
			u = &upload{hash: hash, size: size, f: f, written: fi.Size()}
			if u.written > size {
				// A partial of another declared size: start over.
				if err := f.Truncate(0); err != nil {
					f.Close()
					s.mu.Unlock()
					return nil, fmt.Errorf("storing package %s: %w", short(hash), err)
				}
				u.written = 0
			}
			u.hasher = newFileHasher(f, u.written) // a partial kept from before is hashed first
			s.uploads[hash] = u
		}
		s.mu.Unlock()
		u.mu.Lock()
		if u.done {
			u.mu.Unlock()
			continue
		}
		if u.size != size {
			u.mu.Unlock()
			return nil, fmt.Errorf("%w: package %s is being uploaded with a size of %d bytes, this upload declares %d", ErrCorrupt, short(hash), u.size, size)
		}
		return u, nil
	}
}

// finish verifies a complete upload and renames it into place; on a
// mismatch it deletes the partial file.
func (s *Store) finish(u *upload) error {
	sum, err := u.hasher.finish(u.size)
	if err != nil {
		s.abandon(u)
		return fmt.Errorf("storing package %s: %w", short(u.hash), err)
	}
	got := hex.EncodeToString(sum)
	if got != u.hash {
		s.abandon(u)
		os.Remove(s.partialPath(u.hash))
		s.log.Warn("package upload failed its hash check; partial upload deleted", "hash", u.hash, "got", got, "size", u.size)
		return fmt.Errorf("%w: the %d bytes uploaded for package %s hash to %s; the partial upload was deleted, upload it again", ErrHashMismatch, u.size, short(u.hash), short(got))
	}
	err = u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(s.partialPath(u.hash), s.completePath(u.hash))
	}
	u.done = true
	s.mu.Lock()
	delete(s.uploads, u.hash)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("storing package %s: %w", short(u.hash), err)
	}
	s.log.Info("package stored", "hash", u.hash, "size", u.size)
	return nil
}

// abandon drops an upload's state (the caller holds u.mu).
func (s *Store) abandon(u *upload) {
	u.done = true
	u.hasher.stop()
	u.f.Close()
	s.mu.Lock()
	if s.uploads[u.hash] == u {
		delete(s.uploads, u.hash)
	}
	s.mu.Unlock()
}

// Put stores a whole archive read from r (an embedded cluster hands the
// packed file over this way), verifying its hash.
func (s *Store) Put(ctx context.Context, hash string, r io.Reader, size, contentSize int64) error {
	buf := make([]byte, 1<<20)
	var off int64
	for off < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), size-off)])
		if n > 0 {
			if _, complete, werr := s.Write(hash, size, contentSize, off, buf[:n]); werr != nil {
				return werr
			} else if complete {
				return nil
			}
			off += int64(n)
		}
		if err != nil {
			return fmt.Errorf("storing package %s: reading it: %w", short(hash), err)
		}
	}
	return nil
}

// Remove deletes a complete package and any partial upload of it.
func (s *Store) Remove(hash string) error {
	if err := checkHash(hash); err != nil {
		return err
	}
	s.mu.Lock()
	u := s.uploads[hash]
	s.mu.Unlock()
	if u != nil {
		u.mu.Lock()
		if !u.done {
			s.abandon(u)
		}
		u.mu.Unlock()
	}
	for _, p := range []string{s.completePath(hash), s.partialPath(hash)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing package %s: %w", short(hash), err)
		}
	}
	return nil
}

// StoredPackage describes a package in a Store.
type StoredPackage struct {
	Hash     string
	Size     int64 // bytes held
	Complete bool
	Modified time.Time
}

// List returns the packages the store holds, complete or partial.
func (s *Store) List() ([]StoredPackage, error) {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing the package store: %w", err)
	}
	var out []StoredPackage
	for _, de := range des {
		name := de.Name()
		h, complete := strings.CutSuffix(name, ".tar.zst")
		if !complete {
			var ok bool
			if h, ok = strings.CutSuffix(name, ".partial"); !ok {
				continue
			}
		}
		if checkHash(h) != nil {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		out = append(out, StoredPackage{Hash: h, Size: fi.Size(), Complete: complete, Modified: fi.ModTime()})
	}
	return out, nil
}

// PruneStale deletes partial uploads untouched for longer than age (an
// abandoned submission), returning how many it deleted.
func (s *Store) PruneStale(age time.Duration) (int, error) {
	list, err := s.List()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range list {
		if p.Complete || time.Since(p.Modified) < age {
			continue
		}
		s.mu.Lock()
		_, active := s.uploads[p.Hash]
		s.mu.Unlock()
		if active {
			continue
		}
		if err := os.Remove(s.partialPath(p.Hash)); err == nil {
			n++
		}
	}
	return n, nil
}

// Close closes the files of uploads in progress; their bytes stay on disk
// and resume when the store is opened again.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	ups := make([]*upload, 0, len(s.uploads))
	for _, u := range s.uploads {
		ups = append(ups, u)
	}
	s.uploads = map[string]*upload{}
	s.mu.Unlock()
	for _, u := range ups {
		u.mu.Lock()
		if !u.done {
			u.done = true
			u.hasher.stop()
			u.f.Close()
		}
		u.mu.Unlock()
	}
	return nil
}

// fileHasher computes the content hash of a file being appended to on its own
// goroutine, reading back what was written (from the page cache), so that
// hashing overlaps with receiving. Its goroutine ends with finish or stop.
type fileHasher struct {
	f      *os.File
	h      hash.Hash
	target atomic.Int64 // bytes written, safe to hash
	hashed int64        // owned by the goroutine until it exits
	err    error
	kick   chan struct{}
	quit   chan struct{}
	exited chan struct{}
	once   sync.Once
}

func newFileHasher(f *os.File, written int64) *fileHasher {
	fh := &fileHasher{f: f, h: newContentHash(), kick: make(chan struct{}, 1), quit: make(chan struct{}), exited: make(chan struct{})}
	fh.target.Store(written)
	go fh.run()
	return fh
}

func (fh *fileHasher) run() {
	defer close(fh.exited)
	buf := make([]byte, 1<<20)
	for {
		for t := fh.target.Load(); fh.hashed < t && fh.err == nil; {
			select {
			case <-fh.quit:
				return
			default:
			}
			fh.hashBlock(buf, t)
		}
		select {
		case <-fh.kick:
		case <-fh.quit:
			return
		}
	}
}

func (fh *fileHasher) hashBlock(buf []byte, target int64) {
	n, err := fh.f.ReadAt(buf[:min(int64(len(buf)), target-fh.hashed)], fh.hashed)
	fh.h.Write(buf[:n])
	fh.hashed += int64(n)
	if err != nil && !(err == io.EOF && fh.hashed == target) {
		fh.err = fmt.Errorf("reading back the upload: %w", err)
	}
}

// advance says bytes up to written may be hashed.
func (fh *fileHasher) advance(written int64) {
	fh.target.Store(written)
	select {
	case fh.kick <- struct{}{}:
	default:
	}
}

// finish stops the goroutine, hashes what it had not reached, and returns
// the hash of the first size bytes.
func (fh *fileHasher) finish(size int64) ([]byte, error) {
	fh.stop()
	buf := make([]byte, 1<<20)
	for fh.hashed < size && fh.err == nil {
		fh.hashBlock(buf, size)
	}
	return fh.h.Sum(nil), fh.err
}

func (fh *fileHasher) stop() {
	fh.once.Do(func() { close(fh.quit) })
	<-fh.exited
}
