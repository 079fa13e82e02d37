package peerauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// errNotEnrolled fails a TLS handshake of a process whose certificate the
// head has not signed yet.
var errNotEnrolled = errors.New("this process has no peer certificate yet (it has not enrolled with the head)")

// Identity is a process's peer certificate and the cluster CA, for TLS on
// the connections it serves and opens. A nil *Identity means plaintext
// (the cluster does not use TLS). It is safe for concurrent use, and
// Enroll may renew it while connections use it.
type Identity struct {
	key   crypto.Signer
	state atomic.Pointer[identityState]
}

// identityState is one enrollment's configurations, built once.
type identityState struct {
	server, client *tls.Config
}

// Issuer is the head's certificate service (pb.HeadClient is one).
type Issuer interface {
	IssueCertificate(ctx context.Context, req *pb.IssueCertificateRequest, opts ...grpc.CallOption) (*pb.IssueCertificateReply, error)
}

// NewIdentity makes a key for an identity that Enroll completes.
func NewIdentity() (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("making a peer key: %w", err)
	}
	return &Identity{key: key}, nil
}

// Enroll makes a key and has the head sign a certificate for it.
func Enroll(ctx context.Context, head Issuer) (*Identity, error) {
	id, err := NewIdentity()
	if err != nil {
		return nil, err
	}
	if err := id.Enroll(ctx, head); err != nil {
		return nil, err
	}
	return id, nil
}

// Enroll has the head sign (again) a certificate for the identity's key;
// connections opened after it use the new certificate and CA.
func (id *Identity) Enroll(ctx context.Context, head Issuer) error {
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, id.key)
	if err != nil {
		return fmt.Errorf("making a certificate request: %w", err)
	}
	reply, err := head.IssueCertificate(ctx, &pb.IssueCertificateRequest{Csr: csr})
	if err != nil {
		return fmt.Errorf("having the head sign this process's peer certificate: %w", errs.FromStatus(err))
	}
	return id.install(reply.Certificate, reply.Ca)
}

// install checks a signed certificate against the CA and the identity's
// key, and makes them current.
func (id *Identity) install(certDER, caDER []byte) error {
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("the head's cluster CA certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(certDER)
	if err != nil {
		return fmt.Errorf("the peer certificate the head signed: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: ServerName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("the peer certificate the head signed does not verify: %w", err)
	}
	if !id.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
		return errors.New("the head signed a certificate for another key")
	}
	cert := tls.Certificate{Certificate: [][]byte{certDER}, PrivateKey: id.key, Leaf: leaf}
	id.state.Store(&identityState{
		server: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			ClientCAs:    roots,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		},
		client: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			RootCAs:      roots,
			ServerName:   ServerName,
		},
	})
	return nil
}

// ServerConfig is the TLS configuration of a listener (nil for a nil
// identity: plaintext). It asks dialers for their certificate (mutual
// TLS) and follows renewals.
func (id *Identity) ServerConfig() *tls.Config {
	if id == nil {
		return nil
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			st := id.state.Load()
			if st == nil {
				return nil, errNotEnrolled
			}
			return st.server, nil
		},
	}
}

// ClientConfig is the TLS configuration of a dialer (nil for a nil
// identity: plaintext), for the identity's current enrollment.
func (id *Identity) ClientConfig() *tls.Config {
	if id == nil {
		return nil
	}
	if st := id.state.Load(); st != nil {
		return st.client
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // (VerifyConnection refuses every peer)
		VerifyConnection:   func(tls.ConnectionState) error { return errNotEnrolled },
	}
}

// WarnPlaintext warns, through log, when a listener at addr that serves
// without TLS (id is nil) can be reached from beyond this machine: its
// traffic (objects, call arguments and results) crosses the network in
// clear. The token does not (see Dial), but the traffic is the data.
func WarnPlaintext(log *slog.Logger, id *Identity, addr net.Addr, what string) {
	if id != nil {
		return
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return
	}
	log.Warn(what+" listens beyond loopback without TLS: its traffic crosses the network in clear; start the head with --tls-cert and --tls-key and the nodes with --tls-ca",
		"addr", addr.String())
}
