package transfer

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-dev/shoal/internal/bigbuf"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/peerauth"
)

// Client fetches and stores objects on nodes' data servers. It keeps idle
// connections per address for reuse and is safe for concurrent use.
type Client struct {
	token string
	// peers secures connections with TLS (nil: plaintext).
	peers          *peerauth.Identity
	MaxObjectBytes int64
	DialTimeout    time.Duration
	// ReadTimeout bounds each wait for a reply or a chunk (default 10s): a
	// peer that neither answers nor closes (a frozen node, a cut network)
	// fails the read instead of holding the reader.
	ReadTimeout time.Duration

	// sent and received count the object bytes put and fetched (Bytes).
	sent, received atomic.Int64

	mu     sync.Mutex
	idle   map[string][]*conn
	closed bool
}

type conn struct {
	net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// NewClient returns a client that proves it holds token and, with a
// peer identity (a cluster that uses TLS), speaks TLS with it.
func NewClient(token string, peers *peerauth.Identity) *Client {
	return &Client{token: token, peers: peers, idle: make(map[string][]*conn)}
}

// Close closes the idle connections; connections in use close when their
// request ends.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, cs := range c.idle {
		for _, cn := range cs {
			cn.Close()
		}
	}
	c.idle = nil
}

func (c *Client) get(ctx context.Context, addr string) (*conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errs.ErrClosed
	}
	if cs := c.idle[addr]; len(cs) > 0 {
		cn := cs[len(cs)-1]
		c.idle[addr] = cs[:len(cs)-1]
		c.mu.Unlock()
		return cn, nil
	}
	c.mu.Unlock()
	timeout := c.DialTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to data plane %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 20)
		tc.SetWriteBuffer(4 << 20)
	}
	nc.SetDeadline(time.Now().Add(timeout))
	// The handshake honours ctx too: a silent peer (a frozen process whose
	// kernel still accepts connections) must not hold a cancelled fetch
	// for the whole timeout.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if cfg := c.peers.ClientConfig(); cfg != nil {
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("data plane TLS handshake with %s: %w", addr, err)
		}
		nc = tc
	}
	if err := peerauth.Dial(nc, magic, c.token); err != nil {
		nc.Close()
		return nil, fmt.Errorf("data plane handshake with %s: %w", addr, err)
	}
	cn := &conn{Conn: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriterSize(nc, 64<<10)}
	if err := readStatus(cn.r); err != nil {
		nc.Close()
		return nil, fmt.Errorf("data plane handshake with %s: %w", addr, err)
	}
	if !stop() {
		nc.Close()
		return nil, fmt.Errorf("data plane handshake with %s: %w", addr, ctx.Err())
	}
	nc.SetDeadline(time.Time{})
	return cn, nil
}

func (c *Client) put(addr string, cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || len(c.idle[addr]) >= 8 {
		cn.Close()
		return
	}
	c.idle[addr] = append(c.idle[addr], cn)
}

// request runs one request on a pooled connection to addr. do reports
// whether the connection is still in a known state (the exchange completed,
// successfully or with an error reply) and may be reused. Cancelling ctx
// interrupts blocking I/O.
func (c *Client) request(ctx context.Context, addr string, do func(cn *conn) (reusable bool, err error)) error {
	cn, err := c.get(ctx, addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { cn.SetDeadline(time.Unix(1, 0)) })
	reusable, err := do(cn)
	if stop() && reusable {
		c.put(addr, cn)
	} else {
		cn.Close()
	}
	return err
}

// readDeadline bounds the next read on cn. It must not undo a cancellation:
// the context's watcher sets a deadline in the past, so ctx is checked
// after the new deadline is set.
func (c *Client) readDeadline(ctx context.Context, cn *conn) error {
	d := c.ReadTimeout
	if d <= 0 {
		d = 10 * time.Second
	}
	cn.SetReadDeadline(time.Now().Add(d))
	return ctx.Err()
}

// replied reports whether err is an error reply from the server (after
// which the connection is still usable).
func replied(err error) bool {
	var re *remoteError
	return errors.As(err, &re)
}

// Get fetches object id from the data server at addr. hints tell the server
// where to pull the object from if it lacks it. A connection broken mid-way
// is retried from the offset already received.
func (c *Client) Get(ctx context.Context, addr string, id ids.ID, hints []Location) ([]byte, error) {
	return c.GetInto(ctx, addr, id, hints, func(size uint64) ([]byte, error) { return bigbuf.Alloc(size), nil })
}

// GetInto is Get into memory that alloc returns once the object's size is
// known (a node receives into its store's memory).
func (c *Client) GetInto(ctx context.Context, addr string, id ids.ID, hints []Location, alloc func(size uint64) ([]byte, error)) ([]byte, error) {
	return c.fetch(ctx, addr, id, hints, 0, -1, alloc)
}

// GetRange fetches bytes [off, off+n) of object id from the data server at
// addr (a reducer's part of a shuffle output); hints are as for Get.
func (c *Client) GetRange(ctx context.Context, addr string, id ids.ID, off, n uint64, hints []Location) ([]byte, error) {
	return c.fetch(ctx, addr, id, hints, off, int64(n), func(uint64) ([]byte, error) { return bigbuf.Alloc(n), nil })
}

// fetch reads bytes [off, off+n) of object id (to its end when n < 0) into
// memory from alloc, called once with the number of bytes; a connection
// broken mid-way is retried from what was received.
func (c *Client) fetch(ctx context.Context, addr string, id ids.ID, hints []Location, off uint64, n int64, alloc func(uint64) ([]byte, error)) ([]byte, error) {
	var buf []byte
	var got uint64
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var err error
		buf, got, err = c.fetchOnce(ctx, addr, id, hints, off, n, buf, got, alloc)
		if err == nil {
			return buf, nil
		}
		var re *remoteError
		if errors.As(err, &re) || ctx.Err() != nil {
			return nil, err
		}
		lastErr = err
	}
	if n >= 0 {
		return nil, fmt.Errorf("fetching bytes [%d, +%d) of object %s from %s: %w", off, n, id.Short(), addr, lastErr)
	}
	return nil, fmt.Errorf("fetching object %s from %s: %w", id.Short(), addr, lastErr)
}

// fetchOnce is one attempt of fetch, which received got bytes into buf
// before.
func (c *Client) fetchOnce(ctx context.Context, addr string, id ids.ID, hints []Location, off uint64, n int64, buf []byte, got uint64, alloc func(uint64) ([]byte, error)) ([]byte, uint64, error) {
	err := c.request(ctx, addr, func(cn *conn) (bool, error) {
		req := make([]byte, 0, 1+16+16+2+len(hints)*40)
		if n >= 0 {
			req = append(req, opGetR)
			req = append(req, id[:]...)
			req = binary.BigEndian.AppendUint64(req, off+got)
			req = binary.BigEndian.AppendUint64(req, uint64(n)-got)
		} else {
			req = append(req, opGet)
			req = append(req, id[:]...)
			req = binary.BigEndian.AppendUint64(req, off+got)
		}
		cn.w.Write(appendHints(req, hints))
		if err := cn.w.Flush(); err != nil {
			return false, err
		}
		// With hints the server may first pull the object from a peer, for
		// as long as that takes (its own reads are bounded): no deadline.
		if len(hints) == 0 {
			if err := c.readDeadline(ctx, cn); err != nil {
				return false, err
			}
		}
		if err := readStatus(cn.r); err != nil {
			return replied(err), err
		}
		var sz [8]byte
		if _, err := io.ReadFull(cn.r, sz[:]); err != nil {
			return false, err
		}
		size := binary.BigEndian.Uint64(sz[:])
		limit := c.MaxObjectBytes
		if limit <= 0 {
			limit = DefaultMaxObjectBytes
		}
		if size > uint64(limit) {
			return false, &remoteError{status: statusTooLarge, msg: fmt.Sprintf("%v: object %s of %d bytes exceeds the data plane limit of %d bytes", errs.ErrMessageTooLarge, id.Short(), size, limit)}
		}
		want := size - off
		if n >= 0 {
			want = uint64(n)
		}
		if buf == nil {
			var err error
			if buf, err = alloc(want); err != nil {
				return false, &remoteError{status: statusError, msg: fmt.Sprintf("receiving %d bytes of object %s: %v", want, id.Short(), err)}
			}
		} else if uint64(len(buf)) != want {
			return false, &remoteError{status: statusError, msg: fmt.Sprintf("object %s changed size between attempts (%d bytes now)", id.Short(), size)}
		}
		for got < want {
			k := min(want-got, chunkSize)
			if err := c.readDeadline(ctx, cn); err != nil {
				return false, err
			}
			if _, err := io.ReadFull(cn.r, buf[got:got+k]); err != nil {
				return false, err
			}
			c.received.Add(int64(k))
			got += k
		}
		cn.SetReadDeadline(time.Time{})
		return true, nil
	})
	return buf, got, err
}

// Bytes reports the object bytes this client has put and fetched.
func (c *Client) Bytes() (sent, received int64) { return c.sent.Load(), c.received.Load() }

// Put stores an object on the data server at addr; its bytes are the
// concatenation of parts (so a tag and a payload need not be joined first).
func (c *Client) Put(ctx context.Context, addr string, id ids.ID, parts ...[]byte) error {
	err := c.request(ctx, addr, func(cn *conn) (bool, error) {
		var size int
		for _, p := range parts {
			size += len(p)
		}
		hdr := make([]byte, 0, 1+16+8)
		hdr = append(hdr, opPut)
		hdr = append(hdr, id[:]...)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(size))
		cn.w.Write(hdr)
		for _, p := range parts {
			for len(p) > 0 {
				n := min(len(p), chunkSize)
				if _, err := cn.w.Write(p[:n]); err != nil {
					return false, err
				}
				p = p[n:]
			}
		}
		if err := cn.w.Flush(); err != nil {
			return false, err
		}
		err := readStatus(cn.r)
		if err == nil {
			c.sent.Add(int64(size))
		}
		return err == nil || replied(err), err
	})
	if err != nil {
		return fmt.Errorf("storing object %s on %s: %w", id.Short(), addr, err)
	}
	return nil
}

func appendHints(b []byte, hints []Location) []byte {
	if len(hints) > maxHints {
		hints = hints[:maxHints]
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(hints)))
	for _, h := range hints {
		b = append(b, h.Node[:]...)
		b = appendString(b, h.Addr)
	}
	return b
}

// Pull asks the data server at addr to fetch object id from the hinted
// peers into its own store (a node-to-node transfer the caller does not
// receive) and returns the object's size.
func (c *Client) Pull(ctx context.Context, addr string, id ids.ID, hints []Location) (int64, error) {
	var size int64
	err := c.request(ctx, addr, func(cn *conn) (bool, error) {
		cn.w.Write(appendHints(append([]byte{opPull}, id[:]...), hints))
		if err := cn.w.Flush(); err != nil {
			return false, err
		}
		if err := readStatus(cn.r); err != nil {
			return replied(err), err
		}
		var sz [8]byte
		if _, err := io.ReadFull(cn.r, sz[:]); err != nil {
			return false, err
		}
		size = int64(binary.BigEndian.Uint64(sz[:]))
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("node %s pulling object %s: %w", addr, id.Short(), err)
	}
	return size, nil
}
