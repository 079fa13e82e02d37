package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/objstore"
	"github.com/shoal-dev/shoal/internal/peerauth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "secret-token"

type testServer struct {
	*Server
	store *objstore.Store
	addr  string
}

func startServer(t testing.TB, pull bool) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, pull, nil)
}

// serveOn serves a fresh store on ln, in TLS with id when it is not nil.
func serveOn(t testing.TB, ln net.Listener, pull bool, id *peerauth.Identity) *testServer {
	t.Helper()
	ts := &testServer{store: objstore.New(0), addr: ln.Addr().String()}
	ts.Server = &Server{Token: token, TLS: id, Store: ts.store}
	if pull {
		cl := NewClient(token, id)
		t.Cleanup(cl.Close)
		ts.Pull = func(ctx context.Context, id ids.ID, hints []Location) ([]byte, func(), error) {
			data, err := cl.Get(ctx, hints[0].Addr, id, nil)
			if err != nil {
				return nil, nil, err
			}
			ts.store.Put(id, data)
			return data, func() {}, nil
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); ts.Serve(ln) }()
	t.Cleanup(func() { ts.Close(); <-done })
	return ts
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestPutGetSizes(t *testing.T) {
	srv := startServer(t, false)
	cl := NewClient(token, nil)
	defer cl.Close()
	g := ids.NewGenerator()
	ctx := context.Background()
	for _, n := range []int{0, 1, 1000, chunkSize - 1, chunkSize + 1, 3*chunkSize + 17} {
		id := g.Next()
		data := randomBytes(n)
		if err := cl.Put(ctx, srv.addr, id, data[:n/2], data[n/2:]); err != nil {
			t.Fatalf("put %d: %v", n, err)
		}
		got, err := cl.Get(ctx, srv.addr, id, nil)
		if err != nil {
			t.Fatalf("get %d: %v", n, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("size %d: bytes differ", n)
		}
	}
}

func TestPullFromPeer(t *testing.T) {
	a, b := startServer(t, false), startServer(t, true)
	cl := NewClient(token, nil)
	defer cl.Close()
	id := ids.NewGenerator().Next()
	data := randomBytes(10 << 20)
	ctx := context.Background()
	if err := cl.Put(ctx, a.addr, id, data); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Get(ctx, b.addr, id, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get without hints: want ErrNotFound, got %v", err)
	}
	got, err := cl.Get(ctx, b.addr, id, []Location{{Node: ids.Random(), Addr: a.addr}})
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("pull: %v", err)
	}
	if !b.store.Has(id) {
		t.Fatal("pulled object was not kept on the puller")
	}
	// PULL moves an object node to node without sending it to the caller.
	c := startServer(t, true)
	size, err := cl.Pull(ctx, c.addr, id, []Location{{Node: ids.Random(), Addr: a.addr}})
	if err != nil || size != int64(len(data)) {
		t.Fatalf("pull: %d %v", size, err)
	}
	if got, ok := c.store.Get(id); !ok || !bytes.Equal(got, data) {
		t.Fatal("PULL did not store the object")
	}
}

func TestBadPeers(t *testing.T) {
	srv := startServer(t, false)
	ctx := context.Background()
	t.Run("wrong token", func(t *testing.T) {
		cl := NewClient("wrong", nil)
		defer cl.Close()
		_, err := cl.Get(ctx, srv.addr, ids.Random(), nil)
		if !errors.Is(err, errs.ErrUnauthenticated) || !strings.Contains(err.Error(), "holds a different cluster token") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no token", func(t *testing.T) {
		cl := NewClient("", nil)
		defer cl.Close()
		_, err := cl.Get(ctx, srv.addr, ids.Random(), nil)
		if !errors.Is(err, errs.ErrUnauthenticated) || !strings.Contains(err.Error(), "no cluster token configured") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("malformed op", func(t *testing.T) {
		cl := NewClient(token, nil)
		defer cl.Close()
		cn, err := cl.get(ctx, srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer cn.Close()
		cn.w.Write([]byte{0x7f, 1, 2, 3})
		cn.w.Flush()
		err = readStatus(cn.r)
		if err == nil || !strings.Contains(err.Error(), "unknown data plane operation 0x7f") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("garbage handshake", func(t *testing.T) {
		nc, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		reply, _ := io.ReadAll(nc)
		if !strings.Contains(string(reply), "not a Shoal data plane handshake") {
			t.Fatalf("reply %q", reply)
		}
	})
	t.Run("too large", func(t *testing.T) {
		srv.MaxObjectBytes = 100
		defer func() { srv.MaxObjectBytes = 0 }()
		cl := NewClient(token, nil)
		defer cl.Close()
		err := cl.Put(ctx, srv.addr, ids.Random(), make([]byte, 101))
		if !errors.Is(err, errs.ErrMessageTooLarge) {
			t.Fatalf("got %v", err)
		}
	})
}

// cutProxy forwards a connection to target but closes it after cutAfter
// bytes from the server, once.
type cutProxy struct {
	ln       net.Listener
	target   string
	cutAfter int64
	cuts     atomic.Int32
	wg       sync.WaitGroup
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			defer s.Close()
			go func() { io.Copy(s, c); s.Close() }()
			if p.cuts.Add(1) == 1 {
				io.CopyN(c, s, p.cutAfter)
				return
			}
			io.Copy(c, s)
		}()
	}
}

func TestGetResumesAfterBrokenConnection(t *testing.T) {
	srv := startServer(t, false)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	p := &cutProxy{ln: ln, target: srv.addr, cutAfter: 5 << 20}
	go p.serve()
	defer func() { ln.Close(); p.wg.Wait() }()
	id := ids.NewGenerator().Next()
	data := randomBytes(12 << 20)
	srv.store.Put(id, data)
	cl := NewClient(token, nil)
	defer cl.Close()
	got, err := cl.Get(context.Background(), ln.Addr().String(), id, nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("resumed get: %v", err)
	}
	if p.cuts.Load() < 2 {
		t.Fatal("the connection was never cut")
	}
}

func TestGetCancelled(t *testing.T) {
	srv := startServer(t, false)
	id := ids.NewGenerator().Next()
	srv.store.Put(id, make([]byte, 256<<20))
	cl := NewClient(token, nil)
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cl.Get(ctx, srv.addr, id, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

// BenchmarkTransfer1GiB measures a 1 GiB GET between two servers' worth of
// sockets on loopback (in one process; the multi-process figure comes from
// `shoal bench transfer`).
func BenchmarkTransfer1GiB(b *testing.B) { benchmarkGet1GiB(b, nil, nil) }

// benchmarkGet1GiB GETs 1 GiB from a server with the identity server, as a
// client with the identity client (nil, nil: plaintext).
func benchmarkGet1GiB(b *testing.B, server, client *peerauth.Identity) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := serveOn(b, ln, false, server)
	id := ids.NewGenerator().Next()
	srv.store.Put(id, make([]byte, 1<<30))
	cl := NewClient(token, client)
	defer cl.Close()
	b.SetBytes(1 << 30)
	for b.Loop() {
		if _, err := cl.Get(context.Background(), srv.addr, id, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// A range of an object is read without the rest, resumes after a broken
// connection as Get does, and a range past the end is refused with why.
func TestGetRange(t *testing.T) {
	srv := startServer(t, false)
	cl := NewClient(token, nil)
	defer cl.Close()
	ctx := context.Background()
	id := ids.NewGenerator().Next()
	data := randomBytes(3*chunkSize + 17)
	if err := cl.Put(ctx, srv.addr, id, data); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ off, n int }{{0, 0}, {0, 1}, {5, 100}, {chunkSize - 3, chunkSize + 7}, {0, len(data)}, {len(data), 0}, {len(data) - 1, 1}} {
		got, err := cl.GetRange(ctx, srv.addr, id, uint64(r.off), uint64(r.n), nil)
		if err != nil {
			t.Fatalf("range [%d, +%d): %v", r.off, r.n, err)
		}
		if !bytes.Equal(got, data[r.off:r.off+r.n]) {
			t.Fatalf("range [%d, +%d) came back different", r.off, r.n)
		}
	}
	if _, err := cl.GetRange(ctx, srv.addr, id, uint64(len(data)-1), 2, nil); err == nil || !strings.Contains(err.Error(), "past the end") {
		t.Fatalf("a range past the end: %v", err)
	}
	if _, err := cl.GetRange(ctx, srv.addr, ids.NewGenerator().Next(), 0, 1, nil); err == nil {
		t.Fatal("a range of a missing object succeeded")
	}
}
