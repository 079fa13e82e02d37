// Package localstore lets the processes on a node's machine (its executors)
// read the node's objects in place, with no copy: the node serves its
// store's shared memory (internal/arena) over a Unix socket, passing the
// memory's file once, and a reader asks where an object lies in it. The
// object stays pinned there, neither spilled out nor freed nor reused,
// until the reader lets go; a reader that goes away (its connection
// closes: it exited or crashed) lets go of everything it held.
//
// Protocol, after the token handshake of internal/wire: the server sends
// the memory's file with its size (arena.SendFile), then answers requests,
// one at a time:
//
//	ACQUIRE    op=1 | object id (16)  ->  status (1) | offset (8) | length (8)
//	RELEASE    op=2 | object id (16)      (no answer)
//	PUT        op=3 | object id (16) | parts (8) | parts × (address (8) | length (8))
//	                                  ->  status (1) | 16 zero bytes
//	RELEASE AT op=4 | object id (16) | offset (8)   (no answer)
//
// Status 0: the object is in the shared memory at offset; 1: it is not
// (not on this node, or its memory copy is on the Go heap): the reader
// fetches it over the data plane instead.
//
// RELEASE AT lets go of the pin of the copy at offset. Two acquires of one
// object can pin two copies (it was evicted, then restored elsewhere, in
// between): a release that let go of whichever pin came last could unpin
// the copy the other reader still reads, which the store may then reuse
// under it (a shuffle's reducer read an index entry and a segment of the
// same map output so, and stored zeros). RELEASE lets go of the last pin
// of the object (clients of before RELEASE AT).
//
// PUT stores an object that lies in the writer's own memory, in parts: the
// node copies the bytes straight from the writer's address space into its
// store (process_vm_readv; the writer is the node's child, whose pid the
// socket's credentials name), one copy where the data plane takes three
// and two trips through the kernel's socket buffers. The writer's parts
// must stay as they are until the answer. Status 0: stored (or there
// already); 1: not done (the memory could not be read, or the store said
// no): the writer sends it over the data plane instead, which says why
// when it fails too.
package localstore

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/shoal-dev/shoal/internal/arena"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/objstore"
	"github.com/shoal-dev/shoal/internal/wire"
)

const (
	opAcquire   byte = 1
	opRelease   byte = 2
	opPut       byte = 3
	opReleaseAt byte = 4

	// maxPutParts bounds the parts of one PUT (a shuffle's map output with
	// many reducers has a few per reducer).
	maxPutParts = 4096

	statusInMemory byte = 0
	statusNotHere  byte = 1

	handshakeTimeout = 10 * time.Second
)

// Server serves a store's shared memory to the processes of its machine.
type Server struct {
	Store  *objstore.Store
	Token  string
	Logger *slog.Logger

	ln       net.Listener
	refusals wire.Refusals
	mu       sync.Mutex
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

// Listen starts serving on a Unix socket of Linux's abstract namespace and
// returns its address (to give to executors); it fails where the store
// has no shared memory or the OS has no such sockets.
func (s *Server) Listen() (string, error) {
	if s.Store.Arena() == nil {
		return "", errors.New("the object store's memory is not shared")
	}
	ln, err := wire.ListenLocal()
	if err != nil {
		return "", err
	}
	s.ln, s.conns = ln, map[net.Conn]bool{}
	s.wg.Add(1)
	go s.accept()
	return ln.Addr().String(), nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.conns == nil {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops serving; the pins of every reader are let go.
func (s *Server) Close() {
	if s.ln == nil {
		return
	}
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// serve answers one reader until its connection ends, then lets go of
// what it still held.
func (s *Server) serve(c net.Conn) {
	defer c.Close()
	defer func() {
		// A handler bug must not take the node down with it.
		if r := recover(); r != nil {
			s.logger().Error("local store handler panicked", "panic", r)
		}
	}()
	// (a Unix socket of this machine: no TLS)
	if _, err := wire.Accept(c, s.Token, nil, handshakeTimeout); err != nil {
		s.refusals.Log(s.logger(), "refused a local store connection", "error", err)
		return
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return
	}
	peer := peerPID(uc)
	a := s.Store.Arena()
	var size [8]byte
	binary.BigEndian.PutUint64(size[:], uint64(a.Size()))
	if err := arena.SendFile(uc, a.File(), size[:]); err != nil {
		return
	}
	pins := map[ids.ID][]heldPin{}
	defer func() {
		for _, ps := range pins {
			for _, p := range ps {
				p.release()
			}
		}
	}()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	var req [17]byte
	for {
		if _, err := io.ReadFull(r, req[:]); err != nil {
			return
		}
		id := ids.ID(req[1:])
		switch req[0] {
		case opAcquire:
			reply := [17]byte{statusNotHere}
			if data, release, off, ok := s.acquire(id); ok {
				pins[id] = append(pins[id], heldPin{off: off, release: release})
				reply[0] = statusInMemory
				binary.BigEndian.PutUint64(reply[1:9], uint64(off))
				binary.BigEndian.PutUint64(reply[9:], uint64(len(data)))
			}
			w.Write(reply[:])
			if r.Buffered() == 0 {
				if err := w.Flush(); err != nil {
					return
				}
			}
		case opPut:
			reply := [17]byte{statusNotHere}
			stored, err := s.put(r, peer, id)
			if err != nil {
				return // (a malformed request)
			}
			if stored {
				reply[0] = statusInMemory
			}
			w.Write(reply[:])
			if err := w.Flush(); err != nil {
				return
			}
		case opRelease:
			unpin(pins, id, -1)
		case opReleaseAt:
			var off [8]byte
			if _, err := io.ReadFull(r, off[:]); err != nil {
				return
			}
			unpin(pins, id, int64(binary.BigEndian.Uint64(off[:])))
		default:
			return
		}
	}
}

// heldPin is a reader's pin of an object's copy at off in the shared
// memory.
type heldPin struct {
	off     int64
	release func()
}

// unpin ends the last of a reader's pins of id at off (off < 0: the last
// of any).
func unpin(pins map[ids.ID][]heldPin, id ids.ID, off int64) {
	ps := pins[id]
	for i := len(ps) - 1; i >= 0; i-- {
		if off >= 0 && ps[i].off != off {
			continue
		}
		ps[i].release()
		ps = append(ps[:i], ps[i+1:]...)
		if len(ps) == 0 {
			delete(pins, id)
		} else {
			pins[id] = ps
		}
		return
	}
}

// acquire pins id in the store and reports where it lies in the shared
// memory; ok is false when it is not there.
func (s *Server) acquire(id ids.ID) (data []byte, release func(), off int64, ok bool) {
	data, release, ok, err := s.Store.AcquireShared(id)
	if err != nil || !ok {
		return nil, nil, 0, false
	}
	off, ok = s.Store.Arena().Offset(data)
	if !ok {
		release()
		return nil, nil, 0, false
	}
	return data, release, off, true
}

// put reads a PUT's parts and copies them from process pid into the store
// as object id. It reports whether the object is stored; err is for a
// malformed request only.
func (s *Server) put(r io.Reader, pid int, id ids.ID) (bool, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return false, err
	}
	k := binary.BigEndian.Uint64(hdr[:])
	if k == 0 || k > maxPutParts {
		return false, fmt.Errorf("a put of %d parts (1 to %d)", k, maxPutParts)
	}
	parts := make([]remotePart, k)
	var size int64
	for i := range parts {
		var p [16]byte
		if _, err := io.ReadFull(r, p[:]); err != nil {
			return false, err
		}
		parts[i] = remotePart{addr: uintptr(binary.BigEndian.Uint64(p[:8])), n: int64(binary.BigEndian.Uint64(p[8:]))}
		if parts[i].n < 0 || size+parts[i].n < size {
			return false, fmt.Errorf("a put part of %d bytes", parts[i].n)
		}
		size += parts[i].n
	}
	if pid <= 0 {
		return false, nil
	}
	res, err := s.Store.Reserve(id, size)
	if err != nil {
		return false, nil // (the data plane's put says why)
	}
	if res.Exists() {
		return true, nil
	}
	if err := readProcess(pid, parts, res.Data); err != nil {
		res.Abort()
		s.logger().Debug("reading a put from the writer's memory", "object", id.Short(), "pid", pid, "error", err)
		return false, nil
	}
	if _, err := res.Seal(); err != nil {
		return false, nil
	}
	return true, nil
}

// Client reads a node's objects in place.
type Client struct {
	conn *net.UnixConn
	view *arena.View
	mu   sync.Mutex // one request at a time
	r    *bufio.Reader
	w    *bufio.Writer
	err  error // the connection failed: every Acquire says not here
}

// Dial connects to a node's local store at addr and maps its memory.
func Dial(ctx context.Context, addr, token string) (*Client, error) {
	c, err := wire.Dial(ctx, "", addr, token, nil, handshakeTimeout)
	if err != nil {
		return nil, fmt.Errorf("connecting to the node's local store: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("the node's local store is not on a Unix socket")
	}
	f, hdr, err := arena.RecvFile(uc)
	if err != nil {
		uc.Close()
		return nil, fmt.Errorf("receiving the node's shared memory: %w", err)
	}
	defer f.Close()
	if len(hdr) != 8 {
		uc.Close()
		return nil, fmt.Errorf("the node's shared memory came with a %d-byte header, want 8", len(hdr))
	}
	view, err := arena.Map(f, int64(binary.BigEndian.Uint64(hdr)))
	if err != nil {
		uc.Close()
		return nil, fmt.Errorf("mapping the node's shared memory: %w", err)
	}
	return &Client{conn: uc, view: view, r: bufio.NewReader(uc), w: bufio.NewWriter(uc)}, nil
}

// Acquire returns id's bytes in the node's memory, read-only and valid
// until release (called once); ok is false when the object is not there.
func (c *Client) Acquire(id ids.ID) (data []byte, release func(), ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, nil, false, c.err
	}
	var req [17]byte
	req[0] = opAcquire
	copy(req[1:], id[:])
	var reply [17]byte
	if _, c.err = c.w.Write(req[:]); c.err == nil {
		if c.err = c.w.Flush(); c.err == nil {
			_, c.err = io.ReadFull(c.r, reply[:])
		}
	}
	if c.err != nil {
		c.err = fmt.Errorf("the node's local store connection broke: %w", c.err)
		return nil, nil, false, c.err
	}
	if reply[0] != statusInMemory {
		return nil, nil, false, nil
	}
	off, n := int64(binary.BigEndian.Uint64(reply[1:9])), int64(binary.BigEndian.Uint64(reply[9:]))
	data, err = c.view.Bytes(off, n)
	if err != nil {
		c.release(id, off)
		return nil, nil, false, err
	}
	var once sync.Once
	return data, func() { once.Do(func() { c.release(id, off) }) }, true, nil
}

// PutThreshold is the smallest object worth a PUT: below it the data
// plane's copy costs less than the request.
const PutThreshold = 256 << 10

// Put stores an object made of parts (in this process's heap or mapped
// memory, unchanged until Put returns) in the node's store, the node
// copying it from this process; ok is false when the node did not (the
// caller sends it over the data plane).
func (c *Client) Put(id ids.ID, parts [][]byte) (ok bool, err error) {
	var nonEmpty [][]byte
	for _, p := range parts {
		if len(p) > 0 {
			nonEmpty = append(nonEmpty, p)
		}
	}
	if len(nonEmpty) == 0 || len(nonEmpty) > maxPutParts {
		return false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return false, c.err
	}
	req := make([]byte, 0, 1+16+8+16*len(nonEmpty))
	req = append(req, opPut)
	req = append(req, id[:]...)
	req = binary.BigEndian.AppendUint64(req, uint64(len(nonEmpty)))
	for _, p := range nonEmpty {
		req = binary.BigEndian.AppendUint64(req, uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))))
		req = binary.BigEndian.AppendUint64(req, uint64(len(p)))
	}
	var reply [17]byte
	if _, c.err = c.w.Write(req); c.err == nil {
		if c.err = c.w.Flush(); c.err == nil {
			_, c.err = io.ReadFull(c.r, reply[:])
		}
	}
	runtime.KeepAlive(nonEmpty) // (the node reads them until it answers)
	if c.err != nil {
		c.err = fmt.Errorf("the node's local store connection broke: %w", c.err)
		return false, c.err
	}
	return reply[0] == statusInMemory, nil
}

// release tells the node this reader let go of its pin of id's copy at
// off.
func (c *Client) release(id ids.ID, off int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return // the connection is gone, and with it every pin
	}
	var req [25]byte
	req[0] = opReleaseAt
	copy(req[1:], id[:])
	binary.BigEndian.PutUint64(req[17:], uint64(off))
	if _, c.err = c.w.Write(req[:]); c.err == nil {
		c.err = c.w.Flush()
	}
}

// Close ends the connection (the node lets go of its pins) and unmaps the
// memory: no view it returned may be used after.
func (c *Client) Close() error {
	c.mu.Lock()
	c.err = errors.New("closed")
	c.mu.Unlock()
	err := c.conn.Close()
	return errors.Join(err, c.view.Close())
}
