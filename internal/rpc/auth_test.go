package rpc

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// countingListener counts the bytes its connections read.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

type jobServer struct {
	pb.UnimplementedHeadServer
	calls atomic.Int64
}

func (s *jobServer) SubmitJob(context.Context, *pb.SubmitJobRequest) (*pb.SubmittedJob, error) {
	s.calls.Add(1)
	return &pb.SubmittedJob{}, nil
}

// A call without the token is refused on its headers: the server reads
// (about) the flow-control window of its 48 MiB body, not all of it, and
// the handler never runs; with the token the whole body is read.
func TestTokenCheckedBeforeTheBody(t *testing.T) {
	opts, err := ServerOptions("s3cret", 0, TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	js := &jobServer{}
	pb.RegisterHeadServer(srv, js)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	go srv.Serve(countingListener{ln, &read})
	defer srv.Stop()
	big := &pb.SubmitJobRequest{Args: []string{string(make([]byte, 48<<20))}}
	call := func(token string) error {
		dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		if token != "" {
			dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(tokenCreds{token: token}))
		}
		conn, err := grpc.NewClient(ln.Addr().String(), dialOpts...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = pb.NewHeadClient(conn).SubmitJob(ctx, big)
		return err
	}
	for _, bad := range []string{"", "wrong"} {
		read.Store(0)
		err := call(bad)
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("token %q: got %v, want Unauthenticated", bad, err)
		}
		if n := read.Load(); n > 24<<20 {
			t.Errorf("token %q: the server read %d bytes of a refused call's 48 MiB", bad, n)
		}
	}
	if js.calls.Load() != 0 {
		t.Fatal("the handler ran for a call without the token")
	}
	read.Store(0)
	if err := call("s3cret"); err != nil {
		t.Fatal(err)
	}
	if n := read.Load(); n < 48<<20 || js.calls.Load() != 1 {
		t.Fatalf("with the token: read %d bytes, %d calls", n, js.calls.Load())
	}
}

func TestCheckTokenStrength(t *testing.T) {
	for _, tc := range []struct {
		token string
		ok    bool
	}{{"", false}, {"short", false}, {"fifteen-chars!!", false}, {"sixteen-chars!!!", true}, {NewToken(), true}} {
		err := CheckTokenStrength(tc.token, "--token")
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.token, err)
		}
		if err != nil && (!strings.Contains(err.Error(), "openssl rand -hex 32") || !strings.Contains(err.Error(), "--token")) {
			t.Errorf("%q: the error does not say how to make a token or where it came from: %v", tc.token, err)
		}
	}
}
