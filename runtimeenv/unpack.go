package runtimeenv

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// UnpackOptions tune Unpack.
type UnpackOptions struct {
	// Limit bounds the package's content size as on every other path
	// (0: DefaultLimit; negative: no limit).
	Limit int64
}

// UnpackFile unpacks the archive at path; see Unpack.
func UnpackFile(ctx context.Context, path, hash, dir string, opts UnpackOptions) (*Layout, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening package archive: %w", err)
	}
	defer f.Close()
	return Unpack(ctx, f, hash, dir, opts)
}

// Unpack reads a package archive from r to its end, checks that its bytes
// hash to hash, and unpacks it into dir, which must not exist. The tree is
// written beside dir and renamed into place only once the hash and every
// entry have been checked, so dir never holds a partial or unverified
// package. Entries must match the manifest; absolute or escaping paths and
// links, and anything over the limit, are refused. Files are read-only;
// executables keep their execute bits.
func Unpack(ctx context.Context, r io.Reader, hash, dir string, opts UnpackOptions) (*Layout, error) {
	if err := checkHash(hash); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("unpacking package %s: %s already exists", short(hash), dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), privateDir); err != nil {
		return nil, fmt.Errorf("unpacking package %s: %w", short(hash), err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".unpack-*")
	if err != nil {
		return nil, fmt.Errorf("unpacking package %s: %w", short(hash), err)
	}
	if err := os.Chmod(tmp, privateDir); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("unpacking package %s: %w", short(hash), err)
	}
	ra := newReadAhead(r, newContentHash())
	m, err := unpackInto(ctx, ra, tmp, opts)
	if err == nil {
		err = ra.drain()
	} else if ctx.Err() == nil && !errors.Is(err, ErrTooLarge) && ra.drain() == nil {
		// The archive did not unpack: if its bytes are not the package's
		// either, say so (it was damaged, not made wrong).
		if got := hex.EncodeToString(ra.h.Sum(nil)); got != hash {
			err = fmt.Errorf("%w: the %d bytes of package %s hash to %s (unpacking them failed: %v)", ErrHashMismatch, ra.n, short(hash), short(got), err)
		}
	}
	ra.close()
	if err == nil {
		if got := hex.EncodeToString(ra.h.Sum(nil)); got != hash {
			err = fmt.Errorf("%w: the %d bytes of package %s hash to %s", ErrHashMismatch, ra.n, short(hash), short(got))
		}
	}
	if err == nil {
		if rerr := os.Rename(tmp, dir); rerr != nil {
			err = fmt.Errorf("unpacking package %s: %w", short(hash), rerr)
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &Layout{
		Dir:      dir,
		Binary:   filepath.Join(dir, filepath.FromSlash(m.Binary)),
		WorkDir:  filepath.Join(dir, filepath.FromSlash(m.WorkDir)),
		Manifest: *m,
	}, nil
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// decoderOptions bound what a (possibly hostile) archive can make the
// decoder allocate.
func decoderOptions() []zstd.DOption {
	return []zstd.DOption{
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(64 << 20),
	}
}

func unpackInto(ctx context.Context, r io.Reader, root string, opts UnpackOptions) (*Manifest, error) {
	dec, err := zstd.NewReader(r, decoderOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	hdr, err := tr.Next()
	if err != nil {
		return nil, corrupt("reading the first entry: %v", err)
	}
	if hdr.Name != manifestName || hdr.Typeflag != tar.TypeReg || hdr.Size > maxManifestBytes {
		return nil, corrupt("the first entry is %q (%d bytes), not the manifest", hdr.Name, hdr.Size)
	}
	var mbuf bytes.Buffer
	if _, err := io.CopyN(&mbuf, tr, hdr.Size); err != nil {
		return nil, corrupt("reading the manifest: %v", err)
	}
	var m Manifest
	jd := json.NewDecoder(bytes.NewReader(mbuf.Bytes()))
	jd.DisallowUnknownFields()
	if err := jd.Decode(&m); err != nil {
		return nil, corrupt("decoding the manifest: %v", err)
	}
	limit := opts.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if err := m.validate(limit); err != nil {
		return nil, err
	}
	if err := writeNew(filepath.Join(root, manifestName), mbuf.Bytes(), 0o400); err != nil {
		return nil, err
	}
	buf := make([]byte, 256<<10)
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err != nil {
			return nil, corrupt("expected %s, got %v", f.Path, err)
		}
		if err := matchHeader(hdr, f); err != nil {
			return nil, err
		}
		dst := filepath.Join(root, filepath.FromSlash(f.Path))
		switch f.Type {
		case TypeDir:
			if err := os.Mkdir(dst, fileMode(f)); err != nil {
				return nil, fmt.Errorf("unpacking %s: %w", f.Path, err)
			}
		case TypeLink:
			if err := os.Symlink(filepath.FromSlash(f.Link), dst); err != nil {
				return nil, fmt.Errorf("unpacking %s: %w", f.Path, err)
			}
		default:
			if err := writeEntry(ctx, dst, tr, f, buf); err != nil {
				return nil, err
			}
		}
	}
	if hdr, err := tr.Next(); err != io.EOF {
		if err == nil {
			return nil, corrupt("entry %q is not in the manifest", hdr.Name)
		}
		return nil, corrupt("after the last entry: %v", err)
	}
	// Read the rest of the zstd stream: its checksum, and any further frame.
	if n, err := io.Copy(io.Discard, dec); err != nil || n != 0 {
		return nil, corrupt("after the archive's end: %d stray bytes, %v", n, err)
	}
	return &m, nil
}

// matchHeader checks that a tar header is the manifest's entry f.
func matchHeader(hdr *tar.Header, f File) error {
	name := f.Path
	want := byte(tar.TypeReg)
	switch f.Type {
	case TypeDir:
		name += "/"
		want = tar.TypeDir
	case TypeLink:
		want = tar.TypeSymlink
	}
	ok := hdr.Name == name && hdr.Typeflag == want
	switch f.Type {
	case TypeFile:
		ok = ok && hdr.Size == f.Size && (hdr.Mode&0o111 != 0) == f.Exec
	case TypeLink:
		ok = ok && hdr.Linkname == f.Link
	}
	if !ok {
		return fmt.Errorf("%w: entry %q (type %c, %d bytes) does not match the manifest's %q", ErrCorrupt, hdr.Name, hdr.Typeflag, hdr.Size, f.Path)
	}
	return nil
}

func writeEntry(ctx context.Context, dst string, r io.Reader, f File, buf []byte) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("unpacking %s: %w", f.Path, err)
	}
	left := f.Size
	for left > 0 && err == nil {
		if err = ctx.Err(); err != nil {
			break
		}
		var n int
		n, err = io.ReadFull(r, buf[:min(int64(len(buf)), left)])
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				err = fmt.Errorf("unpacking %s: %w", f.Path, werr)
			}
			left -= int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: %s ends after %d of %d bytes", ErrCorrupt, f.Path, f.Size-left, f.Size)
		} else if err != nil && !errors.Is(err, ErrCorrupt) && ctx.Err() == nil {
			err = fmt.Errorf("%w: reading %s from the archive: %w", ErrCorrupt, f.Path, err)
		}
	}
	if err == nil {
		err = out.Chmod(fileMode(f))
	}
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("unpacking %s: %w", f.Path, cerr)
	}
	return err
}

func writeNew(p string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readAhead reads r on its own goroutine in 1 MiB blocks, hashing them,
// so that hashing the archive overlaps with decompressing and writing it.
type readAhead struct {
	h      hash.Hash
	n      int64 // bytes read from r (valid after the goroutine ends)
	full   chan readBlock
	free   chan []byte
	stop   chan struct{}
	done   chan struct{}
	cur    readBlock
	off    int
	closed bool
}

type readBlock struct {
	b   []byte
	err error
}

func newReadAhead(r io.Reader, h hash.Hash) *readAhead {
	ra := &readAhead{h: h, full: make(chan readBlock, 2), free: make(chan []byte, 3), stop: make(chan struct{}), done: make(chan struct{})}
	for range 3 {
		ra.free <- make([]byte, 1<<20)
	}
	go ra.run(r)
	return ra
}

func (ra *readAhead) run(r io.Reader) {
	defer close(ra.done)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.stop:
			return
		}
		n, err := io.ReadFull(r, buf)
		ra.h.Write(buf[:n])
		ra.n += int64(n)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		select {
		case ra.full <- readBlock{buf[:n], err}:
		case <-ra.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.off == len(ra.cur.b) {
		if ra.cur.err != nil {
			return 0, ra.cur.err
		}
		if ra.cur.b != nil {
			ra.free <- ra.cur.b[:cap(ra.cur.b)]
		}
		ra.cur, ra.off = <-ra.full, 0
		if len(ra.cur.b) == 0 && ra.cur.err == nil {
			ra.cur.b = nil
		}
	}
	n := copy(p, ra.cur.b[ra.off:])
	ra.off += n
	return n, nil
}

// drain reads what is left, so that the hash covers every byte of r.
func (ra *readAhead) drain() error {
	_, err := io.Copy(io.Discard, ra)
	if err != nil {
		return fmt.Errorf("reading package archive: %w", err)
	}
	<-ra.done
	return nil
}

func (ra *readAhead) close() {
	if !ra.closed {
		ra.closed = true
		close(ra.stop)
		<-ra.done
	}
}
