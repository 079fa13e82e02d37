package peerauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
)

// The exchange, after which the listener writes its transport's verdict:
//
//	dialer   -> magic | scope (16) | client nonce (32)
//	listener -> scope verdict (1) | server nonce (32) | server proof (32)
//	dialer   -> client proof (32)     (only if the server proof checked out)
//
// The scope is the job whose credential the dialer holds, or zeros for
// the cluster token; both proofs are keyed by that token. A listener that
// holds the cluster token derives any job's credential (a node's data
// plane and local store serve every job's processes and the other nodes);
// one that holds a job's credential serves that job only (an executor's
// direct calls): for any other scope it sends the verdict scopeRefused
// alone and closes, and the dialer knows why.
//
// The dialer checks the listener first, so a dialer with a wrong token
// learns it from its own check ("the peer holds a different token") and a
// listener that does not know the token learns nothing from the dialer.
const (
	NonceSize = 32
	ProofSize = sha256.Size
	// ScopeSize is the length of the scope in the dialer's opening.
	ScopeSize = ids.Size
)

const (
	scopeServed  byte = 0
	scopeRefused byte = 1
)

var (
	// ErrNotShoal is returned by Accept when the peer did not open with the
	// transport's magic (another protocol, or another version of Shoal).
	ErrNotShoal = errors.New("not a Shoal handshake")
	// ErrPeerToken is returned by Dial when the listener could not prove it
	// holds this process's token.
	ErrPeerToken = fmt.Errorf("%w: the peer holds a different cluster token; use the token of the head you are joining", errs.ErrUnauthenticated)
	// ErrProof is returned by Accept when the dialer's proof is wrong.
	ErrProof = fmt.Errorf("%w: the token presented (the cluster token or a job's credential) is wrong; use the token of the head you are joining", errs.ErrUnauthenticated)
	// ErrNoToken is returned when this side has no token to prove.
	ErrNoToken = fmt.Errorf("%w: no cluster token configured; pass the token `shoal head` wrote", errs.ErrUnauthenticated)
	// ErrScope is returned by Dial when the listener serves another job's
	// processes only, and by Accept when the dialer asked for a scope this
	// listener does not serve.
	ErrScope = fmt.Errorf("%w: the peer serves another job's processes only: a job's credential opens its own job's executors and the nodes (calls to another job's actors go through the head)", errs.ErrPermissionDenied)
)

const (
	clientLabel = "shoal peer client proof v2\x00"
	serverLabel = "shoal peer server proof v2\x00"
)

// proof is the HMAC of the transport's magic, the scope and both nonces
// with key (the scope's token), under a label that differs per direction
// (a listener's proof is never a valid dialer's).
func proof(key, label, magic string, scope ids.ID, cn, sn []byte) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(label))
	m.Write([]byte(magic))
	m.Write(scope[:])
	m.Write(cn)
	m.Write(sn)
	return m.Sum(nil)
}

// Dial runs the dialer's side of the challenge–response on rw (a fresh
// connection) for a transport opened by magic, in the scope of token: its
// job for a job's credential, the cluster for the cluster token
// (credential.ForScope gives a cluster token's holder a job's). On success
// the listener's verdict follows, in the transport's own form.
func Dial(rw io.ReadWriter, magic, token string) error {
	if token == "" {
		return ErrNoToken
	}
	scope, _, err := credential.Parse(token)
	if err != nil {
		return err
	}
	hello := make([]byte, len(magic)+ScopeSize+NonceSize)
	copy(hello, magic)
	copy(hello[len(magic):], scope[:])
	cn := hello[len(magic)+ScopeSize:]
	if _, err := rand.Read(cn); err != nil {
		return err
	}
	if _, err := rw.Write(hello); err != nil {
		return fmt.Errorf("sending the handshake: %w", err)
	}
	var reply [1 + NonceSize + ProofSize]byte
	if _, err := io.ReadFull(rw, reply[:1]); err != nil {
		return fmt.Errorf("reading the peer's challenge: %w", err)
	}
	if reply[0] != scopeServed {
		return ErrScope
	}
	if _, err := io.ReadFull(rw, reply[1:]); err != nil {
		return fmt.Errorf("reading the peer's challenge: %w", err)
	}
	sn, sp := reply[1:1+NonceSize], reply[1+NonceSize:]
	if !hmac.Equal(sp, proof(token, serverLabel, magic, scope, cn, sn)) {
		return ErrPeerToken
	}
	if _, err := rw.Write(proof(token, clientLabel, magic, scope, cn, sn)); err != nil {
		return fmt.Errorf("sending the handshake: %w", err)
	}
	return nil
}

// Accept runs the listener's side of the challenge–response on rw, for a
// listener holding token: the cluster token serves every scope, a job's
// credential its own job's. It returns ErrNotShoal if the dialer did not
// open with magic, ErrScope if it asked for a scope token does not serve,
// ErrProof if its proof is wrong; the caller then writes its transport's
// verdict.
func Accept(rw io.ReadWriter, magic, token string) error {
	_, err := AcceptScope(rw, magic, token)
	return err
}

// AcceptScope is Accept that also returns the scope the dialer proved:
// the job whose credential it holds, or the nil ID for the cluster token.
func AcceptScope(rw io.ReadWriter, magic, token string) (ids.ID, error) {
	if token == "" {
		return ids.ID{}, ErrNoToken
	}
	if _, _, err := credential.Parse(token); err != nil {
		return ids.ID{}, err
	}
	hello := make([]byte, len(magic)+ScopeSize+NonceSize)
	if _, err := io.ReadFull(rw, hello[:len(magic)]); err != nil {
		return ids.ID{}, fmt.Errorf("reading the handshake: %w", err)
	}
	if string(hello[:len(magic)]) != magic {
		return ids.ID{}, ErrNotShoal
	}
	if _, err := io.ReadFull(rw, hello[len(magic):]); err != nil {
		return ids.ID{}, fmt.Errorf("reading the handshake: %w", err)
	}
	scope := ids.ID(hello[len(magic) : len(magic)+ScopeSize])
	cn := hello[len(magic)+ScopeSize:]
	key, err := credential.ForScope(token, scope)
	if err != nil {
		rw.Write([]byte{scopeRefused})
		what := "the cluster's scope"
		if !scope.IsNil() {
			what = "job " + scope.Abbrev() + "'s scope"
		}
		return ids.ID{}, fmt.Errorf("%w: a dialer asked for %s", ErrScope, what)
	}
	var challenge [1 + NonceSize + ProofSize]byte
	challenge[0] = scopeServed
	sn := challenge[1 : 1+NonceSize]
	if _, err := rand.Read(sn); err != nil {
		return ids.ID{}, err
	}
	copy(challenge[1+NonceSize:], proof(key, serverLabel, magic, scope, cn, sn))
	if _, err := rw.Write(challenge[:]); err != nil {
		return ids.ID{}, fmt.Errorf("sending the challenge: %w", err)
	}
	var cp [ProofSize]byte
	if _, err := io.ReadFull(rw, cp[:]); err != nil {
		// (a dialer with another token stops here: it found the
		// listener's proof wrong)
		return ids.ID{}, fmt.Errorf("%w: the peer left the handshake (a different cluster token?): %v", errs.ErrUnauthenticated, err)
	}
	if !hmac.Equal(cp[:], proof(key, clientLabel, magic, scope, cn, sn)) {
		return ids.ID{}, ErrProof
	}
	return scope, nil
}
