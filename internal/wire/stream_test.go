package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

type (
	clientEnd = Stream[pb.ClientMessage, pb.HeadMessage, *pb.ClientMessage, *pb.HeadMessage]
	serverEnd = Stream[pb.HeadMessage, pb.ClientMessage, *pb.HeadMessage, *pb.ClientMessage]
)

// streamPair listens on a fresh local address, has handle serve the one
// stream connection a dialer with dialToken opens (the listener holds
// serverToken), and returns the dialer's end; the returned channel gets the
// scope the dialer proved, or the listener's error.
func streamPair(t *testing.T, serverToken, dialToken string, handle func(*serverEnd)) (*clientEnd, <-chan any, error) {
	t.Helper()
	lis, err := ListenLocal()
	if err != nil {
		t.Skipf("no local sockets here: %v", err)
	}
	got := make(chan any, 1)
	go func() {
		defer lis.Close()
		conn, err := lis.Accept()
		if err != nil {
			got <- err
			return
		}
		conn, scope, err := AcceptStream(conn, serverToken, 5*time.Second)
		if err != nil {
			got <- err
			return
		}
		got <- scope
		handle(NewServerStream[pb.HeadMessage, pb.ClientMessage](context.Background(), conn))
	}()
	conn, err := DialStream(context.Background(), lis.Addr().String(), dialToken, 5*time.Second)
	if err != nil {
		return nil, got, err
	}
	return NewClientStream[pb.ClientMessage, pb.HeadMessage](conn), got, nil
}

// TestStreamCarriesMessagesBothWays: what one end sends the other receives,
// whole and in order, each a message of its own; CloseSend ends the
// server's Recv with io.EOF and Finish(nil) the client's.
func TestStreamCarriesMessagesBothWays(t *testing.T) {
	const n = 200
	done := make(chan error, 1)
	c, scopes, err := streamPair(t, "secret", "secret", func(s *serverEnd) {
		var err error
		for i := 0; err == nil; i++ {
			var m *pb.ClientMessage
			if m, err = s.Recv(); err != nil {
				break
			}
			if m.Hello.GetPid() != int32(i) {
				err = fmt.Errorf("message %d carried pid %d", i, m.Hello.GetPid())
				break
			}
			// A large reply too: frames past the reader's buffer.
			err = s.Send(&pb.HeadMessage{Warnings: []string{strings.Repeat("w", i*1000)}})
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		s.Finish(nil)
		done <- err
	})
	if err != nil {
		t.Fatal(err)
	}
	if scope := <-scopes; scope != (ids.ID{}) {
		t.Fatalf("the cluster token proved scope %v", scope)
	}
	for i := range n {
		if err := c.Send(&pb.ClientMessage{Hello: &pb.Hello{Pid: int32(i)}}); err != nil {
			t.Fatal(err)
		}
		m, err := c.Recv()
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if len(m.Warnings) != 1 || len(m.Warnings[0]) != i*1000 {
			t.Fatalf("reply %d: %d warnings", i, len(m.Warnings))
		}
	}
	if err := c.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := c.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after the server finished: %v, want io.EOF", err)
	}
	if err := c.Send(&pb.ClientMessage{}); !errors.Is(err, io.EOF) {
		t.Fatalf("Send after the stream ended: %v, want io.EOF", err)
	}
}

// TestStreamCarriesTheServersError: a server that ends the stream with an
// error has the client's Recv return it as gRPC would (its code and
// message), so that errs.FromStatus gives back the same sentinel.
func TestStreamCarriesTheServersError(t *testing.T) {
	sent := fmt.Errorf("%w: executor's node n1 is not a live member of the cluster", errs.ErrDeclaredDead)
	c, _, err := streamPair(t, "secret", "secret", func(s *serverEnd) {
		s.Recv()
		s.Finish(errs.ToStatus(sent))
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Send(&pb.ClientMessage{})
	_, err = c.Recv()
	if err == nil {
		t.Fatal("Recv returned no error")
	}
	want := errs.ToStatus(sent)
	if status.Code(err) != status.Code(want) || status.Convert(err).Message() != status.Convert(want).Message() {
		t.Fatalf("Recv: %v, want %v", err, want)
	}
	if got := errs.FromStatus(err); !errors.Is(got, errs.ErrDeclaredDead) {
		t.Fatalf("FromStatus(%v) = %v: not ErrDeclaredDead", err, got)
	}
}

// TestStreamScopes: a job's credential proves its job as the stream's
// scope; a wrong token is refused before a message crosses.
func TestStreamScopes(t *testing.T) {
	job := ids.Random()
	c, scopes, err := streamPair(t, "secret", credential.ForJob("secret", job), func(s *serverEnd) { s.Finish(nil) })
	if err != nil {
		t.Fatal(err)
	}
	if scope := <-scopes; scope != job {
		t.Fatalf("scope %v, want the job %v", scope, job)
	}
	if _, err := c.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv: %v", err)
	}
	_, scopes, err = streamPair(t, "secret", "guess", func(s *serverEnd) { t.Error("a wrong token was served") })
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a wrong token: %v, want ErrUnauthenticated", err)
	}
	if got := <-scopes; got == nil {
		t.Fatal("the listener accepted a wrong token")
	}
}

// TestStreamMagicIsItsOwn: a direct-call dialer (another transport) is
// refused by a stream listener, and a stream dialer by a direct-call
// listener: the proofs name the transport.
func TestStreamMagicIsItsOwn(t *testing.T) {
	lis, err := ListenLocal()
	if err != nil {
		t.Skipf("no local sockets here: %v", err)
	}
	defer lis.Close()
	errc := make(chan error, 1)
	go func() {
		conn, err := lis.Accept()
		if err != nil {
			errc <- err
			return
		}
		_, _, err = AcceptStream(conn, "secret", 5*time.Second)
		errc <- err
	}()
	if conn, err := Dial(context.Background(), "", lis.Addr().String(), "secret", nil, 5*time.Second); err == nil {
		conn.Close()
		t.Fatal("a direct-call dialer opened a stream connection")
	}
	if err := <-errc; err == nil {
		t.Fatal("the stream listener accepted a direct-call dialer")
	}
	addr, errc2 := serve(t, "secret", func(net.Conn) {})
	if conn, err := dial(context.Background(), streamMagic, addr, "", "secret", nil, 5*time.Second); err == nil {
		conn.Close()
		t.Fatal("a stream dialer passed a direct-call listener")
	}
	if err := <-errc2; err == nil {
		t.Fatal("the direct-call listener accepted a stream dialer")
	}
}

// TestStreamRefusesOversizedAndBrokenFrames: a frame declared past
// MaxFrame, a status frame that does not decode and a connection cut
// mid-frame each end Recv with an error that says so, and none is taken
// for a clean end (io.EOF).
func TestStreamRefusesOversizedAndBrokenFrames(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
		want  string
	}{
		{"oversized", binary.BigEndian.AppendUint32(nil, MaxFrame+1), "exceeds"},
		{"cut mid-frame", append(binary.BigEndian.AppendUint32(nil, 10), 1, 2, 3), "broke"},
		{"cut mid-length", []byte{0, 0}, "broke"},
		{"bad status", append(binary.BigEndian.AppendUint32(nil, 3|statusFlag), 0xff, 0xff, 0xff), "decoding the stream's end"},
		{"bad message", append(binary.BigEndian.AppendUint32(nil, 3), 0xff, 0xff, 0xff), "decoding a message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			go func() {
				b.Write(tc.bytes)
				b.Close()
			}()
			s := NewClientStream[pb.ClientMessage, pb.HeadMessage](a)
			_, err := s.Recv()
			if err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Recv: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestLocalStreamAddr: the address comes from the port alone, and an
// address without a port has none.
func TestLocalStreamAddr(t *testing.T) {
	for _, tc := range []struct {
		addr, want string
		ok         bool
	}{
		{"127.0.0.1:7000", "@shoal-head-7000", true},
		{"[::]:7000", "@shoal-head-7000", true},
		{"head.example:443", "@shoal-head-443", true},
		{"127.0.0.1", "", false},
		{"127.0.0.1:http", "", false},
		{"127.0.0.1:70000", "", false},
	} {
		got, ok := LocalStreamAddr(tc.addr)
		if got != tc.want || ok != tc.ok {
			t.Errorf("LocalStreamAddr(%q) = %q, %v; want %q, %v", tc.addr, got, ok, tc.want, tc.ok)
		}
	}
}

// A status frame is a google.rpc.Status: an error without one (a plain
// error a server finishes with) still reaches the client with its text.
func TestStreamPlainErrorKeepsItsText(t *testing.T) {
	c, _, err := streamPair(t, "secret", "secret", func(s *serverEnd) { s.Finish(errors.New("the head is shutting down")) })
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Recv()
	if status.Code(err) != codes.Unknown || !strings.Contains(err.Error(), "the head is shutting down") {
		t.Fatalf("Recv: %v", err)
	}
}
