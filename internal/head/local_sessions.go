package head

import (
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/wire"
)

// localSessions serves the Session stream to processes on the head's
// machine over stream connections (wire.Stream) on a local socket, beside
// gRPC: executors on this machine open their sessions there (a task sent
// through the head crosses an executor's session twice, and a gRPC stream
// hands each message through two goroutines more). The socket's address
// derives from the gRPC listener's port (wire.LocalStreamAddr); where it
// cannot be had (not Linux, taken), processes use gRPC.
type localSessions struct {
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	closed bool
	// refused logs refused dialers, a line a while at most.
	refused wire.Refusals
}

// localHandshakeTimeout bounds a dialer's handshake on the local socket.
const localHandshakeTimeout = 10 * time.Second

// serveLocalSessions listens at the local address of the gRPC listener at
// addr and serves sessions there until Close.
func (h *Head) serveLocalSessions(addr string) {
	local, ok := wire.LocalStreamAddr(addr)
	if !ok || runtime.GOOS != "linux" {
		return
	}
	if h.cfg.MaxMessageBytes > wire.MaxFrame {
		// (the stream's frames are bounded: gRPC carries such messages)
		h.log.Info("executors on this machine use gRPC: messages may pass the local socket's frame limit", "max_message_bytes", h.cfg.MaxMessageBytes, "frame_limit", wire.MaxFrame)
		return
	}
	ln, err := net.Listen("unix", local)
	if err != nil {
		h.log.Info("executors on this machine use gRPC: the local socket for their sessions is taken", "address", local, "error", err)
		return
	}
	l := &h.local
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		ln.Close()
		return
	}
	l.ln, l.conns = ln, make(map[net.Conn]bool)
	l.mu.Unlock()
	lim := netutil.LimitListener(ln, h.cfg.MaxConnections)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			conn, err := lim.Accept()
			if err != nil {
				return // (closed)
			}
			if !l.add(conn) {
				conn.Close()
				return
			}
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				defer l.remove(conn)
				h.serveLocalSession(conn)
			}()
		}
	}()
}

// serveLocalSession runs one session on conn: the dialer proves the
// cluster token or a job's credential (its scope), which then speaks for
// the session as a gRPC caller's token does.
func (h *Head) serveLocalSession(conn net.Conn) {
	conn, scope, err := wire.AcceptStream(conn, h.cfg.Token, localHandshakeTimeout)
	if err != nil {
		h.local.refused.Log(h.log, "refused a session on the local socket", "error", err)
		return
	}
	p := credential.Principal{}
	if !scope.IsNil() {
		p = credential.Job(scope)
	}
	stream := wire.NewServerStream[pb.HeadMessage, pb.ClientMessage](credential.NewContext(h.ctx, p), conn)
	if err := rpc.Authorize(rpc.HeadAccess, pb.Head_Session_FullMethodName, p); err != nil {
		stream.Finish(errs.ToStatus(err))
		return
	}
	stream.Finish(h.serveSession(stream))
}

// add tracks conn, unless the listener is closed.
func (l *localSessions) add(conn net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[conn] = true
	return true
}

func (l *localSessions) remove(conn net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, conn)
	conn.Close()
}

// close stops listening and closes every connection (the sessions on them
// end as their streams break).
func (l *localSessions) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.ln != nil {
		l.ln.Close()
	}
	for c := range l.conns {
		c.Close()
	}
}
