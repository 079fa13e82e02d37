package head

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	grpcstatus "google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/wire"
)

// localSession opens a session with hello on the head's local socket with
// token, as an executor on the head's machine does, and returns the head's
// answer (nil: a welcome).
func (sh *scopedHead) localSession(t *testing.T, token string, hello *pb.Hello) error {
	t.Helper()
	local, ok := wire.LocalStreamAddr(sh.addr)
	if !ok {
		t.Fatalf("no local address for %s", sh.addr)
	}
	conn, err := wire.DialStream(context.Background(), local, token, 10*time.Second)
	if err != nil {
		return err
	}
	s := wire.NewClientStream[pb.ClientMessage, pb.HeadMessage](conn)
	t.Cleanup(func() { s.CloseSend(); conn.Close() })
	return sayHello(t, s, hello)
}

// TestLocalSessionsAreScopedAsGRPCOnes: a session on the head's local
// socket speaks for the credential its dialer proved, as a gRPC caller's
// token does: a job's driver joins with its job's credential, another
// job's executor session is refused with the same error as over gRPC,
// another cluster's token gets no further than the handshake, the cluster
// token opens any job's session; closing the head ends the local sessions
// (the cleanup waits for them).
func TestLocalSessionsAreScopedAsGRPCOnes(t *testing.T) {
	sh := newScopedHead(t)
	reg := []byte("reg")
	own := &pb.Hello{Role: pb.Role_ROLE_DRIVER, JobId: sh.a.id.Bytes(), Job: &pb.JobInfo{Name: "a", Registry: reg, PackageHash: sh.a.pkg.Hash}}
	if err := sh.localSession(t, sh.a.cred, own); err != nil {
		t.Fatalf("job A's driver on the local socket: %v", err)
	}
	sh.hs.h.local.mu.Lock()
	served := len(sh.hs.h.local.conns)
	sh.hs.h.local.mu.Unlock()
	if served != 1 {
		t.Fatalf("the local socket serves %d connections, want 1", served)
	}
	other := &pb.Hello{Role: pb.Role_ROLE_EXECUTOR, JobId: sh.b.id.Bytes(), NodeId: sh.node.id.Bytes(), Registry: reg}
	err := sh.localSession(t, sh.a.cred, other)
	refused(t, err, sh, "a session of job "+sh.b.id.Abbrev())
	_, viaGRPC := grpcSession(t, sh.dial(t, sh.a.cred), other)
	if grpcstatus.Code(err) != grpcstatus.Code(viaGRPC) || grpcstatus.Convert(err).Message() != grpcstatus.Convert(viaGRPC).Message() {
		t.Fatalf("refused on the local socket with %v, over gRPC with %v", err, viaGRPC)
	}
	if err := sh.localSession(t, credential.ForJob("another cluster's token", sh.a.id), own); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("another cluster's credential on the local socket: %v, want ErrUnauthenticated", err)
	}
	b := &pb.Hello{Role: pb.Role_ROLE_DRIVER, JobId: sh.b.id.Bytes(), Job: &pb.JobInfo{Name: "b", Registry: reg, PackageHash: sh.b.pkg.Hash}}
	if err := sh.localSession(t, scopedToken, b); err != nil {
		t.Fatalf("the cluster token's session for job B: %v", err)
	}
}

// TestNoLocalSessionsPastTheFrameLimit: a head whose messages may be
// larger than the stream's frames serves no local socket (its executors
// use gRPC), and one within it does.
func TestNoLocalSessionsPastTheFrameLimit(t *testing.T) {
	for _, tc := range []struct {
		max       int
		wantLocal bool
	}{{wire.MaxFrame, true}, {2 * wire.MaxFrame, false}} {
		hs := newHarness(t, Config{Token: scopedToken, MaxMessageBytes: tc.max})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- hs.h.Serve(ln) }()
		local, _ := wire.LocalStreamAddr(ln.Addr().String())
		listening := func() bool {
			hs.h.local.mu.Lock()
			defer hs.h.local.mu.Unlock()
			return hs.h.local.ln != nil
		}
		// Serve decides before it serves gRPC: once a status call is
		// answered, the local socket is there or never will be.
		conn, err := rpc.Dial(context.Background(), ln.Addr().String(), scopedToken, 0, rpc.TLSConfig{}, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pb.NewHeadClient(conn).Status(within(t, 10*time.Second), &pb.StatusRequest{}); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		if listening() != tc.wantLocal {
			t.Fatalf("a head with %d-byte messages listens at %s: %v, want %v", tc.max, local, !tc.wantLocal, tc.wantLocal)
		}
		hs.h.Close()
		<-served
	}
}
