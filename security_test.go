package shoal_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

func TestTokenIsRequired(t *testing.T) {
	c := sharedCluster(t)
	t.Run("driver with a wrong token", func(t *testing.T) {
		_, err := shoal.Init(context.Background(), shoal.WithAddress(c.HeadAddr), shoal.WithToken("not-the-token"))
		if !errors.Is(err, shoal.ErrUnauthenticated) || !strings.Contains(err.Error(), "token presented is wrong") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("driver with no token", func(t *testing.T) {
		t.Setenv(rpc.TokenEnv, "")
		missing := filepath.Join(t.TempDir(), "no-token-here")
		_, err := shoal.Init(context.Background(), shoal.WithAddress(c.HeadAddr), shoal.WithTokenFile(missing))
		if !errors.Is(err, shoal.ErrUnauthenticated) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--token") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("caller presenting no token at all", func(t *testing.T) {
		conn, err := grpc.NewClient(c.HeadAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = client.GRPCHead{Conn: conn}.Status(context.Background())
		if !errors.Is(err, errs.ErrUnauthenticated) || !strings.Contains(err.Error(), "no cluster token presented") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("node with a wrong token", func(t *testing.T) {
		bin, _ := clustertest.BuildShoal()
		ctx := within(t, context.Background(), 30*time.Second)
		out, err := execOutput(ctx, bin, "node", "--head", c.HeadAddr, "--token", "wrong", "--cpus", "1")
		if err == nil || !strings.Contains(out, "token presented is wrong") {
			t.Fatalf("node with a wrong token: %v\n%s", err, out)
		}
		st, err := c.Status(ctx)
		if err != nil || clustertest.AliveNodes(st) != 3 {
			t.Fatalf("cluster changed: %v %v", st, err)
		}
	})
	t.Run("token file is private", func(t *testing.T) {
		fi, err := os.Stat(c.TokenFile)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
		}
	})
}

// rawSession opens a session stream with the right token but speaks the
// protocol by hand, as a buggy or hostile client would.
func rawSession(t *testing.T, addr, token string) grpc.BidiStreamingClient[pb.ClientMessage, pb.HeadMessage] {
	t.Helper()
	conn, err := rpc.Dial(context.Background(), addr, token, 0, rpc.TLSConfig{}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s, err := pb.NewHeadClient(conn).Session(within(t, context.Background(), 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func driverHello() *pb.ClientMessage {
	return &pb.ClientMessage{Hello: &pb.Hello{Role: pb.Role_ROLE_DRIVER, JobId: ids.Random().Bytes(), Job: &pb.JobInfo{Name: "raw"}}}
}

// recvError reads until the stream fails and returns the failure.
func recvError(s grpc.BidiStreamingClient[pb.ClientMessage, pb.HeadMessage]) error {
	for {
		if _, err := s.Recv(); err != nil {
			return errs.FromStatus(err)
		}
	}
}

func TestMalformedAndOversizedMessages(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "1")
	ctx := within(t, context.Background(), time.Minute)
	t.Run("task id of the wrong length", func(t *testing.T) {
		s := rawSession(t, c.HeadAddr, c.Token)
		s.Send(driverHello())
		s.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: []byte{1, 2, 3}, Function: "f"}}})
		err := recvError(s)
		if !errors.Is(err, errs.ErrMalformed) || !strings.Contains(err.Error(), "task id must be 16 bytes, got 3") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no hello", func(t *testing.T) {
		s := rawSession(t, c.HeadAddr, c.Token)
		s.Send(&pb.ClientMessage{Release: [][]byte{{1}}})
		if err := recvError(s); !errors.Is(err, errs.ErrMalformed) || !strings.Contains(err.Error(), "hello") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("garbage bytes on the head's port", func(t *testing.T) {
		nc, err := net.Dial("tcp", c.HeadAddr)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff garbage"))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, nc)
		nc.Close()
		if _, err := c.Status(ctx); err != nil {
			t.Fatalf("head unusable after garbage: %v", err)
		}
	})
	t.Run("message over the size limit", func(t *testing.T) {
		limited, err := clustertest.Start(ctx, clustertest.Options{Binary: mustBinary(t), Nodes: 1, NodeArgs: []string{"--cpus", "1"},
			HeadArgs: []string{"--max-message-bytes", "1048576"}})
		if err != nil {
			t.Fatal(err)
		}
		defer limited.Stop()
		s := rawSession(t, limited.HeadAddr, limited.Token)
		s.Send(driverHello())
		s.Send(&pb.ClientMessage{Put: []*pb.PutObject{{Id: ids.Random().Bytes(), Value: make([]byte, 2<<20)}}})
		err = recvError(s)
		if !errors.Is(err, errs.ErrMessageTooLarge) || !strings.Contains(err.Error(), "larger than max") {
			t.Fatalf("got %v", err)
		}
		if _, err := limited.Status(ctx); err != nil {
			t.Fatalf("head unusable after an oversized message: %v", err)
		}
	})
}

func mustBinary(t *testing.T) string {
	bin, err := clustertest.BuildShoal()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
