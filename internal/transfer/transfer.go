// Package transfer is Shoal's data plane: objects move between nodes, and
// between nodes and their clients, over plain TCP streams with a small framed
// protocol, never through the head.
//
// A connection starts with a challenge–response (peerauth: each side
// proves it holds the token without sending it) on the cluster token, or
// on the job's credential for a job's processes (a node derives any job's),
// in TLS with the cluster CA's certificates when the cluster uses TLS; the
// server answers with a status. Then the client sends requests one at a
// time:
//
//	GET  op=1 | object id (16) | offset (8) | hint count (2) | hints...
//	     -> status | total size (8) | bytes [offset, size)
//	GETR op=4 | object id (16) | offset (8) | length (8) | hint count (2) | hints...
//	     -> status | total size (8) | bytes [offset, offset+length)
//	                              (a range: a reducer reads its part of a
//	                               map task's shuffle output)
//	PUT  op=2 | object id (16) | size (8) | bytes
//	     -> status
//	PULL op=3 | object id (16) | hint count (2) | hints...
//	     -> status | size (8)     (the server fetches the object from the
//	                               hinted peers into its store)
//
// A hint is a node id (16) and a data address (2-byte length, then text):
// where the object may be found if the server does not hold it, so a node can
// pull it peer-to-peer for a local executor. Errors are a status byte and a
// message. Bytes stream in chunks with a deadline per chunk, and a GET broken
// mid-way resumes from the offset it reached.
package transfer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
)

const (
	magic = "SHOALDP3"

	opGet  byte = 1
	opPut  byte = 2
	opPull byte = 3
	opGetR byte = 4

	statusOK       byte = 0
	statusError    byte = 1
	statusNotFound byte = 2
	statusAuth     byte = 3
	statusTooLarge byte = 4

	chunkSize  = 4 << 20
	maxHints   = 64
	maxAddrLen = 256
	maxMsgLen  = 4096
)

// DefaultMaxObjectBytes bounds a single object on the data plane.
const DefaultMaxObjectBytes = 64 << 30

// Location is a node that holds (or may hold) an object.
type Location struct {
	Node ids.ID
	Addr string
}

// ErrNotFound is wrapped by a GET of an object the server does not hold and
// could not pull.
var ErrNotFound = errors.New("object not found")

// remoteError is an error reported by the other end.
type remoteError struct {
	status byte
	msg    string
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() error {
	switch e.status {
	case statusNotFound:
		return ErrNotFound
	case statusAuth:
		return errs.ErrUnauthenticated
	case statusTooLarge:
		return errs.ErrMessageTooLarge
	}
	return nil
}

func writeStatus(w *bufio.Writer, status byte, msg string) error {
	if err := w.WriteByte(status); err != nil {
		return err
	}
	if status != statusOK {
		if len(msg) > maxMsgLen {
			msg = msg[:maxMsgLen]
		}
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(msg)))
		w.Write(l[:])
		w.WriteString(msg)
	}
	return nil
}

func readStatus(r *bufio.Reader) error {
	st, err := r.ReadByte()
	if err != nil {
		return err
	}
	if st == statusOK {
		return nil
	}
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint16(l[:])
	if n > maxMsgLen {
		return fmt.Errorf("%w: error message of %d bytes", errs.ErrMalformed, n)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return err
	}
	return &remoteError{status: st, msg: string(msg)}
}

func readString(r *bufio.Reader, max int, what string) (string, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return "", err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n > max {
		return "", fmt.Errorf("%w: %s of %d bytes (limit %d)", errs.ErrMalformed, what, n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
