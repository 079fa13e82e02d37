package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/shoal-dev/shoal/internal/errs"
)

// DefaultMaxMessageBytes bounds every control-plane message. Values larger
// than the inline limit travel on the data plane, so this is generous.
const DefaultMaxMessageBytes = 64 << 20

// TLSConfig names the files for optional TLS. Empty fields mean plaintext,
// which is fine on loopback; a cluster listening beyond it should use TLS.
type TLSConfig struct {
	CertFile string // server certificate (head)
	KeyFile  string // server key (head)
	CAFile   string // CA that signed the head's certificate (clients)
}

// Enabled reports whether TLS is configured.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" || t.CAFile != "" }

// ServerOptions returns the options of a Shoal gRPC server: token auth
// (job credentials allowed as access says; nil: the cluster token only),
// message-size limits, keepalive and optional TLS.
func ServerOptions(token string, access map[string]Access, maxMsg int, tlsCfg TLSConfig) ([]grpc.ServerOption, error) {
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessageBytes
	}
	opts := append(append(recoverOptions(), AuthServerOptions(token, access)...),
		grpc.MaxRecvMsgSize(maxMsg),
		grpc.MaxSendMsgSize(maxMsg),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		// A connection that never finishes its handshake, or opens no
		// stream for 5 minutes, is closed; one connection cannot open more
		// than 1,000 streams at once (a driver needs its session and a few
		// calls).
		grpc.ConnectionTimeout(10*time.Second),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute}),
		grpc.MaxConcurrentStreams(1000),
		grpc.InitialWindowSize(4<<20),
		grpc.InitialConnWindowSize(16<<20),
	)
	if tlsCfg.CertFile != "" {
		creds, err := credentials.NewServerTLSFromFile(tlsCfg.CertFile, tlsCfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading TLS certificate %s: %w", tlsCfg.CertFile, err)
		}
		opts = append(opts, grpc.Creds(creds))
	}
	return opts, nil
}

// Dial opens a client connection to a Shoal gRPC server and waits until it is
// ready or timeout passes, so an unreachable head is reported at once with
// what to check. An address where nothing listens, or where something
// other than a Shoal server answers, fails at once with a *NoServerError.
func Dial(ctx context.Context, addr, token string, maxMsg int, tlsCfg TLSConfig, timeout time.Duration) (*grpc.ClientConn, error) {
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessageBytes
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("head address %q is not host:port: %w", addr, err)
	}
	transport := insecure.NewCredentials()
	secure := false
	if tlsCfg.CAFile != "" {
		pem, err := os.ReadFile(tlsCfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA file %s holds no PEM certificate", tlsCfg.CAFile)
		}
		transport = credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		secure = true
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(transport),
		grpc.WithPerRPCCredentials(tokenCreds{token: token, secure: secure}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)),
		grpc.WithInitialWindowSize(4<<20),
		grpc.WithInitialConnWindowSize(16<<20),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
	)
	if err != nil {
		return nil, fmt.Errorf("connecting to head %s: %w", addr, err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn.Connect()
	silent, err := probe(wctx, addr, secure)
	if err != nil {
		conn.Close()
		return nil, err
	}
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			return conn, nil
		}
		if !conn.WaitForStateChange(wctx, s) {
			conn.Close()
			cause := wctx.Err()
			switch {
			case errors.Is(cause, context.DeadlineExceeded) && silent:
				return nil, fmt.Errorf("%w: %s accepted the connection but did not answer as a Shoal server within %v (is it one? a head past its --max-connections waits to answer)", errs.ErrHeadUnreachable, addr, timeout)
			case errors.Is(cause, context.DeadlineExceeded):
				return nil, fmt.Errorf("%w: no answer from %s within %v (is `shoal head` running there, and is the address right?)", errs.ErrHeadUnreachable, addr, timeout)
			}
			return nil, fmt.Errorf("%w: connecting to %s: %v", errs.ErrHeadUnreachable, addr, cause)
		}
	}
}
