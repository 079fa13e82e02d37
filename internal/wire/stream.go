package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/shoal-dev/shoal/internal/ids"
)

// A stream connection carries one bidirectional stream of protobuf
// messages, as a gRPC stream does, on this transport's frames: an
// executor's session with a head on its machine (the head's Session
// stream). Each message crosses in one write and is read by the goroutine
// that receives it: a message through a gRPC stream crosses two more
// goroutines (the sender's to gRPC's writer, gRPC's reader to the
// receiver), and a task sent through the head crosses two streams each way.
// Measured on the 2-core development VM (shoal bench tasks, alternated):
// see docs/runtime.md, "Executors on the head's machine".
const streamMagic = "SHOALS1\n"

// statusFlag marks a frame that ends a stream with an error: the rest of
// the frame is a google.rpc.Status, as gRPC carries a handler's error, so
// that the receiver's Recv returns the same error a gRPC stream would.
// Frames are at most MaxFrame bytes, so the length's top bit is free.
const statusFlag = 1 << 31

// LocalStreamAddr is the local address (ListenLocal's kind: Linux's
// abstract Unix socket namespace) on which a head serving gRPC at addr
// serves stream connections: derived from its port, so that an executor
// finds it from the head's address alone, also after the head restarts.
// Another process may hold the name (another head on the same port in this
// network namespace, a squatter): the dialer's handshake proves that the
// listener holds the token, and a dialer falls back to gRPC when it fails.
func LocalStreamAddr(addr string) (string, bool) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", false
	}
	return "@shoal-head-" + port, true
}

// DialStream opens a stream connection to the local address local (no
// TCP: a stream connection is for processes of one machine) and
// authenticates with token, as Dial does.
func DialStream(ctx context.Context, local, token string, timeout time.Duration) (net.Conn, error) {
	return dial(ctx, streamMagic, "", local, token, nil, timeout)
}

// AcceptStream runs the handshake of a stream connection's dialer on conn
// (as Accept, without TLS: the connection is local) and returns the scope
// it proved: the job whose credential it holds, or the nil ID for the
// cluster token.
func AcceptStream(conn net.Conn, token string, timeout time.Duration) (net.Conn, ids.ID, error) {
	return accept(conn, streamMagic, token, nil, timeout)
}

// message is a protobuf message type's pointer, for a stream's type
// parameters: *pb.HeadMessage for pb.HeadMessage.
type message[T any] interface {
	*T
	proto.Message
}

// Stream is one end of a stream connection: it sends messages of type S
// and receives messages of type R. Send may be called by one goroutine at
// a time and Recv by another, as on a gRPC stream.
type Stream[S, R any, PS message[S], PR message[R]] struct {
	conn   net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	r      *Reader
	// client: the dialer's end, which closes the connection once Recv
	// has returned an error (the server's end closes it in Finish).
	client bool

	mu  sync.Mutex // Send's and Finish's writes
	buf []byte
}

// NewClientStream returns the dialer's end of the stream on conn.
func NewClientStream[S, R any, PS message[S], PR message[R]](conn net.Conn) *Stream[S, R, PS, PR] {
	s := newStream[S, R, PS, PR](context.Background(), conn)
	s.client = true
	return s
}

// NewServerStream returns the listener's end of the stream on conn, whose
// Context is ctx until Finish.
func NewServerStream[S, R any, PS message[S], PR message[R]](ctx context.Context, conn net.Conn) *Stream[S, R, PS, PR] {
	return newStream[S, R, PS, PR](ctx, conn)
}

func newStream[S, R any, PS message[S], PR message[R]](ctx context.Context, conn net.Conn) *Stream[S, R, PS, PR] {
	ctx, cancel := context.WithCancel(ctx)
	return &Stream[S, R, PS, PR]{conn: conn, ctx: ctx, cancel: cancel, r: NewReader(conn)}
}

// Send writes m. Once the stream is broken or ended it returns io.EOF, as
// a gRPC stream's Send does: Recv returns why.
func (s *Stream[S, R, PS, PR]) Send(m *S) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf, err := encodeFrame(s.buf, PS(m))
	if err != nil {
		return err
	}
	if cap(buf) <= 1<<20 {
		s.buf = buf
	}
	if _, err := s.conn.Write(buf); err != nil {
		return io.EOF
	}
	return nil
}

// Recv reads the next message. It returns io.EOF when the peer ended the
// stream without an error (CloseSend, or Finish(nil)), the peer's error
// when it ended it with one (Finish), and the connection's error when the
// connection broke.
func (s *Stream[S, R, PS, PR]) Recv() (*R, error) {
	m, err := s.recv()
	if err != nil && s.client {
		s.conn.Close()
		s.cancel()
	}
	return m, err
}

func (s *Stream[S, R, PS, PR]) recv() (*R, error) {
	var n [4]byte
	if _, err := io.ReadFull(s.r.r, n[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("the stream's connection broke: %w", err)
	}
	size := binary.BigEndian.Uint32(n[:])
	flags := size & statusFlag
	size &^= statusFlag
	if size > MaxFrame {
		return nil, fmt.Errorf("a frame of %d bytes exceeds the %d-byte limit", size, MaxFrame)
	}
	b, err := s.r.fill(int(size))
	if err != nil {
		return nil, fmt.Errorf("the stream's connection broke: %w", err)
	}
	if flags != 0 {
		st := &spb.Status{}
		if err := proto.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("decoding the stream's end: %w", err)
		}
		return nil, status.ErrorProto(st)
	}
	m := PR(new(R))
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("decoding a message: %w", err)
	}
	return (*R)(m), nil
}

// CloseSend ends the stream's sending side: the peer's Recv returns
// io.EOF.
func (s *Stream[S, R, PS, PR]) CloseSend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return s.conn.Close()
}

// Context is the stream's context: the server's until Finish.
func (s *Stream[S, R, PS, PR]) Context() context.Context { return s.ctx }

// Finish ends the server's end of the stream with err, which the peer's
// Recv returns (io.EOF for nil), and closes the connection.
func (s *Stream[S, R, PS, PR]) Finish(err error) {
	defer s.cancel()
	defer s.conn.Close()
	if err == nil || errors.Is(err, io.EOF) {
		return
	}
	frame, ferr := encodeFrame(nil, status.Convert(err).Proto())
	if ferr != nil {
		return
	}
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4)|statusFlag)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	s.conn.Write(frame)
}
