package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/peerauth/peerauthtest"
)

// recordingListener keeps every byte that crosses its connections, both
// ways, as a capture on the wire would.
type recordingListener struct {
	net.Listener
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, l: l}, nil
}

func (l *recordingListener) record(p []byte) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
}

func (l *recordingListener) captured() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

type recordingConn struct {
	net.Conn
	l *recordingListener
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.record(p[:n])
	return n, err
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.l.record(p)
	return c.Conn.Write(p)
}

func recordedServer(t *testing.T, id *peerauth.Identity) (*testServer, *recordingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingListener{Listener: ln}
	return serveOn(t, rec, false, id), rec
}

// containsAnyWindow reports whether any of a few 32-byte windows of data
// appears in capture.
func containsAnyWindow(capture, data []byte) bool {
	for _, off := range []int{0, len(data) / 3, len(data) / 2, len(data) - 32} {
		if bytes.Contains(capture, data[off:off+32]) {
			return true
		}
	}
	return false
}

// On a TLS data plane the wire carries neither the token nor an object's
// bytes; on a plaintext one the object's bytes are there to see (so the
// capture does see what crosses), but still not the token.
func TestNothingInClearOverTLS(t *testing.T) {
	ca := peerauthtest.CA(t)
	ctx := context.Background()
	data := randomBytes(1 << 20)
	for _, tc := range []struct {
		name       string
		server     *peerauth.Identity
		client     *peerauth.Identity
		objectSeen bool
	}{
		{"tls", peerauthtest.Enroll(t, ca), peerauthtest.Enroll(t, ca), false},
		{"plaintext", nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := recordedServer(t, tc.server)
			cl := NewClient(token, tc.client)
			defer cl.Close()
			put, got := ids.NewGenerator().Next(), ids.NewGenerator().Next()
			if err := cl.Put(ctx, srv.addr, put, data); err != nil {
				t.Fatal(err)
			}
			srv.store.Put(got, data)
			back, err := cl.Get(ctx, srv.addr, got, nil)
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("get: %v", err)
			}
			capture := rec.captured()
			if len(capture) < 2*len(data) {
				t.Fatalf("the capture holds %d bytes: it missed the transfers", len(capture))
			}
			if bytes.Contains(capture, []byte(token)) {
				t.Error("the token crossed the wire")
			}
			if seen := containsAnyWindow(capture, data); seen != tc.objectSeen {
				t.Errorf("object bytes on the wire: %v, want %v", seen, tc.objectSeen)
			}
		})
	}
}

// A TLS data server refuses a plaintext dialer, a dialer with a
// certificate of another cluster and a dialer without a certificate (it is
// mutual TLS); a TLS dialer refuses a plaintext server.
func TestTLSRefusesStrangers(t *testing.T) {
	ca := peerauthtest.CA(t)
	srv, _ := recordedServer(t, peerauthtest.Enroll(t, ca))
	plain := startServer(t, false)
	ctx := context.Background()
	id := ids.NewGenerator().Next()
	srv.store.Put(id, []byte("x"))
	tests := []struct {
		name   string
		client *peerauth.Identity
		addr   string
	}{
		{"plaintext dialer", nil, srv.addr},
		{"another cluster", peerauthtest.Enroll(t, peerauthtest.CA(t)), srv.addr},
		{"not enrolled", func() *peerauth.Identity { id, _ := peerauth.NewIdentity(); return id }(), srv.addr},
		{"plaintext server", peerauthtest.Enroll(t, ca), plain.addr},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := NewClient(token, tc.client)
			cl.DialTimeout = 5 * time.Second
			defer cl.Close()
			if _, err := cl.Get(ctx, tc.addr, id, nil); err == nil {
				t.Fatal("a stranger got through")
			}
		})
	}
	cl := NewClient(token, peerauthtest.Enroll(t, ca))
	defer cl.Close()
	if got, err := cl.Get(ctx, srv.addr, id, nil); err != nil || string(got) != "x" {
		t.Fatalf("a member: %q %v", got, err)
	}
}

// rawHandshake opens a connection to addr and sends the opening (magic, a
// scope and a client nonce); it returns the connection and the server's
// challenge (its scope verdict, nonce and proof).
func rawHandshake(t *testing.T, addr string, opening []byte) (net.Conn, []byte) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write(opening)
	challenge := make([]byte, 1+peerauth.NonceSize+peerauth.ProofSize)
	if _, err := io.ReadFull(nc, challenge); err != nil {
		t.Fatal(err)
	}
	return nc, challenge
}

// The server refuses a wrong response to its challenge, and a response
// recorded from an accepted handshake sent again on a new connection,
// saying why.
func TestChallengeRefusesWrongAndReplayedResponses(t *testing.T) {
	srv, rec := recordedServer(t, nil)
	cl := NewClient(token, nil)
	defer cl.Close()
	if err := cl.Put(context.Background(), srv.addr, ids.Random(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	// The dialer's side of the capture: magic | scope | nonce, the
	// server's challenge, then its response.
	capture := rec.captured()
	open := len(magic) + peerauth.ScopeSize + peerauth.NonceSize
	opening := capture[:open]
	challenged := open + 1 + peerauth.NonceSize + peerauth.ProofSize
	response := capture[challenged : challenged+peerauth.ProofSize]
	for _, tc := range []struct {
		name     string
		response []byte
	}{
		{"wrong", bytes.Repeat([]byte{7}, peerauth.ProofSize)},
		{"replayed", response},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, _ := rawHandshake(t, srv.addr, opening)
			defer nc.Close()
			nc.Write(tc.response)
			reply, _ := io.ReadAll(nc)
			if len(reply) == 0 || reply[0] != statusAuth || !strings.Contains(string(reply), "token or a job's credential) is wrong") {
				t.Fatalf("reply %q", reply)
			}
		})
	}
}

// A node's data plane (the cluster token) serves the other nodes and every
// job's processes, each proving its own job's credential; a credential of
// another cluster is refused.
func TestJobCredentialsOpenTheDataPlane(t *testing.T) {
	srv := startServer(t, false)
	id := ids.Random()
	if _, err := srv.store.Put(id, []byte("shared")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"a node", token, true},
		{"job A's process", credential.ForJob(token, ids.Random()), true},
		{"job B's process", credential.ForJob(token, ids.Random()), true},
		{"another cluster's job", credential.ForJob("another-token", ids.Random()), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := NewClient(tc.token, nil)
			defer cl.Close()
			got, err := cl.Get(context.Background(), srv.addr, id, nil)
			if tc.ok && (err != nil || string(got) != "shared") {
				t.Fatalf("got %q, %v", got, err)
			}
			if !tc.ok && !errors.Is(err, peerauth.ErrPeerToken) {
				t.Fatalf("got %q, %v; want the dialer to find the node's proof wrong", got, err)
			}
		})
	}
}

// A dialer with another token never sends a response: it finds the
// server's proof wrong first.
func TestWrongTokenDetectedByTheDialer(t *testing.T) {
	srv := startServer(t, false)
	cl := NewClient("another-token-entirely", nil)
	defer cl.Close()
	_, err := cl.Get(context.Background(), srv.addr, ids.Random(), nil)
	if !errors.Is(err, peerauth.ErrPeerToken) || !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("got %v", err)
	}
}

// BenchmarkTransferTLS1GiB is BenchmarkTransfer1GiB over TLS (what a
// cluster that uses TLS pays on the data plane).
func BenchmarkTransferTLS1GiB(b *testing.B) {
	ca := peerauthtest.CA(b)
	benchmarkGet1GiB(b, peerauthtest.Enroll(b, ca), peerauthtest.Enroll(b, ca))
}

// BenchmarkConnect measures opening a data plane connection (dial and
// handshake), plaintext and TLS: what a client pays once per pooled
// connection.
func BenchmarkConnect(b *testing.B) {
	ca := peerauthtest.CA(b)
	for _, bc := range []struct {
		name           string
		server, client *peerauth.Identity
	}{{"plaintext", nil, nil}, {"tls", peerauthtest.Enroll(b, ca), peerauthtest.Enroll(b, ca)}} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := serveOn(b, ln, false, bc.server)
			cl := NewClient(token, bc.client)
			defer cl.Close()
			for b.Loop() {
				cn, err := cl.get(context.Background(), srv.addr)
				if err != nil {
					b.Fatal(err)
				}
				cn.Close()
			}
		})
	}
}
