package runtimeenv

import (
	"archive/tar"
	"bufio"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/shoal-dev/shoal/internal/bytesize"
)

// Size defaults.
const (
	// DefaultLimit bounds a package's content (the sum of its file sizes)
	// on every path: packing, the head's store and the nodes' caches.
	DefaultLimit = 2 << 30
	// DefaultWarnFileSize is the file size from which Pack warns about a
	// single file (the binary excepted).
	DefaultWarnFileSize = 10 << 20
	// DefaultPackCacheBytes is the disk budget of a pack cache directory.
	DefaultPackCacheBytes = 4 << 30
)

// PackOptions tune Pack.
type PackOptions struct {
	// Limit bounds the package's content size (the sum of its file sizes).
	// 0 means DefaultLimit; a negative value means no limit.
	Limit int64
	// TempDir is where the archive is written when CacheDir is empty ("":
	// os.TempDir()). Package.Remove deletes it.
	TempDir string
	// CacheDir, if set, keeps archives (up to CacheBytes) and an index from
	// a fingerprint of the inputs (paths, sizes, modification and change
	// times, inodes, modes, the Spec) to the archive, so that packing an
	// unchanged Spec again reads no file and compresses nothing. The CLI
	// uses $XDG_CACHE_HOME/shoal/packages.
	CacheDir string
	// CacheBytes is CacheDir's disk budget (0: DefaultPackCacheBytes); the
	// least recently used archives beyond it are deleted.
	CacheBytes int64
	// Warn receives notes for the person submitting: large files, skipped
	// symbolic links. nil logs them with Logger.
	Warn func(string)
	// WarnFileSize is the size from which a single file is warned about
	// (0: DefaultWarnFileSize; negative: never).
	WarnFileSize int64
	// Progress, if set, is called as file content is packed.
	Progress func(done, total int64)
	Logger   *slog.Logger
}

func (o *PackOptions) limit() int64 {
	if o.Limit == 0 {
		return DefaultLimit
	}
	return o.Limit
}

func (o *PackOptions) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

func (o *PackOptions) warn(msg string) {
	if o.Warn != nil {
		o.Warn(msg)
		return
	}
	o.logger().Warn(msg)
}

// Package is a packed runtime environment: a compressed archive named by
// the BLAKE3 hash of its bytes.
type Package struct {
	Hash string // lowercase hex BLAKE3 (32 bytes) of the archive
	Size int64  // archive bytes
	Path string // the archive file
	Manifest
	// Reused reports that the archive came from the pack cache unchanged.
	Reused bool
	temp   bool
}

// Remove deletes the archive if Pack wrote it to TempDir; archives in the
// pack cache stay for the next Pack.
func (p *Package) Remove() error {
	if !p.temp {
		return nil
	}
	if err := os.Remove(p.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing package archive: %w", err)
	}
	return nil
}

// Pack builds the package of spec: it walks the inputs first and fails
// before reading any file if their total size is over the limit, then
// writes a deterministic tar archive (sorted paths; times, owners and modes
// normalised, the execute bit kept), compressed with zstd, to a file while
// hashing it. Identical inputs give the identical archive and hash on any
// machine running the same Shoal release.
func Pack(ctx context.Context, spec Spec, opts PackOptions) (*Package, error) {
	start := time.Now()
	w, err := walk(ctx, spec)
	if err != nil {
		return nil, err
	}
	for _, n := range w.notes {
		opts.warn(n)
	}
	if limit := opts.limit(); limit > 0 && w.content > limit {
		return nil, newLimitError(w, limit)
	}
	warnSize := cmp.Or(opts.WarnFileSize, DefaultWarnFileSize)
	if warnSize > 0 {
		for _, e := range w.entries {
			if e.Type == TypeFile && e.Size >= warnSize && e.Path != w.binary {
				opts.warn(fmt.Sprintf("%s is %s; if the job does not need it, exclude it with --exclude %q (Spec.Excludes)",
					e.Path, bytesize.Format(e.Size), strings.TrimPrefix(e.Path, workDir+"/")))
			}
		}
	}
	var pc *packCache
	var fp string
	if opts.CacheDir != "" {
		pc = &packCache{dir: opts.CacheDir, budget: cmp.Or(opts.CacheBytes, DefaultPackCacheBytes), log: opts.logger()}
		fp = w.fingerprint()
		if pkg := pc.lookup(fp, w); pkg != nil {
			return pkg, nil
		}
	}
	dir := cmp.Or(opts.TempDir, os.TempDir())
	if pc != nil {
		dir = filepath.Join(pc.dir, "tmp")
	}
	if err := os.MkdirAll(dir, privateDir); err != nil {
		return nil, fmt.Errorf("creating the packing directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "shoal-package-*.tar.zst")
	if err != nil {
		return nil, fmt.Errorf("creating the package archive: %w", err)
	}
	pkg := &Package{Path: f.Name(), Manifest: *w.manifest(), temp: true}
	pkg.Hash, pkg.Size, err = writeArchive(ctx, w, &pkg.Manifest, f, opts.Progress)
	if err == nil && pc != nil {
		err = f.Sync() // the pack cache's index will point at it
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing the package archive: %w", cerr)
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	if pc != nil {
		racy := w.racy(start)
		if err := pc.store(fp, pkg, racy); err != nil {
			os.Remove(f.Name())
			return nil, err
		}
	}
	opts.logger().Debug("packed runtime environment", "hash", pkg.Hash, "files", len(pkg.Files),
		"content", pkg.ContentSize(), "archive", pkg.Size, "took", time.Since(start))
	return pkg, nil
}

// newLimitError names the largest files of an over-limit package.
func newLimitError(w *walked, limit int64) *LimitError {
	files := make([]FileSize, 0, len(w.entries))
	for _, e := range w.entries {
		if e.Type == TypeFile {
			files = append(files, FileSize{Path: e.Path, Size: e.Size})
		}
	}
	slices.SortFunc(files, func(a, b FileSize) int {
		return cmp.Or(cmp.Compare(b.Size, a.Size), strings.Compare(a.Path, b.Path))
	})
	n := len(files)
	return &LimitError{Size: w.content, Limit: limit, Largest: files[:min(10, n)], Files: n}
}

// encoderOptions fix every setting that shapes the compressed bytes, so
// the archive (and its hash) depends only on the inputs. SpeedFastest is
// within 3% of the default level's ratio on Go binaries at two to three
// times its speed, and passes incompressible data through at memory speed.
// Concurrency only overlaps encoding with writing; the output is the same.
func encoderOptions() []zstd.EOption {
	return []zstd.EOption{
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(4 << 20),
		zstd.WithEncoderConcurrency(2),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true),
	}
}

// hashingWriter hashes and counts what it passes on.
type hashingWriter struct {
	h hash.Hash
	w io.Writer
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	hw.h.Write(p)
	n, err := hw.w.Write(p)
	hw.n += int64(n)
	return n, err
}

// writeArchive writes the archive of w to dst and returns its hash and
// size. The zstd encoder compresses on one goroutine and hashes and writes
// on another while this one reads files.
func writeArchive(ctx context.Context, w *walked, m *Manifest, dst io.Writer, progress func(done, total int64)) (string, int64, error) {
	bw := bufio.NewWriterSize(dst, 1<<20)
	hw := &hashingWriter{h: newContentHash(), w: bw}
	enc, err := zstd.NewWriter(hw, encoderOptions()...)
	if err != nil {
		return "", 0, fmt.Errorf("starting the zstd encoder: %w", err)
	}
	err = writeTar(ctx, w, m, enc, progress)
	if cerr := enc.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("compressing the package: %w", cerr)
	}
	if err == nil {
		if ferr := bw.Flush(); ferr != nil {
			err = fmt.Errorf("writing the package archive: %w", ferr)
		}
	}
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(hw.h.Sum(nil)), hw.n, nil
}

func writeTar(ctx context.Context, w *walked, m *Manifest, out io.Writer, progress func(done, total int64)) error {
	tw := tar.NewWriter(out)
	mdata, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding the manifest: %w", err)
	}
	if err := tw.WriteHeader(tarHeader(File{Path: manifestName, Size: int64(len(mdata))})); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	if _, err := tw.Write(mdata); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	buf := make([]byte, 256<<10)
	var done int64
	for i := range w.entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := &w.entries[i]
		if err := tw.WriteHeader(tarHeader(e.File)); err != nil {
			return fmt.Errorf("packing %s: %w", e.Path, err)
		}
		if e.Type != TypeFile {
			continue
		}
		if err := copyFile(ctx, tw, e, buf, func(n int64) {
			done += n
			if progress != nil {
				progress(done, w.content)
			}
		}); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finishing the archive: %w", err)
	}
	return nil
}

// tarHeader is the normalised header of an entry: no times, owners or
// names of owners, and only the execute bit of the mode.
func tarHeader(f File) *tar.Header {
	h := &tar.Header{
		Name:    f.Path,
		Mode:    f.mode(),
		ModTime: time.Unix(0, 0),
		Format:  tar.FormatPAX,
	}
	switch f.Type {
	case TypeDir:
		h.Typeflag = tar.TypeDir
		h.Name += "/"
	case TypeLink:
		h.Typeflag = tar.TypeSymlink
		h.Linkname = f.Link
	default:
		h.Typeflag = tar.TypeReg
		h.Size = f.Size
	}
	return h
}

// copyFile copies a file's bytes into the archive, refusing one that
// changed since the walk measured it.
func copyFile(ctx context.Context, dst io.Writer, e *entry, buf []byte, progress func(int64)) error {
	var f *os.File
	var err error
	if e.follow {
		f, err = os.Open(e.src)
	} else {
		f, err = openNoFollow(e.src)
	}
	if err != nil {
		return fmt.Errorf("packing %s: %w", e.src, err)
	}
	defer f.Close()
	changed := func(what string) error {
		return fmt.Errorf("packing %s: the file changed while it was being packed (%s); pack again once it is stable", e.src, what)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("packing %s: %w", e.src, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != e.Size {
		return changed(fmt.Sprintf("%d bytes when listed, %d now", e.Size, fi.Size()))
	}
	left := e.Size
	for left > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := f.Read(buf[:min(int64(len(buf)), left)])
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return fmt.Errorf("packing %s: %w", e.src, werr)
			}
			left -= int64(n)
			progress(int64(n))
		}
		if err == io.EOF && left > 0 {
			return changed("it shrank")
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("packing %s: %w", e.src, err)
		}
	}
	after, err := f.Stat()
	if err != nil {
		return fmt.Errorf("packing %s: %w", e.src, err)
	}
	if after.Size() != e.Size || !after.ModTime().Equal(fi.ModTime()) || after.ModTime().UnixNano() != e.stamp.mtime {
		return changed("its size or modification time moved")
	}
	return nil
}
