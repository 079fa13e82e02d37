package runtimeenv

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/rpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "runtimeenv-test-token"

// writeFile creates a file (and its directories) under root.
func writeFile(t testing.TB, root, rel string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// randomBytes returns n incompressible bytes, the same for the same seed.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	rand.NewChaCha8(key).Read(b)
	return b
}

// randomStream is the stream writeRandomFile writes for seed.
func randomStream(seed uint64) io.Reader {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	return rand.NewChaCha8(key)
}

// writeRandomFile writes n incompressible bytes to path in blocks.
func writeRandomFile(t testing.TB, path string, seed uint64, n int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, randomStream(seed), n); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// backdate moves a tree's modification times an hour into the past, so
// the pack cache does not treat its files as racy.
func backdate(t testing.TB, root string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// job is a small job tree: a binary, a working directory and the Spec.
type job struct {
	dir  string
	spec Spec
}

func newJob(t testing.TB) *job {
	t.Helper()
	dir := t.TempDir()
	bin := writeFile(t, dir, "build/app", randomBytes(1, 200<<10), 0o755)
	wd := filepath.Join(dir, "src")
	writeFile(t, wd, "config.yaml", []byte("workers: 4\n"), 0o644)
	writeFile(t, wd, "data/table.csv", []byte("a,b\n1,2\n"), 0o644)
	writeFile(t, wd, "scripts/run.sh", []byte("#!/bin/sh\necho hi\n"), 0o755)
	return &job{dir: dir, spec: Spec{Binary: bin, WorkingDir: wd, Env: []string{"B=2", "A=1"}}}
}

func pack(t testing.TB, spec Spec, opts PackOptions) *Package {
	t.Helper()
	if opts.TempDir == "" && opts.CacheDir == "" {
		opts.TempDir = t.TempDir()
	}
	if opts.Warn == nil {
		opts.Warn = func(string) {}
	}
	pkg, err := Pack(context.Background(), spec, opts)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return pkg
}

// faultListener wraps a listener; once armed, it cuts the connection that
// has read the given number of bytes (the server side of an upload).
type faultListener struct {
	net.Listener
	mu    sync.Mutex
	cutAt int64 // bytes read on one connection; 0 when disarmed
	cuts  atomic.Int32
}

type faultConn struct {
	net.Conn
	l    *faultListener
	read atomic.Int64
}

func (l *faultListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &faultConn{Conn: c, l: l}
	return fc, nil
}

// cutAfter arms the listener: the next connection to read n more bytes
// than it has so far is closed, once.
func (l *faultListener) cutAfter(n int64) {
	l.mu.Lock()
	l.cutAt = n
	l.mu.Unlock()
}

func (c *faultConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	total := c.read.Add(int64(n))
	c.l.mu.Lock()
	cut := c.l.cutAt > 0 && total >= c.l.cutAt
	if cut {
		c.l.cutAt = 0
	}
	c.l.mu.Unlock()
	if cut {
		c.l.cuts.Add(1)
		c.Conn.Close()
		return 0, net.ErrClosed
	}
	return n, err
}

// testServer is a Packages server on loopback with token auth.
type testServer struct {
	store *Store
	addr  string
	ln    *faultListener
	conn  *grpc.ClientConn
}

// startServer serves a Store (or, with peer set, src) and dials it.
// Extra server options (interceptors that inject faults) are appended.
func startServer(t testing.TB, store *Store, src Source, extra ...grpc.ServerOption) *testServer {
	t.Helper()
	opts, err := rpc.ServerOptions(testToken, nil, 0, rpc.TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(append(opts, extra...)...)
	var srv *Server
	if store != nil {
		srv = NewServer(store, discardLogger())
	} else {
		srv = NewPeerServer(src, discardLogger())
	}
	srv.Register(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &faultListener{Listener: ln}
	done := make(chan struct{})
	go func() { defer close(done); g.Serve(fl) }()
	ts := &testServer{store: store, addr: ln.Addr().String(), ln: fl}
	ts.conn = dial(t, ts.addr, testToken)
	t.Cleanup(func() {
		ts.conn.Close()
		g.Stop()
		<-done
	})
	return ts
}

func dial(t testing.TB, addr, token string) *grpc.ClientConn {
	t.Helper()
	conn, err := rpc.Dial(context.Background(), addr, token, 0, rpc.TLSConfig{}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func openStore(t testing.TB, limit int64) *Store {
	t.Helper()
	s, err := OpenStore(t.TempDir(), StoreOptions{Limit: limit, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
