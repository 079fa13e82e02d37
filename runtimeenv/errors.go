package runtimeenv

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/internal/bytesize"
)

// Sentinel errors; callers test for them with errors.Is.
var (
	// ErrBadSpec is wrapped by errors about a Spec or its options: a
	// missing binary, an unreadable directory, a bad pattern or variable.
	ErrBadSpec = errors.New("runtimeenv: bad runtime environment")
	// ErrTooLarge is wrapped by errors about a package over its size limit
	// (a *LimitError when it is raised by Pack).
	ErrTooLarge = errors.New("runtimeenv: package too large")
	// ErrHashMismatch is wrapped when bytes do not hash to the package's
	// address: a damaged download or upload.
	ErrHashMismatch = errors.New("runtimeenv: package hash mismatch")
	// ErrNotFound is wrapped when a server or store does not hold a package.
	ErrNotFound = errors.New("runtimeenv: package not found")
	// ErrCorrupt is wrapped when an archive is malformed or unsafe (an
	// absolute or escaping path, a file that differs from its manifest).
	ErrCorrupt = errors.New("runtimeenv: corrupt package")
	// ErrChunkChecksum is wrapped when a chunk's data does not match its
	// CRC-32C; the chunk is sent again.
	ErrChunkChecksum = errors.New("runtimeenv: chunk checksum mismatch")
	// ErrInUse is wrapped when a package cannot be removed because a job
	// holds it.
	ErrInUse = errors.New("runtimeenv: package in use")
)

// statusCodes maps the sentinels that cross the wire to gRPC codes; toStatus
// and fromStatus are the only places that convert.
var statusCodes = []struct {
	err  error
	code codes.Code
}{
	{ErrTooLarge, codes.ResourceExhausted},
	{ErrHashMismatch, codes.DataLoss},
	{ErrChunkChecksum, codes.Aborted},
	{ErrNotFound, codes.NotFound},
	{ErrBadSpec, codes.InvalidArgument},
	{ErrCorrupt, codes.InvalidArgument},
	{errGap, codes.FailedPrecondition},
}

// toStatus turns a handler's error into a gRPC status error that keeps its
// message and its sentinel's code.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, sc := range statusCodes {
		if errors.Is(err, sc.err) {
			return status.Error(sc.code, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}

// fromStatus turns a gRPC status error back into an error that wraps the
// sentinel its code and message name.
func fromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return err
	}
	msg := st.Message()
	for _, sc := range statusCodes {
		if st.Code() == sc.code && strings.HasPrefix(msg, sc.err.Error()) {
			return &remoteError{msg: msg, sentinel: sc.err, code: st.Code()}
		}
	}
	return &remoteError{msg: msg, code: st.Code()}
}

// remoteError is an error reported by the other end of a call.
type remoteError struct {
	msg      string
	sentinel error
	code     codes.Code
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// GRPCStatus keeps the code visible to callers that inspect it.
func (e *remoteError) GRPCStatus() *status.Status { return status.New(e.code, e.msg) }

// retryable reports whether a failed transfer call is worth trying again:
// the link broke or timed out, a chunk was damaged, or the server holds a
// different number of bytes than the client assumed. Local errors (reading
// a file, a cancelled context) are not.
func retryable(err error) bool {
	if errors.Is(err, ErrChunkChecksum) || errors.Is(err, errGap) {
		return true
	}
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.Unavailable, codes.Aborted, codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.FailedPrecondition, codes.Canceled:
		return true
	}
	return false
}

// LimitError is the error of a package over its size limit. Its message
// names the size, the limit, the largest files and how to exclude them or
// raise the limit.
type LimitError struct {
	Size    int64      // the package's content size (sum of its file sizes)
	Limit   int64      // the limit it exceeds
	Largest []FileSize // the largest files, largest first (at most ten)
	Files   int        // number of files in the package
}

// FileSize is a file and its size, as named in a LimitError.
type FileSize struct {
	Path string // as in the package: "bin/<binary>", "wd/<path in the working dir>"
	Size int64
}

func (e *LimitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: the package is %s (%d bytes in %d files), over the limit of %s (%d bytes)",
		ErrTooLarge, bytesize.Format(e.Size), e.Size, e.Files, bytesize.Format(e.Limit), e.Limit)
	if len(e.Largest) > 0 {
		fmt.Fprintf(&b, "; the %d largest files are:", len(e.Largest))
		for _, f := range e.Largest {
			fmt.Fprintf(&b, "\n  %10s  %s", bytesize.Format(f.Size), f.Path)
		}
		b.WriteString("\n")
	} else {
		b.WriteString("; ")
	}
	b.WriteString("exclude what the job does not need with --exclude PATTERN (gitignore syntax, relative to the working directory; Spec.Excludes in Go)" +
		", or raise the limit with --package-limit SIZE (PackOptions.Limit in Go; the head's --package-limit must allow it too)")
	return b.String()
}

func (e *LimitError) Unwrap() error { return ErrTooLarge }
