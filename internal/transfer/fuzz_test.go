package transfer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/objstore"
	"github.com/shoal-dev/shoal/internal/peerauth"
)

// scriptedConn is a connection whose peer sent in, all at once, and then
// closed; what the server writes is kept in out.
type scriptedConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *scriptedConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *scriptedConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *scriptedConn) Close() error                { return nil }
func (c *scriptedConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *scriptedConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2}
}
func (c *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptedConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzMaxObject bounds what a fuzzed PUT may reserve.
const fuzzMaxObject = 1 << 20

// serveScript serves the requests in script, as an authenticated dialer
// sent them, on a server with a fresh store, and returns the server and
// the connection (its out holds the replies).
func serveScript(script []byte) (*Server, *scriptedConn) {
	store := objstore.New(0)
	defer store.Close()
	s := &Server{Token: token, Store: store, MaxObjectBytes: fuzzMaxObject, Logger: discardLogger()}
	c := &scriptedConn{in: bytes.NewReader(script)}
	w := bufio.NewWriter(c)
	s.serveRequests(c, bufio.NewReader(c), w)
	w.Flush()
	return s, c
}

// FuzzHandshake feeds arbitrary bytes to a data server as a dialer's
// handshake: it must refuse (never accept without the token's proof, which
// no input can hold: the server's nonce is fresh) and never panic.
func FuzzHandshake(f *testing.F) {
	job := ids.Random()
	f.Add([]byte(magic))
	// openings of the cluster's scope and of a job's, with a made-up proof
	f.Add(append([]byte(magic), make([]byte, peerauth.ScopeSize+peerauth.NonceSize+peerauth.ProofSize)...))
	f.Add(append(append([]byte(magic), job[:]...), make([]byte, peerauth.NonceSize+peerauth.ProofSize)...))
	f.Add(append([]byte(magic), job[:7]...)) // (a scope cut short)
	// the versions before: no scope, and the token in clear
	f.Add(append([]byte("SHOALDP2"), make([]byte, peerauth.NonceSize+peerauth.ProofSize)...))
	f.Add([]byte("SHOALDP1\x00\x0csecret-token"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	s := &Server{Token: token, Logger: discardLogger()}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &scriptedConn{in: bytes.NewReader(data)}
		w := bufio.NewWriter(c)
		if err := s.handshake(c, w); err == nil {
			t.Fatalf("a handshake of %q was accepted", data)
		}
		w.Flush()
	})
}

// FuzzRequests feeds arbitrary bytes to a data server as an authenticated
// dialer's requests (GET, GETR, PUT, PULL and anything else): every
// malformed request is answered or ends the connection, nothing panics,
// and no declared size is reserved past the server's limit.
func FuzzRequests(f *testing.F) {
	id := ids.NewGenerator().Next()
	put := append([]byte{opPut}, id[:]...)
	put = binary.BigEndian.AppendUint64(put, 5)
	put = append(put, "hello"...)
	get := binary.BigEndian.AppendUint64(append([]byte{opGet}, id[:]...), 0)
	get = appendHints(get, []Location{{Node: id, Addr: "127.0.0.1:1"}})
	getr := binary.BigEndian.AppendUint64(append([]byte{opGetR}, id[:]...), 1)
	getr = appendHints(binary.BigEndian.AppendUint64(getr, 3), nil)
	pull := appendHints(append([]byte{opPull}, id[:]...), []Location{{Node: id, Addr: "x"}})
	huge := binary.BigEndian.AppendUint64(append([]byte{opPut}, id[:]...), 60<<30)
	for _, seed := range [][]byte{put, get, getr, pull, huge, append(append(put, get...), getr...), {0x7f}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := serveScript(data)
		if _, received := s.Bytes(); received > int64(len(data)) {
			t.Fatalf("the server stored %d bytes from %d of input", received, len(data))
		}
	})
}

// TestScriptedRequests runs one scripted exchange: a PUT then a GET of it
// come back whole (so the fuzzers' connection works as a real one).
func TestScriptedRequests(t *testing.T) {
	id := ids.NewGenerator().Next()
	req := append([]byte{opPut}, id[:]...)
	req = binary.BigEndian.AppendUint64(req, 5)
	req = append(req, "hello"...)
	req = appendHints(binary.BigEndian.AppendUint64(append(append(req, opGet), id[:]...), 0), nil)
	_, c := serveScript(req)
	r := bufio.NewReader(&c.out)
	if err := readStatus(r); err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := readStatus(r); err != nil {
		t.Fatalf("get: %v", err)
	}
	var size [8]byte
	io.ReadFull(r, size[:])
	body, _ := io.ReadAll(r)
	if binary.BigEndian.Uint64(size[:]) != 5 || string(body) != "hello" {
		t.Fatalf("get returned %x %q", size, body)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
