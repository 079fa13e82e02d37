package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/shoal-dev/shoal/internal/errs"
)

// A NoServerError says that addr has no Shoal server: nothing listens there
// (it wraps syscall.ECONNREFUSED), or what answers is something else (it
// wraps errs.ErrNotShoal, and Reason says what it looked like). Dial
// returns it at once, rather than waiting out its timeout for a server that
// cannot come; it matches errs.ErrHeadUnreachable too.
type NoServerError struct {
	Addr   string
	Reason string
	Err    error
}

func (e *NoServerError) Error() string {
	if e.Refused() {
		return fmt.Sprintf("nothing listens at %s (connection refused)", e.Addr)
	}
	return fmt.Sprintf("%s is not a Shoal server: %s", e.Addr, e.Reason)
}

func (e *NoServerError) Unwrap() []error { return []error{errs.ErrHeadUnreachable, e.Err} }

// Refused reports whether nothing listens at the address.
func (e *NoServerError) Refused() bool { return errors.Is(e.Err, syscall.ECONNREFUSED) }

// probeTimeout bounds how long probe waits for the server's first bytes.
// A Shoal server (gRPC's HTTP/2 server) writes its SETTINGS frame as soon
// as it accepts a connection, so this only runs out on a peer that accepts
// and stays silent: something that is not a Shoal server, or a head past
// its --max-connections (whose new connections wait to be accepted).
const probeTimeout = 3 * time.Second

// http2Preface is what an HTTP/2 client sends first: the connection preface
// and an empty SETTINGS frame.
var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")

// probe connects to addr and, for a plaintext server, reads the first frame
// it sends. It returns a *NoServerError when the answer is definite
// (refused; a peer that answers, but not as an HTTP/2 server; one silent
// for all of probeTimeout); nil when the server looks like one, or when the
// probe cannot tell (ctx ended first, a network error the gRPC connection
// will report in its own terms). silent reports a peer that accepted the
// connection and sent nothing before ctx ended.
func probe(ctx context.Context, addr string, secure bool) (silent bool, err error) {
	window := probeTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < window {
		window = 0 // the caller's deadline comes first: silence proves nothing
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return false, &NoServerError{Addr: addr, Err: syscall.ECONNREFUSED}
		}
		return false, nil
	}
	defer c.Close()
	if secure {
		return false, nil // the TLS handshake is gRPC's to report
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := c.Write(http2Preface); err != nil {
		return false, nil
	}
	head := make([]byte, 9) // an HTTP/2 frame header
	n, err := io.ReadFull(c, head)
	got := head[:n]
	var ne net.Error
	switch {
	case n == 9 && head[3] == 0x4: // a SETTINGS frame: an HTTP/2 server
		return false, nil
	case n == 0 && errors.As(err, &ne) && ne.Timeout() && window > 0:
		return true, &NoServerError{Addr: addr, Err: errs.ErrNotShoal,
			Reason: fmt.Sprintf("it accepted the connection but sent nothing in %v (a Shoal head answers at once, unless it is past its --max-connections)", window)}
	case n == 0 && errors.As(err, &ne) && ne.Timeout():
		return true, nil
	case n == 0 && err != nil:
		return false, &NoServerError{Addr: addr, Err: errs.ErrNotShoal, Reason: "it closed the connection without answering (if it is a head with TLS, pass --tls-ca)"}
	case bytes.HasPrefix(got, []byte("HTTP/")):
		return false, &NoServerError{Addr: addr, Err: errs.ErrNotShoal, Reason: "it answered as an HTTP/1 server (a web server?)"}
	case got[0] == 0x15 || got[0] == 0x16: // a TLS alert or handshake record
		return false, &NoServerError{Addr: addr, Err: errs.ErrNotShoal, Reason: "it speaks TLS: pass the CA of its certificate (--tls-ca)"}
	}
	what := ""
	if got[0] == '<' {
		what = " (a web server?)"
	}
	return false, &NoServerError{Addr: addr, Err: errs.ErrNotShoal, Reason: fmt.Sprintf("it answered %q, not as an HTTP/2 (gRPC) server%s", got, what)}
}
