package runtimeenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/retry"
	"github.com/shoal-dev/shoal/runtimeenv/pb"
)

// Transfer timing. A call makes progress or is cut and resumed.
const (
	statTimeout = 30 * time.Second
	idleTimeout = 60 * time.Second // no chunk sent or received for this long
	maxAttempts = 8                // consecutive attempts without progress
)

// transferBackoff is the pause after the n-th attempt in a row that made
// no progress.
var transferBackoff = retry.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second}

// UploadStats describe an Upload.
type UploadStats struct {
	// BytesSent counts the chunk bytes handed to the connection, including
	// any sent again after a cut.
	BytesSent int64
	// Skipped reports that the server already held the complete package.
	Skipped bool
	// ResumedFrom is the offset the first stream started at: the bytes the
	// server held from an earlier, interrupted upload.
	ResumedFrom int64
	// Streams is the number of upload streams opened (more than one after
	// a cut or a damaged chunk).
	Streams int
}

// Upload sends pkg to the server on conn (the head) unless it already
// holds it: it asks how many bytes the server holds and streams the rest in
// chunks, each with its CRC-32C. A broken stream or a damaged chunk is
// resumed from the byte the server holds; the server checks the hash of
// the whole archive. progress, if set, is called with the bytes the server
// holds or has been sent, out of pkg.Size.
func Upload(ctx context.Context, conn grpc.ClientConnInterface, pkg *Package, progress func(sent, total int64)) (UploadStats, error) {
	var stats UploadStats
	if err := checkHash(pkg.Hash); err != nil {
		return stats, err
	}
	f, err := os.Open(pkg.Path)
	if err != nil {
		return stats, fmt.Errorf("uploading package %s: %w", short(pkg.Hash), err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != pkg.Size {
		return stats, fmt.Errorf("uploading package %s: the archive %s is not the %d bytes that were packed (was it removed or changed?)", short(pkg.Hash), pkg.Path, pkg.Size)
	}
	cl := pb.NewPackagesClient(conn)
	var lastErr error
	mismatches := 0
	for attempt, lastHeld := 0, int64(-1); ; {
		sctx, cancel := context.WithTimeout(ctx, statTimeout)
		st, err := cl.Stat(sctx, &pb.StatRequest{Hash: pkg.Hash}, grpc.WaitForReady(true))
		cancel()
		if err == nil {
			if st.GetComplete() {
				stats.Skipped = stats.Streams == 0
				if progress != nil {
					progress(pkg.Size, pkg.Size)
				}
				return stats, nil
			}
			if lim := st.GetLimit(); lim > 0 && pkg.ContentSize() > lim {
				return stats, fmt.Errorf("uploading package %s: %w: it holds %s, over the head's package limit of %s; exclude files with --exclude PATTERN (Spec.Excludes) or raise the limit on the head with --package-limit SIZE",
					short(pkg.Hash), ErrTooLarge, bytesize.Format(pkg.ContentSize()), bytesize.Format(lim))
			}
			held := st.GetHeld()
			if held > pkg.Size {
				held = 0 // another size under the same hash: the server starts over
			}
			if stats.Streams == 0 {
				stats.ResumedFrom = held
			}
			if held > lastHeld {
				attempt, lastHeld = 0, held
			}
			stats.Streams++
			err = uploadFrom(ctx, cl, f, pkg, held, &stats, progress)
			if err == nil {
				// The server holds more now; Stat says whether all.
				if attempt++; attempt >= maxAttempts {
					return stats, fmt.Errorf("uploading package %s: the server ends every upload stream at %d bytes without completing it", short(pkg.Hash), held)
				}
				continue
			}
		}
		err = fromStatus(err)
		if ctx.Err() != nil {
			return stats, fmt.Errorf("uploading package %s: %w", short(pkg.Hash), ctx.Err())
		}
		if errors.Is(err, ErrHashMismatch) {
			// The server deleted what it had; one more try from the start.
			if mismatches++; mismatches > 1 {
				return stats, fmt.Errorf("uploading package %s: %w (twice: the archive %s may be damaged; delete it, or the pack cache holding it, and pack again)", short(pkg.Hash), err, pkg.Path)
			}
			continue
		}
		if !retryable(err) {
			return stats, fmt.Errorf("uploading package %s: %w", short(pkg.Hash), err)
		}
		lastErr = err
		if attempt++; attempt >= maxAttempts {
			return stats, fmt.Errorf("uploading package %s: %d attempts made no progress: %w", short(pkg.Hash), attempt, lastErr)
		}
		if err := transferBackoff.Wait(ctx, attempt); err != nil {
			return stats, fmt.Errorf("uploading package %s: %w", short(pkg.Hash), err)
		}
	}
}

// uploadFrom streams the archive from offset to its end.
func uploadFrom(ctx context.Context, cl pb.PackagesClient, f *os.File, pkg *Package, offset int64, stats *UploadStats, progress func(sent, total int64)) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := newIdleTimer(idleTimeout, cancel)
	defer idle.stop()
	stream, err := cl.Upload(sctx, grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	first := true
	for off := offset; off < pkg.Size; {
		buf := make([]byte, min(DefaultChunkSize, pkg.Size-off))
		if _, err := f.ReadAt(buf, off); err != nil {
			return fmt.Errorf("reading %s at %d: %w", pkg.Path, off, err)
		}
		c := &pb.Chunk{Offset: off, Data: buf, Crc32C: checksum(buf)}
		if first {
			c.Hash, c.Size, c.ContentSize = pkg.Hash, pkg.Size, pkg.ContentSize()
			first = false
		}
		if err := stream.Send(c); err != nil {
			if err == io.EOF {
				break // the server ended the stream; CloseAndRecv says why
			}
			return idle.explain(err)
		}
		idle.reset()
		stats.BytesSent += int64(len(buf))
		off += int64(len(buf))
		if progress != nil {
			progress(off, pkg.Size)
		}
	}
	_, err = stream.CloseAndRecv()
	return idle.explain(err)
}

// DownloadStats describe a Download.
type DownloadStats struct {
	Size          int64 // the archive's size
	BytesReceived int64 // chunk bytes received, damaged ones included
	Refetches     int   // chunks refused for a bad checksum and fetched again
	Streams       int   // download streams opened
}

// Download writes the package hash, from byte offset to its end, to dst,
// in order. Each chunk's CRC-32C is checked: a damaged chunk is not
// written but fetched again from its offset, and a broken stream resumes
// where it stopped. The caller verifies the whole archive's hash (Unpack
// does).
func Download(ctx context.Context, conn grpc.ClientConnInterface, hash string, offset int64, dst io.Writer, progress func(got, total int64)) (DownloadStats, error) {
	var stats DownloadStats
	if err := checkHash(hash); err != nil {
		return stats, err
	}
	cl := pb.NewPackagesClient(conn)
	var lastErr error
	for attempt := 0; ; {
		stats.Streams++
		before := offset
		err := downloadFrom(ctx, cl, hash, &offset, dst, &stats, progress)
		if err == nil {
			return stats, nil
		}
		err = fromStatus(err)
		if ctx.Err() != nil {
			return stats, fmt.Errorf("downloading package %s: %w", short(hash), ctx.Err())
		}
		if !retryable(err) {
			return stats, fmt.Errorf("downloading package %s: %w", short(hash), err)
		}
		if offset > before {
			attempt = 0
		}
		lastErr = err
		if attempt++; attempt >= maxAttempts {
			return stats, fmt.Errorf("downloading package %s: %d attempts made no progress at offset %d: %w", short(hash), attempt, offset, lastErr)
		}
		if errors.Is(err, ErrChunkChecksum) {
			continue // fetch the damaged chunk again at once
		}
		if err := transferBackoff.Wait(ctx, attempt); err != nil {
			return stats, fmt.Errorf("downloading package %s: %w", short(hash), err)
		}
	}
}

func downloadFrom(ctx context.Context, cl pb.PackagesClient, hash string, offset *int64, dst io.Writer, stats *DownloadStats, progress func(got, total int64)) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := newIdleTimer(idleTimeout, cancel)
	defer idle.stop()
	// No WaitForReady: a peer that is down fails fast, so that Fetcher
	// moves on to the next source.
	stream, err := cl.Download(sctx, &pb.DownloadRequest{Hash: hash, Offset: *offset})
	if err != nil {
		return err
	}
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			if stats.Size == 0 && *offset > 0 {
				stats.Size = *offset
			}
			if *offset < stats.Size {
				return fmt.Errorf("%w: the stream of package %s ended at %d of %d bytes", ErrChunkChecksum, short(hash), *offset, stats.Size)
			}
			return nil
		}
		if err != nil {
			return idle.explain(err)
		}
		idle.reset()
		stats.BytesReceived += int64(len(c.Data))
		switch {
		case stats.Size != 0 && c.GetSize() != stats.Size, c.GetSize() <= 0:
			return fmt.Errorf("%w: package %s changed size from %d to %d bytes", ErrCorrupt, short(hash), stats.Size, c.GetSize())
		case c.GetOffset() != *offset || *offset+int64(len(c.Data)) > c.GetSize():
			return fmt.Errorf("%w: package %s: a chunk at offset %d (%d bytes) where %d was expected", ErrCorrupt, short(hash), c.GetOffset(), len(c.Data), *offset)
		case checksum(c.Data) != c.GetCrc32C():
			stats.Refetches++
			return fmt.Errorf("%w: download of package %s: the chunk at offset %d (%d bytes) arrived damaged", ErrChunkChecksum, short(hash), c.GetOffset(), len(c.Data))
		}
		stats.Size = c.GetSize()
		if _, err := dst.Write(c.Data); err != nil {
			return fmt.Errorf("writing package %s: %w", short(hash), err)
		}
		*offset += int64(len(c.Data))
		if progress != nil {
			progress(*offset, stats.Size)
		}
		if *offset == stats.Size {
			return nil
		}
	}
}

// Fetcher returns a FetchFunc for a Cache that downloads from the first of
// conns holding the package: list peers that hold it first and the head
// last. A source that fails part-way hands over to the next at the byte
// reached.
func Fetcher(conns ...grpc.ClientConnInterface) FetchFunc { return ReportingFetcher(nil, conns...) }

// ReportingFetcher is Fetcher that tells report, after each source, how
// many bytes it delivered (source is its index in conns).
func ReportingFetcher(report func(source int, bytes int64), conns ...grpc.ClientConnInterface) FetchFunc {
	return func(ctx context.Context, hash string, offset int64, dst io.Writer) error {
		if len(conns) == 0 {
			return fmt.Errorf("%w: no source to fetch package %s from", ErrNotFound, short(hash))
		}
		cw := &countingWriter{w: dst}
		var errs []error
		for i, conn := range conns {
			before := cw.n
			_, err := Download(ctx, conn, hash, offset+cw.n, cw, nil)
			if report != nil && cw.n > before {
				report(i, cw.n-before)
			}
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, fmt.Errorf("source %d: %w", i+1, err))
		}
		return fmt.Errorf("fetching package %s from %d sources: %w", short(hash), len(conns), errors.Join(errs...))
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// idleTimer cancels a stream that makes no progress for a while, so a
// silently dead link is cut and resumed rather than waited on forever.
type idleTimer struct {
	t     *time.Timer
	d     time.Duration
	fired atomic.Bool
}

func newIdleTimer(d time.Duration, cancel context.CancelFunc) *idleTimer {
	it := &idleTimer{d: d}
	it.t = time.AfterFunc(d, func() { it.fired.Store(true); cancel() })
	return it
}

func (it *idleTimer) reset() { it.t.Reset(it.d) }
func (it *idleTimer) stop()  { it.t.Stop() }

// explain names the idle timeout when it is why a stream call failed.
func (it *idleTimer) explain(err error) error {
	if err != nil && it.fired.Load() {
		return fmt.Errorf("%w (no progress for %v): %w", context.DeadlineExceeded, it.d, err)
	}
	return err
}
