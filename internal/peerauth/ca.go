package peerauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// ServerName is the name every peer certificate carries and every peer
// verifies: a certificate from the cluster CA is proof of membership.
const ServerName = "shoal-peer"

// peerCertLifetime is how long a peer certificate is valid. A node
// enrolls again on every session with the head and an executor or driver
// at every start, so this only bounds a process that keeps one session
// that long.
const peerCertLifetime = 365 * 24 * time.Hour

// ClusterCA is the head's CA for peer certificates.
type ClusterCA struct {
	cert *x509.Certificate
	der  []byte
	key  ed25519.PrivateKey
}

// LoadClusterCA derives the cluster CA from the head's TLS key pair.
func LoadClusterCA(certFile, keyFile string) (*ClusterCA, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the head's TLS key pair (%s, %s): %w", certFile, keyFile, err)
	}
	return NewClusterCA(pair.PrivateKey)
}

// NewClusterCA derives the cluster CA from the head's TLS private key: the
// same key always gives the same CA (key and certificate, byte for byte:
// Ed25519 signatures are deterministic), so peers' certificates outlive a
// restart of the head, and nothing needs to be stored.
func NewClusterCA(headKey crypto.PrivateKey) (*ClusterCA, error) {
	pkcs8, err := x509.MarshalPKCS8PrivateKey(headKey)
	if err != nil {
		return nil, fmt.Errorf("deriving the cluster CA: the head's TLS key: %w", err)
	}
	seed, err := hkdf.Key(sha256.New, pkcs8, []byte("shoal cluster CA"), "shoal peer certificates v1", ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("deriving the cluster CA: %w", err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(sum[:16]),
		Subject:               pkix.Name{CommonName: "Shoal cluster CA " + hex.EncodeToString(sum[:6])},
		NotBefore:             time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2124, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          sum[:20],
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("making the cluster CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &ClusterCA{cert: cert, der: der, key: key}, nil
}

// CertDER is the CA's certificate (DER).
func (ca *ClusterCA) CertDER() []byte { return ca.der }

// Issue signs a peer certificate for the key of a certificate request
// (DER, PKCS #10). Only the key is taken from the request: the names,
// usages and lifetime are the CA's.
func (ca *ClusterCA) Issue(csrDER []byte) ([]byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("a certificate request that does not parse: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("a certificate request not signed by its key: %w", err)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("a certificate request for an ECDSA key on %s (want P-256)", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("a certificate request for a %T key (want ECDSA P-256 or Ed25519)", csr.PublicKey)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: ServerName},
		DNSNames:     []string{ServerName},
		NotBefore:    now.Add(-time.Hour), // (clocks differ a little)
		NotAfter:     now.Add(peerCertLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("signing a peer certificate: %w", err)
	}
	return der, nil
}

// IssueCertificate is Issue as the head's service answers it: a ClusterCA
// is an Issuer, so a process with the CA in hand (a test, an embedded
// cluster) enrolls without a connection.
func (ca *ClusterCA) IssueCertificate(_ context.Context, req *pb.IssueCertificateRequest, _ ...grpc.CallOption) (*pb.IssueCertificateReply, error) {
	cert, err := ca.Issue(req.Csr)
	if err != nil {
		return nil, err
	}
	return &pb.IssueCertificateReply{Certificate: cert, Ca: ca.der}, nil
}
