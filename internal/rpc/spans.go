package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Executors send the spans of their runs packed (ClientMessage.
// spans_packed), up to 10,000 a second each: as messages, each cost the
// head three allocations (the span, its task ID, its function name) and
// its executor one more, which BenchmarkSubmitAndGet measured at 8% of a
// short task's CPU in the process holding the head. Each span is
//
//	task ID (16 bytes) | kind (1) | attempt (uvarint) | start (varint, Unix ns) |
//	duration (uvarint, ns) | function (uvarint length, bytes) | failed (1) | [error (uvarint length, bytes)]
//
// and ScanSpans reads a batch without allocating.

// spanIDSize is the size of a span's task ID.
const spanIDSize = 16

// AppendSpan appends one span to dst, packed.
func AppendSpan(dst []byte, taskID []byte, kind pb.RunKind, attempt int32, startNs, durationNs int64, function string, failed bool, errMsg string) []byte {
	var id [spanIDSize]byte
	copy(id[:], taskID)
	dst = append(dst, id[:]...)
	dst = append(dst, byte(kind))
	dst = binary.AppendUvarint(dst, uint64(max(attempt, 0)))
	dst = binary.AppendVarint(dst, startNs)
	dst = binary.AppendUvarint(dst, uint64(max(durationNs, 0)))
	dst = binary.AppendUvarint(dst, uint64(len(function)))
	dst = append(dst, function...)
	if !failed {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, uint64(len(errMsg)))
	return append(dst, errMsg...)
}

// maxPackedSpans bounds the spans of one packed batch (an executor sends
// at most 2,000 a batch).
const maxPackedSpans = 100_000

// PackedSpan is one span of a packed batch as ScanSpans hands it over: its
// byte fields are views of the batch, valid during the call.
type PackedSpan struct {
	TaskID          []byte
	Kind            pb.RunKind
	Attempt         int32
	Start, Duration int64
	Function        []byte
	Failed          bool
	Error           []byte
}

// ScanSpans checks a packed batch, then calls f with each of its spans
// (nothing is allocated): a malformed batch is refused whole.
func ScanSpans(b []byte, f func(*PackedSpan)) error {
	var sp PackedSpan
	for off, n := 0, 0; off < len(b); n++ {
		if n == maxPackedSpans {
			return fmt.Errorf("%w: more than %d packed spans", errMalformedSpans, maxPackedSpans)
		}
		var err error
		if off, err = parseSpan(b, off, &sp); err != nil {
			return err
		}
	}
	for off := 0; off < len(b); {
		off, _ = parseSpan(b, off, &sp) // (checked above)
		f(&sp)
	}
	return nil
}

// parseSpan reads the span at off into sp and returns where the next one
// starts.
func parseSpan(b []byte, off int, sp *PackedSpan) (int, error) {
	if len(b)-off < spanIDSize+1 {
		return 0, errMalformedSpans
	}
	sp.TaskID, sp.Kind = b[off:off+spanIDSize], pb.RunKind(b[off+spanIDSize])
	off += spanIDSize + 1
	attempt, n := binary.Uvarint(b[off:])
	if n <= 0 || attempt > 1<<31-1 {
		return 0, errMalformedSpans
	}
	off += n
	if sp.Start, n = binary.Varint(b[off:]); n <= 0 {
		return 0, errMalformedSpans
	}
	off += n
	dur, n := binary.Uvarint(b[off:])
	if n <= 0 || dur > 1<<63-1 {
		return 0, errMalformedSpans
	}
	off += n
	sp.Attempt, sp.Duration = int32(attempt), int64(dur)
	var err error
	if sp.Function, off, err = packedBytes(b, off); err != nil {
		return 0, err
	}
	if off >= len(b) || b[off] > 1 {
		return 0, errMalformedSpans
	}
	sp.Failed, sp.Error = b[off] == 1, nil
	off++
	if sp.Failed {
		if sp.Error, off, err = packedBytes(b, off); err != nil {
			return 0, err
		}
	}
	return off, nil
}

var errMalformedSpans = errors.New("malformed packed spans")

// packedBytes reads a length-prefixed run of bytes at off.
func packedBytes(b []byte, off int) ([]byte, int, error) {
	l, n := binary.Uvarint(b[off:])
	if n <= 0 || l > uint64(len(b)-off-n) {
		return nil, 0, errMalformedSpans
	}
	start := off + n
	return b[start : start+int(l)], start + int(l), nil
}
