package runtimeenv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/runtimeenv/pb"
)

// bigJob is a job whose package is a few MiB of incompressible data.
func bigJob(t testing.TB, mib int) *job {
	j := newJob(t)
	writeRandomFile(t, filepath.Join(j.spec.WorkingDir, "data", "blob.bin"), 11, int64(mib)<<20)
	return j
}

func storedBytes(t *testing.T, s *Store, hash string) []byte {
	t.Helper()
	f, n, err := s.OpenPackage(hash)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func checkStored(t *testing.T, s *Store, pkg *Package) {
	t.Helper()
	want, _ := os.ReadFile(pkg.Path)
	if !bytes.Equal(storedBytes(t, s, pkg.Hash), want) {
		t.Fatal("the store holds other bytes than the package")
	}
}

// TestUploadUnchangedSendsNothing: a second submission of unchanged content
// (packed again from scratch) uploads nothing.
func TestUploadUnchangedSendsNothing(t *testing.T) {
	srv := startServer(t, openStore(t, 0), nil)
	j := bigJob(t, 5)
	pkg := pack(t, j.spec, PackOptions{})
	var last int64
	st, err := Upload(context.Background(), srv.conn, pkg, func(sent, total int64) { last = sent })
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped || st.BytesSent != pkg.Size || st.Streams != 1 || last != pkg.Size {
		t.Fatalf("first upload %+v (progress %d of %d)", st, last, pkg.Size)
	}
	checkStored(t, srv.store, pkg)

	again := pack(t, j.spec, PackOptions{})
	if again.Hash != pkg.Hash {
		t.Fatal("unchanged content packed to another hash")
	}
	st, err = Upload(context.Background(), srv.conn, again, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Skipped || st.BytesSent != 0 || st.Streams != 0 {
		t.Fatalf("second upload %+v, want nothing sent", st)
	}
}

// TestUploadResumesAfterCut: the connection is cut mid-upload; the client
// reconnects and resumes at the byte the head holds.
func TestUploadResumesAfterCut(t *testing.T) {
	srv := startServer(t, openStore(t, 0), nil)
	pkg := pack(t, bigJob(t, 24).spec, PackOptions{})
	srv.ln.cutAfter(10 << 20)
	st, err := Upload(context.Background(), srv.conn, pkg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if srv.ln.cuts.Load() != 1 || st.Streams < 2 {
		t.Fatalf("cut %d times, %d streams", srv.ln.cuts.Load(), st.Streams)
	}
	// What was lost in flight is sent again, not the whole package.
	if st.BytesSent < pkg.Size || st.BytesSent > pkg.Size+16<<20 {
		t.Fatalf("sent %d bytes for a %d-byte package", st.BytesSent, pkg.Size)
	}
	checkStored(t, srv.store, pkg)
}

// TestUploadResumesAcrossCalls: a submission interrupted (the client gave
// up) is resumed by the next one from the byte the head holds.
func TestUploadResumesAcrossCalls(t *testing.T) {
	srv := startServer(t, openStore(t, 0), nil)
	pkg := pack(t, bigJob(t, 12).spec, PackOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Upload(ctx, srv.conn, pkg, func(sent, total int64) {
		// Interrupt once the head holds part of it (what the client has
		// sent may still be in flight on a loaded machine).
		if held, _, _, err := srv.store.Stat(pkg.Hash); sent >= 6<<20 && (err != nil || held > 0) {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	held := heldBytes(t, srv.store, pkg.Hash)
	st, err := Upload(context.Background(), srv.conn, pkg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.ResumedFrom < held || st.ResumedFrom == 0 || st.BytesSent != pkg.Size-st.ResumedFrom {
		t.Fatalf("resumed %+v; the head held %d of %d", st, held, pkg.Size)
	}
	checkStored(t, srv.store, pkg)
}

// heldBytes returns the bytes the store holds (at least the chunks the
// flow-control window made the server read before the cancellation).
func heldBytes(t *testing.T, s *Store, hash string) int64 {
	t.Helper()
	held, _, _, err := s.Stat(hash)
	if err != nil {
		t.Fatal(err)
	}
	return held
}

// corruptOnce damages the data of the nth message a server stream sends
// or receives, once.
type corruptOnce struct {
	n       int64 // damage the nth chunk
	onSend  bool  // chunks the server sends (else receives)
	method  string
	count   atomic.Int64
	done    atomic.Bool
	damaged atomic.Int32
}

func (c *corruptOnce) damage(m any) {
	ch, ok := m.(*pb.Chunk)
	if !ok || len(ch.Data) == 0 {
		return
	}
	if c.count.Add(1) == c.n && c.done.CompareAndSwap(false, true) {
		ch.Data[len(ch.Data)/2] ^= 0x01
		c.damaged.Add(1)
	}
}

type corruptingStream struct {
	grpc.ServerStream
	c *corruptOnce
}

func (s *corruptingStream) SendMsg(m any) error {
	if s.c.onSend {
		s.c.damage(m)
	}
	return s.ServerStream.SendMsg(m)
}

func (s *corruptingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && !s.c.onSend {
		s.c.damage(m)
	}
	return err
}

func (c *corruptOnce) interceptor() grpc.ServerOption {
	return grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if !strings.HasSuffix(info.FullMethod, "/"+c.method) {
			return h(srv, ss)
		}
		return h(srv, &corruptingStream{ServerStream: ss, c: c})
	})
}

// TestUploadDamagedChunkIsResent: a chunk damaged on its way to the head
// is refused by its checksum and sent again.
func TestUploadDamagedChunkIsResent(t *testing.T) {
	co := &corruptOnce{n: 3, method: "Upload"}
	srv := startServer(t, openStore(t, 0), nil, co.interceptor())
	pkg := pack(t, bigJob(t, 6).spec, PackOptions{})
	st, err := Upload(context.Background(), srv.conn, pkg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if co.damaged.Load() != 1 || st.Streams != 2 {
		t.Fatalf("damaged %d chunks, %d streams", co.damaged.Load(), st.Streams)
	}
	checkStored(t, srv.store, pkg)
}

// TestDownloadRefetchesDamagedChunk: a chunk damaged on its way to a node
// is detected by its checksum and fetched again, not a failure.
func TestDownloadRefetchesDamagedChunk(t *testing.T) {
	co := &corruptOnce{n: 4, method: "Download", onSend: true}
	srv := startServer(t, openStore(t, 0), nil, co.interceptor())
	pkg := pack(t, bigJob(t, 8).spec, PackOptions{})
	if _, err := Upload(context.Background(), srv.conn, pkg, nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := Download(context.Background(), srv.conn, pkg.Hash, 0, &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(pkg.Path)
	if co.damaged.Load() != 1 || st.Refetches != 1 || st.Streams != 2 || !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("damaged %d, stats %+v, bytes equal %v", co.damaged.Load(), st, bytes.Equal(buf.Bytes(), want))
	}
	// Through a node's cache: the package arrives and unpacks.
	co.count.Store(0)
	co.done.Store(false)
	cache := &Cache{Dir: t.TempDir(), Logger: discardLogger()}
	dir, err := cache.Acquire(context.Background(), pkg.Hash, "job-1", Fetcher(srv.conn))
	if err != nil {
		t.Fatal(err)
	}
	if co.damaged.Load() != 2 {
		t.Fatal("the second download was not damaged")
	}
	if _, err := ReadLayout(dir); err != nil {
		t.Fatal(err)
	}
	cache.Release(pkg.Hash, "job-1")
}

func TestDownloadFromOffsetAndMissing(t *testing.T) {
	srv := startServer(t, openStore(t, 0), nil)
	pkg := pack(t, bigJob(t, 3).spec, PackOptions{})
	if _, err := Download(context.Background(), srv.conn, pkg.Hash, 0, &bytes.Buffer{}, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing package: %v", err)
	}
	if _, err := Upload(context.Background(), srv.conn, pkg, nil); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(pkg.Path)
	var buf bytes.Buffer
	if _, err := Download(context.Background(), srv.conn, pkg.Hash, 1<<20+7, &buf, nil); err != nil || !bytes.Equal(buf.Bytes(), want[1<<20+7:]) {
		t.Fatalf("from an offset: %v", err)
	}
}

func TestServerRequiresToken(t *testing.T) {
	srv := startServer(t, openStore(t, 0), nil)
	bad := dial(t, srv.addr, "wrong-token")
	defer bad.Close()
	pkg := pack(t, newJob(t).spec, PackOptions{})
	_, err := Upload(context.Background(), bad, pkg, nil)
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("upload with a wrong token: %v", err)
	}
	if held, _, _, _ := srv.store.Stat(pkg.Hash); held != 0 {
		t.Fatal("bytes stored without the token")
	}
}

// TestUploadOverHeadLimit: the head's own limit refuses a package the
// client allowed, with the same advice.
func TestUploadOverHeadLimit(t *testing.T) {
	srv := startServer(t, openStore(t, 1<<20), nil)
	pkg := pack(t, bigJob(t, 2).spec, PackOptions{})
	st, err := Upload(context.Background(), srv.conn, pkg, nil)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "--package-limit") || !strings.Contains(err.Error(), "limit of 1.0 MiB") || st.BytesSent != 0 {
		t.Fatalf("got %v after %d bytes", err, st.BytesSent)
	}
	// A client that does not look at the limit is refused by the server.
	stream, err := pb.NewPackagesClient(srv.conn).Upload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&pb.Chunk{Hash: pkg.Hash, Size: pkg.Size, ContentSize: pkg.ContentSize(), Data: []byte{1}, Crc32C: checksum([]byte{1})})
	_, err = stream.CloseAndRecv()
	if err = fromStatus(err); status.Code(err) != codes.ResourceExhausted || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("server-side limit: %v", err)
	}
}

// TestPeerServer: a node serves the packages in its cache to another node;
// it takes no uploads.
func TestPeerServer(t *testing.T) {
	head := startServer(t, openStore(t, 0), nil)
	pkg := pack(t, bigJob(t, 2).spec, PackOptions{})
	if _, err := Upload(context.Background(), head.conn, pkg, nil); err != nil {
		t.Fatal(err)
	}
	nodeA := &Cache{Dir: t.TempDir(), Logger: discardLogger()}
	if _, err := nodeA.Acquire(context.Background(), pkg.Hash, "j", Fetcher(head.conn)); err != nil {
		t.Fatal(err)
	}
	peer := startServer(t, nil, nodeA)
	other := pack(t, newJob(t).spec, PackOptions{})
	if _, err := Upload(context.Background(), peer.conn, other, nil); status.Code(err) != codes.Unimplemented {
		t.Fatalf("upload to a peer: %v", err)
	}
	// Node B fetches from the peer first; the head is never asked.
	headCalls := &atomic.Int32{}
	countingHead := countCalls(head.conn, headCalls)
	nodeB := &Cache{Dir: t.TempDir(), Logger: discardLogger()}
	dir, err := nodeB.Acquire(context.Background(), pkg.Hash, "j", Fetcher(peer.conn, countingHead))
	if err != nil {
		t.Fatal(err)
	}
	if headCalls.Load() != 0 {
		t.Fatal("the head was asked although a peer held the package")
	}
	if _, err := ReadLayout(dir); err != nil {
		t.Fatal(err)
	}
	// A peer that lacks the package hands over to the next source.
	nodeC := &Cache{Dir: t.TempDir(), Logger: discardLogger()}
	emptyPeer := startServer(t, nil, &Cache{Dir: t.TempDir()})
	if _, err := nodeC.Acquire(context.Background(), pkg.Hash, "j", Fetcher(emptyPeer.conn, head.conn)); err != nil {
		t.Fatal(err)
	}
}

// callCounter counts the calls made on a connection.
type callCounter struct {
	grpc.ClientConnInterface
	n *atomic.Int32
}

func countCalls(c grpc.ClientConnInterface, n *atomic.Int32) grpc.ClientConnInterface {
	return callCounter{c, n}
}

func (c callCounter) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	c.n.Add(1)
	return c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
}

func (c callCounter) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c.n.Add(1)
	return c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
}
