package peerauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const magic = "TESTMGC1"

// exchange runs Dial and Accept on the two ends of a pipe.
func exchange(dialToken, acceptToken string) (dialErr, acceptErr error) {
	return exchangeVia(nil, dialToken, acceptToken)
}

// exchangeVia is exchange with the dialer's side of the pipe seen through
// via (nil: as it is).
func exchangeVia(via func(io.ReadWriter) io.ReadWriter, dialToken, acceptToken string) (dialErr, acceptErr error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		err := Accept(b, magic, acceptToken)
		b.Close() // (a dialer that left early is not waited for)
		done <- err
	}()
	var dialer io.ReadWriter = a
	if via != nil {
		dialer = via(a)
	}
	dialErr = Dial(dialer, magic, dialToken)
	a.Close()
	return dialErr, <-done
}

// errAny stands for any error (the other side left: EOF, a closed pipe).
var errAny = errors.New("any error")

func matches(err, want error) bool {
	if want == nil || want == errAny {
		return (err == nil) == (want == nil)
	}
	return errors.Is(err, want)
}

func TestChallengeResponse(t *testing.T) {
	const cluster = "secret-token-1234"
	jobA, jobB := ids.Random(), ids.Random()
	credA, credB := credential.ForJob(cluster, jobA), credential.ForJob(cluster, jobB)
	tests := []struct {
		name, dial, accept string
		dialErr, acceptErr error
	}{
		{"same token", cluster, cluster, nil, nil},
		{"wrong token", "guess", cluster, ErrPeerToken, errs.ErrUnauthenticated},
		{"no token", "", cluster, ErrNoToken, errAny},
		{"listener without token", cluster, "", errAny, ErrNoToken},
		// Scopes: a node (the cluster token) serves every job's
		// processes; an executor (a job's credential) its own job's.
		{"a job's process to a node", credA, cluster, nil, nil},
		{"a job's process to its job's executor", credA, credA, nil, nil},
		{"the cluster, as the job, to the job's executor", credential.ForJob(cluster, jobA), credA, nil, nil},
		{"a job's process to another job's executor", credA, credB, ErrScope, ErrScope},
		{"a node to a job's executor", cluster, credA, ErrScope, ErrScope},
		{"another cluster's job credential to a node", credential.ForJob("another cluster's token", jobA), cluster, ErrPeerToken, errs.ErrUnauthenticated},
		{"a malformed job credential", credA[:20], cluster, errs.ErrUnauthenticated, errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dialErr, acceptErr := exchange(tc.dial, tc.accept)
			if !matches(dialErr, tc.dialErr) {
				t.Errorf("dialer: %v, want %v", dialErr, tc.dialErr)
			}
			if !matches(acceptErr, tc.acceptErr) {
				t.Errorf("listener: %v, want %v", acceptErr, tc.acceptErr)
			}
			if errors.Is(tc.dialErr, ErrScope) && !errors.Is(dialErr, errs.ErrPermissionDenied) {
				t.Errorf("a refused scope is not a permission denied: %v", dialErr)
			}
		})
	}
}

// rewriter changes the scope of the opening written through it (as a
// man in the middle would).
type rewriter struct {
	io.ReadWriter
	scope ids.ID
	done  bool
}

func (r *rewriter) Write(p []byte) (int, error) {
	if !r.done {
		r.done = true
		p = bytes.Clone(p)
		copy(p[len(magic):], r.scope[:])
	}
	return r.ReadWriter.Write(p)
}

// A scope rewritten on the way (a job's credential with another job's
// scope in its opening) proves nothing: the node proves, and checks, the
// other job's key, and neither side accepts.
func TestRewrittenScopeIsRefused(t *testing.T) {
	const cluster = "secret-token-1234"
	rewrite := func(rw io.ReadWriter) io.ReadWriter { return &rewriter{ReadWriter: rw, scope: ids.Random()} }
	dialErr, acceptErr := exchangeVia(rewrite, credential.ForJob(cluster, ids.Random()), cluster)
	if !errors.Is(dialErr, ErrPeerToken) {
		t.Errorf("dialer: %v, want ErrPeerToken", dialErr)
	}
	if !errors.Is(acceptErr, errs.ErrUnauthenticated) {
		t.Errorf("listener: %v, want an authentication failure", acceptErr)
	}
}

// recorder keeps what is written through it.
type recorder struct {
	io.ReadWriter
	wrote bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote.Write(p)
	return r.ReadWriter.Write(p)
}

// A dialer's bytes, recorded from a good exchange and sent again on
// another connection, are refused: the listener's nonce differs. The token
// is in none of them.
func TestRecordedResponseIsRefused(t *testing.T) {
	const token = "secret-token-1234"
	for _, dialToken := range []string{token, credential.ForJob(token, ids.Random())} {
		a, b := net.Pipe()
		rec := &recorder{ReadWriter: a}
		done := make(chan error, 1)
		go func() { done <- Accept(b, magic, token) }()
		if err := Dial(rec, magic, dialToken); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		a.Close()
		b.Close()
		sent := rec.wrote.Bytes()
		if bytes.Contains(sent, []byte(token)) || bytes.Contains(sent, []byte(dialToken)) {
			t.Fatal("the token crossed the wire")
		}
		opening := len(magic) + ScopeSize + NonceSize
		if len(sent) != opening+ProofSize {
			t.Fatalf("the dialer sent %d bytes", len(sent))
		}

		a, b = net.Pipe()
		go func() { done <- Accept(b, magic, token) }()
		a.Write(sent[:opening]) // the same scope and nonce, too
		var challenge [1 + NonceSize + ProofSize]byte
		if _, err := io.ReadFull(a, challenge[:]); err != nil {
			t.Fatal(err)
		}
		a.Write(sent[opening:])
		if err := <-done; !errors.Is(err, ErrProof) {
			t.Fatalf("a replayed response: %v, want ErrProof", err)
		}
		a.Close()
		b.Close()
	}
}

func TestWrongMagic(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() { done <- Accept(b, magic, "secret-token-1234") }()
	go a.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	if err := <-done; !errors.Is(err, ErrNotShoal) {
		t.Fatalf("got %v", err)
	}
}

func testKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The same head key is the same CA, byte for byte; another key another.
func TestClusterCAIsDerivedFromTheHeadKey(t *testing.T) {
	k := testKey(t)
	ca1, err := NewClusterCA(k)
	if err != nil {
		t.Fatal(err)
	}
	ca2, _ := NewClusterCA(k)
	if !bytes.Equal(ca1.CertDER(), ca2.CertDER()) {
		t.Fatal("the same head key gave two CAs")
	}
	other, _ := NewClusterCA(testKey(t))
	if bytes.Equal(ca1.CertDER(), other.CertDER()) {
		t.Fatal("two head keys gave one CA")
	}
	// A certificate from before a restart verifies against the CA after.
	ctx := context.Background()
	id, err := Enroll(ctx, ca1)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca2.cert)
	leaf := id.state.Load().client.Certificates[0].Leaf
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: ServerName}); err != nil {
		t.Fatal(err)
	}
}

func TestIssueRefusesBadRequests(t *testing.T) {
	ca, err := NewClusterCA(testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	csrFor := func(key any) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	good := csrFor(testKey(t))
	tampered := bytes.Clone(good)
	tampered[len(tampered)-3] ^= 1
	tests := []struct {
		name string
		csr  []byte
		want string
	}{
		{"garbage", []byte("not a certificate request"), "does not parse"},
		{"empty", nil, "does not parse"},
		{"bad signature", tampered, "not signed by its key"},
		{"rsa", csrFor(rsaKey), "want ECDSA P-256 or Ed25519"},
		{"p384", csrFor(p384), "want P-256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ca.Issue(tc.csr); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := ca.Issue(csrFor(edKey)); err != nil {
		t.Fatalf("an Ed25519 request: %v", err)
	}
}

// tcpPair returns the two ends of a loopback TCP connection (buffered,
// unlike net.Pipe: a TLS alert written while the other end writes too must
// not wait for it).
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	return a, b
}

// tlsPair connects a dialer and a listener over TLS with the given
// configurations and returns both handshakes' errors.
func tlsPair(t *testing.T, client, server *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	a, b := tcpPair(t)
	defer a.Close()
	defer b.Close()
	deadline := time.Now().Add(10 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	done := make(chan error, 1)
	go func() {
		s := tls.Server(b, server)
		err := s.Handshake()
		if err == nil {
			// (TLS 1.3: the server learns of a refused certificate when
			// it reads)
			_, err = s.Read(make([]byte, 1))
		}
		b.Close()
		done <- err
	}()
	c := tls.Client(a, client)
	clientErr = c.Handshake()
	if clientErr == nil {
		_, clientErr = c.Write([]byte{1})
	}
	a.Close()
	return clientErr, <-done
}

func TestMutualTLS(t *testing.T) {
	ctx := context.Background()
	ca, _ := NewClusterCA(testKey(t))
	otherCA, _ := NewClusterCA(testKey(t))
	a, err := Enroll(ctx, ca)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Enroll(ctx, ca)
	stranger, _ := Enroll(ctx, otherCA)
	unenrolled, _ := NewIdentity()
	noCert := &tls.Config{RootCAs: a.state.Load().client.RootCAs, ServerName: ServerName, MinVersion: tls.VersionTLS13}

	if cerr, serr := tlsPair(t, a.ClientConfig(), b.ServerConfig()); cerr != nil || serr != nil {
		t.Fatalf("two members: client %v, server %v", cerr, serr)
	}
	if cerr, _ := tlsPair(t, a.ClientConfig(), stranger.ServerConfig()); cerr == nil {
		t.Fatal("a member trusted a server of another cluster")
	}
	if _, serr := tlsPair(t, stranger.ClientConfig(), b.ServerConfig()); serr == nil {
		t.Fatal("a server accepted a client of another cluster")
	}
	if _, serr := tlsPair(t, noCert, b.ServerConfig()); serr == nil {
		t.Fatal("a server accepted a client without a certificate")
	}
	if cerr, _ := tlsPair(t, unenrolled.ClientConfig(), b.ServerConfig()); cerr == nil || !strings.Contains(cerr.Error(), "not enrolled") {
		t.Fatalf("an identity before enrollment dialed: %v", cerr)
	}
	var none *Identity
	if none.ClientConfig() != nil || none.ServerConfig() != nil {
		t.Fatal("a nil identity is not plaintext")
	}
}

// junkIssuer answers with what it is given.
type junkIssuer struct{ reply *pb.IssueCertificateReply }

func (j junkIssuer) IssueCertificate(context.Context, *pb.IssueCertificateRequest, ...grpc.CallOption) (*pb.IssueCertificateReply, error) {
	return j.reply, nil
}

// Enroll checks what the head sent: a CA, a certificate it signed, for
// this process's key.
func TestEnrollChecksTheReply(t *testing.T) {
	ctx := context.Background()
	ca, _ := NewClusterCA(testKey(t))
	otherCA, _ := NewClusterCA(testKey(t))
	someone, _ := Enroll(ctx, ca)
	someCert := someone.state.Load().client.Certificates[0].Certificate[0]
	tests := []struct {
		name  string
		reply *pb.IssueCertificateReply
		want  string
	}{
		{"junk", &pb.IssueCertificateReply{Certificate: []byte("junk"), Ca: ca.CertDER()}, "the peer certificate the head signed"},
		{"junk CA", &pb.IssueCertificateReply{Certificate: someCert, Ca: []byte("junk")}, "cluster CA certificate"},
		{"another CA", &pb.IssueCertificateReply{Certificate: someCert, Ca: otherCA.CertDER()}, "does not verify"},
		{"another key", &pb.IssueCertificateReply{Certificate: someCert, Ca: ca.CertDER()}, "for another key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Enroll(ctx, junkIssuer{tc.reply}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
