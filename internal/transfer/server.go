package transfer

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/objstore"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/wire"
)

// Server serves a node's objects.
type Server struct {
	Token string
	// TLS, when set (a cluster that uses TLS), is the node's peer identity:
	// every connection is TLS, and the dialer must present a certificate
	// of the cluster CA too.
	TLS *peerauth.Identity
	// Store is the node's store: objects are sent from its memory (pinned
	// while they are) and received straight into it (Reserve).
	Store *objstore.Store
	// Pull fetches an object the store lacks from the hinted peers and
	// stores it, returning its bytes pinned until release; nil means the
	// server only serves what it holds.
	Pull func(ctx context.Context, id ids.ID, hints []Location) (data []byte, release func(), err error)
	// Stored is called after a PUT has stored a new object.
	Stored         func(id ids.ID, size int64)
	MaxObjectBytes int64
	IdleTimeout    time.Duration
	Logger         *slog.Logger

	// sent and received count the object bytes served and stored (Bytes).
	sent, received atomic.Int64
	refusals       wire.Refusals

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.ln = ln
	s.conns = make(map[net.Conn]struct{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			return fmt.Errorf("data plane accept: %w", err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// Bytes reports the object bytes this server has sent (GETs) and received
// (PUTs) since it started.
func (s *Server) Bytes() (sent, received int64) { return s.sent.Load(), s.received.Load() }

// Close stops the listener, closes every connection and waits for handlers.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// serveConn serves the connection raw (tracked in s.conns) until it ends.
func (s *Server) serveConn(raw net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, raw)
		s.mu.Unlock()
		raw.Close()
	}()
	defer func() {
		// A handler bug must not take the node down with it.
		if r := recover(); r != nil {
			s.logger().Error("data plane handler panicked", "remote", raw.RemoteAddr(), "panic", r)
		}
	}()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	c := raw
	if cfg := s.TLS.ServerConfig(); cfg != nil {
		tc := tls.Server(raw, cfg)
		if err := tc.Handshake(); err != nil {
			s.refusals.Log(s.logger(), "refused a data plane connection", "from", raw.RemoteAddr(), "error", err)
			return
		}
		c = tc
	}
	w := bufio.NewWriterSize(c, 64<<10)
	if err := s.handshake(c, w); err != nil {
		w.Flush()
		return
	}
	s.serveRequests(c, bufio.NewReaderSize(c, 64<<10), w)
}

// serveRequests serves an authenticated connection's requests, one at a
// time, until it ends or a request is malformed.
func (s *Server) serveRequests(c net.Conn, r *bufio.Reader, w *bufio.Writer) {
	idle := s.IdleTimeout
	if idle <= 0 {
		idle = 5 * time.Minute
	}
	for {
		c.SetDeadline(time.Now().Add(idle))
		op, err := r.ReadByte()
		if err != nil {
			return
		}
		c.SetDeadline(time.Time{})
		switch op {
		case opGet:
			err = s.handleGet(c, r, w, false)
		case opGetR:
			err = s.handleGet(c, r, w, true)
		case opPut:
			err = s.handlePut(c, r, w)
		case opPull:
			err = s.handlePull(r, w)
		default:
			writeStatus(w, statusError, fmt.Sprintf("%v: unknown data plane operation 0x%02x", errs.ErrMalformed, op))
			w.Flush()
			return
		}
		if err != nil {
			return
		}
	}
}

// handshake runs the listener's side of the challenge–response on c (read
// unbuffered: the dialer sends nothing more until it has the verdict) and
// writes the verdict to w. (A node holds the cluster token: it serves every
// scope, so peerauth.ErrScope, whose verdict peerauth sends, does not
// happen here.)
func (s *Server) handshake(c net.Conn, w *bufio.Writer) error {
	err := peerauth.Accept(c, magic, s.Token)
	switch {
	case err == nil:
		writeStatus(w, statusOK, "")
		return w.Flush()
	case errors.Is(err, peerauth.ErrNotShoal):
		writeStatus(w, statusError, fmt.Sprintf("%v: not a Shoal data plane handshake (%s)", errs.ErrMalformed, magic))
	case errors.Is(err, peerauth.ErrProof):
		writeStatus(w, statusAuth, err.Error())
	}
	s.refusals.Log(s.logger(), "refused a data plane connection", "from", c.RemoteAddr(), "error", err)
	return err
}

func (s *Server) handleGet(c net.Conn, r *bufio.Reader, w *bufio.Writer, ranged bool) error {
	var hdr [16 + 8 + 8]byte
	n := 24
	if ranged {
		n = 32
	}
	if _, err := io.ReadFull(r, hdr[:n]); err != nil {
		return err
	}
	var id ids.ID
	copy(id[:], hdr[:16])
	offset := binary.BigEndian.Uint64(hdr[16:24])
	length := binary.BigEndian.Uint64(hdr[24:32])
	hints, err := s.readHints(r, w)
	if err != nil {
		return err
	}
	var data []byte
	var size int64
	var release func()
	if ranged && offset <= math.MaxInt64 && length <= math.MaxInt64 {
		// A range of a spilled object is read from disk alone.
		data, size, release, err = s.Store.AcquireRange(id, int64(offset), int64(length))
		switch {
		case err == nil:
			offset, length = 0, uint64(len(data)) // (data is the range)
		case errors.Is(err, objstore.ErrNotFound):
			err = nil
		default:
			writeStatus(w, statusError, err.Error())
			return w.Flush()
		}
	}
	if data == nil {
		if data, release, err = s.find(id, hints); err != nil {
			writeStatus(w, statusNotFound, err.Error())
			return w.Flush()
		}
		size = int64(len(data))
	}
	defer release()
	if offset > uint64(len(data)) || ranged && length > uint64(len(data))-offset {
		writeStatus(w, statusError, fmt.Sprintf("range [%d, +%d) is past the end of object %s (%d bytes)", offset, length, id.Short(), len(data)))
		return w.Flush()
	}
	end := uint64(len(data))
	if ranged {
		end = offset + length
	}
	writeStatus(w, statusOK, "")
	var sz [8]byte
	binary.BigEndian.PutUint64(sz[:], uint64(size))
	w.Write(sz[:])
	if err := w.Flush(); err != nil {
		return err
	}
	for rest := data[offset:end]; len(rest) > 0; {
		n := min(len(rest), chunkSize)
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write(rest[:n]); err != nil {
			return err
		}
		s.sent.Add(int64(n))
		rest = rest[n:]
	}
	c.SetWriteDeadline(time.Time{})
	return nil
}

// handlePull fetches an object from peers into the store without sending
// it back: a prefetch ahead of the tasks that will read it here.
func (s *Server) handlePull(r *bufio.Reader, w *bufio.Writer) error {
	var id ids.ID
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return err
	}
	hints, err := s.readHints(r, w)
	if err != nil {
		return err
	}
	data, release, err := s.find(id, hints)
	if err != nil {
		writeStatus(w, statusNotFound, err.Error())
		return w.Flush()
	}
	size := len(data)
	release()
	writeStatus(w, statusOK, "")
	var sz [8]byte
	binary.BigEndian.PutUint64(sz[:], uint64(size))
	w.Write(sz[:])
	return w.Flush()
}

// find returns a stored object, pulling it from the hinted peers if the
// store lacks it, pinned until release.
func (s *Server) find(id ids.ID, hints []Location) ([]byte, func(), error) {
	data, release, err := s.Store.Acquire(id)
	if err == nil {
		return data, release, nil
	}
	if !errors.Is(err, objstore.ErrNotFound) {
		return nil, nil, fmt.Errorf("object %s: %v", id.Short(), err)
	}
	if s.Pull == nil || len(hints) == 0 {
		return nil, nil, fmt.Errorf("object %s is not on this node", id.Short())
	}
	data, release, err = s.Pull(s.ctx, id, hints)
	if err != nil {
		return nil, nil, fmt.Errorf("object %s is not on this node and pulling it failed: %v", id.Short(), err)
	}
	return data, release, nil
}

// readHints reads a hint count and the hints.
func (s *Server) readHints(r *bufio.Reader, w *bufio.Writer) ([]Location, error) {
	var cnt [2]byte
	if _, err := io.ReadFull(r, cnt[:]); err != nil {
		return nil, err
	}
	nh := int(binary.BigEndian.Uint16(cnt[:]))
	if nh > maxHints {
		writeStatus(w, statusError, fmt.Sprintf("%v: %d location hints (limit %d)", errs.ErrMalformed, nh, maxHints))
		w.Flush()
		return nil, errs.ErrMalformed
	}
	hints := make([]Location, 0, nh)
	for range nh {
		var node ids.ID
		if _, err := io.ReadFull(r, node[:]); err != nil {
			return nil, err
		}
		addr, err := readString(r, maxAddrLen, "hint address")
		if err != nil {
			writeStatus(w, statusError, err.Error())
			w.Flush()
			return nil, err
		}
		hints = append(hints, Location{Node: node, Addr: addr})
	}
	return hints, nil
}

func (s *Server) handlePut(c net.Conn, r *bufio.Reader, w *bufio.Writer) error {
	var hdr [16 + 8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	var id ids.ID
	copy(id[:], hdr[:16])
	size := binary.BigEndian.Uint64(hdr[16:])
	limit := s.MaxObjectBytes
	if limit <= 0 {
		limit = DefaultMaxObjectBytes
	}
	if size > uint64(limit) {
		writeStatus(w, statusTooLarge, fmt.Sprintf("%v: object %s of %d bytes exceeds the data plane limit of %d bytes", errs.ErrMessageTooLarge, id.Short(), size, limit))
		w.Flush()
		return errs.ErrMessageTooLarge
	}
	res, err := s.Store.Reserve(id, int64(size))
	if err != nil {
		// The bytes still come: read them away, then say why.
		if _, derr := io.CopyN(io.Discard, r, int64(size)); derr != nil {
			return derr
		}
		writeStatus(w, statusError, err.Error())
		return w.Flush()
	}
	if res.Exists() {
		if _, err := io.CopyN(io.Discard, r, int64(size)); err != nil {
			return err
		}
		writeStatus(w, statusOK, "")
		return w.Flush()
	}
	if err := readChunks(c, r, res.Data); err != nil {
		res.Abort()
		return err
	}
	s.received.Add(int64(size))
	added, err := res.Seal()
	if err != nil {
		writeStatus(w, statusError, err.Error())
		return w.Flush()
	}
	if added && s.Stored != nil {
		s.Stored(id, int64(size))
	}
	writeStatus(w, statusOK, "")
	return w.Flush()
}

// readChunks fills data from r in chunks, each within a deadline.
func readChunks(c net.Conn, r io.Reader, data []byte) error {
	defer c.SetReadDeadline(time.Time{})
	for off := 0; off < len(data); {
		n := min(len(data)-off, chunkSize)
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(r, data[off:off+n]); err != nil {
			return err
		}
		off += n
	}
	return nil
}
