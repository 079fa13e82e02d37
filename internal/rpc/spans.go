package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

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
// and UnpackSpans makes all the spans of a batch in a few allocations, the
// function names through intern.

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

// UnpackSpans decodes packed spans, in a few allocations for all of them
// (their task IDs copied into one buffer); intern makes each function
// name's string (a caller keeps one per name).
func UnpackSpans(b []byte, intern func([]byte) string) ([]*pb.TaskSpan, error) {
	n := 0 // (a first pass checks the batch and counts its spans)
	for off := 0; off < len(b); n++ {
		if n == maxPackedSpans {
			return nil, fmt.Errorf("%w: more than %d packed spans", errMalformedSpans, maxPackedSpans)
		}
		var err error
		if off, err = unpackSpan(b, off, nil, nil); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, nil
	}
	msgs := make([]pb.TaskSpan, n)
	out := make([]*pb.TaskSpan, n)
	ids := make([]byte, n*spanIDSize) // (the message's buffer may be reused: the IDs are copied)
	for i, off := 0, 0; i < n; i++ {
		m := &msgs[i]
		m.TaskId = ids[i*spanIDSize : (i+1)*spanIDSize : (i+1)*spanIDSize]
		off, _ = unpackSpan(b, off, m, intern)
		out[i] = m
	}
	return out, nil
}

// unpackSpan reads the span at off into m (nil: only checks it) and
// returns where the next one starts.
func unpackSpan(b []byte, off int, m *pb.TaskSpan, intern func([]byte) string) (int, error) {
	if len(b)-off < spanIDSize+1 {
		return 0, errMalformedSpans
	}
	id, kind := b[off:off+spanIDSize], pb.RunKind(b[off+spanIDSize])
	off += spanIDSize + 1
	attempt, n := binary.Uvarint(b[off:])
	if n <= 0 || attempt > 1<<31-1 {
		return 0, errMalformedSpans
	}
	off += n
	start, n := binary.Varint(b[off:])
	if n <= 0 {
		return 0, errMalformedSpans
	}
	off += n
	dur, n := binary.Uvarint(b[off:])
	if n <= 0 || dur > 1<<63-1 {
		return 0, errMalformedSpans
	}
	off += n
	fn, off, err := packedBytes(b, off)
	if err != nil {
		return 0, err
	}
	if off >= len(b) || b[off] > 1 {
		return 0, errMalformedSpans
	}
	failed := b[off] == 1
	off++
	var msg []byte
	if failed {
		if msg, off, err = packedBytes(b, off); err != nil {
			return 0, err
		}
	}
	if m != nil {
		copy(m.TaskId, id)
		m.Kind, m.Attempt, m.StartUnixNs, m.DurationNs = kind, int32(attempt), start, int64(dur)
		m.Function, m.Failed = intern(fn), failed
		if failed {
			m.Error = strings.ToValidUTF8(string(msg), "?")
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
