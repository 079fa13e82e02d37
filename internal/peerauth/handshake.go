package peerauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/shoal-dev/shoal/internal/errs"
)

// The exchange, after which the listener writes its transport's verdict:
//
//	dialer   -> magic | client nonce (32)
//	listener -> server nonce (32) | server proof (32)
//	dialer   -> client proof (32)     (only if the server proof checked out)
//
// The dialer checks the listener first, so a dialer with a wrong token
// learns it from its own check ("the peer holds a different token") and a
// listener that does not know the token learns nothing from the dialer.
const (
	NonceSize = 32
	ProofSize = sha256.Size
)

var (
	// ErrNotShoal is returned by Accept when the peer did not open with the
	// transport's magic (another protocol, or another version of Shoal).
	ErrNotShoal = errors.New("not a Shoal handshake")
	// ErrPeerToken is returned by Dial when the listener could not prove it
	// holds this process's token.
	ErrPeerToken = fmt.Errorf("%w: the peer holds a different cluster token; use the token of the head you are joining", errs.ErrUnauthenticated)
	// ErrProof is returned by Accept when the dialer's proof is wrong.
	ErrProof = fmt.Errorf("%w: the cluster token presented is wrong; use the token of the head you are joining", errs.ErrUnauthenticated)
	// ErrNoToken is returned when this side has no token to prove.
	ErrNoToken = fmt.Errorf("%w: no cluster token configured; pass the token `shoal head` wrote", errs.ErrUnauthenticated)
)

const (
	clientLabel = "shoal peer client proof v1\x00"
	serverLabel = "shoal peer server proof v1\x00"
)

// proof is the HMAC of the transport's magic and both nonces with token,
// under a label that differs per direction (a listener's proof is never a
// valid dialer's).
func proof(token, label, magic string, cn, sn []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	m.Write([]byte(magic))
	m.Write(cn)
	m.Write(sn)
	return m.Sum(nil)
}

// Dial runs the dialer's side of the challenge–response on rw (a fresh
// connection) for a transport opened by magic. On success the listener's
// verdict follows, in the transport's own form.
func Dial(rw io.ReadWriter, magic, token string) error {
	if token == "" {
		return ErrNoToken
	}
	hello := make([]byte, len(magic)+NonceSize)
	copy(hello, magic)
	cn := hello[len(magic):]
	if _, err := rand.Read(cn); err != nil {
		return err
	}
	if _, err := rw.Write(hello); err != nil {
		return fmt.Errorf("sending the handshake: %w", err)
	}
	var reply [NonceSize + ProofSize]byte
	if _, err := io.ReadFull(rw, reply[:]); err != nil {
		return fmt.Errorf("reading the peer's challenge: %w", err)
	}
	sn, sp := reply[:NonceSize], reply[NonceSize:]
	if !hmac.Equal(sp, proof(token, serverLabel, magic, cn, sn)) {
		return ErrPeerToken
	}
	if _, err := rw.Write(proof(token, clientLabel, magic, cn, sn)); err != nil {
		return fmt.Errorf("sending the handshake: %w", err)
	}
	return nil
}

// Accept runs the listener's side of the challenge–response on rw: it
// returns ErrNotShoal if the dialer did not open with magic, ErrProof if
// its proof is wrong; the caller then writes its transport's verdict.
func Accept(rw io.ReadWriter, magic, token string) error {
	if token == "" {
		return ErrNoToken
	}
	hello := make([]byte, len(magic)+NonceSize)
	if _, err := io.ReadFull(rw, hello[:len(magic)]); err != nil {
		return fmt.Errorf("reading the handshake: %w", err)
	}
	if string(hello[:len(magic)]) != magic {
		return ErrNotShoal
	}
	if _, err := io.ReadFull(rw, hello[len(magic):]); err != nil {
		return fmt.Errorf("reading the handshake: %w", err)
	}
	cn := hello[len(magic):]
	var challenge [NonceSize + ProofSize]byte
	sn := challenge[:NonceSize]
	if _, err := rand.Read(sn); err != nil {
		return err
	}
	copy(challenge[NonceSize:], proof(token, serverLabel, magic, cn, sn))
	if _, err := rw.Write(challenge[:]); err != nil {
		return fmt.Errorf("sending the challenge: %w", err)
	}
	var cp [ProofSize]byte
	if _, err := io.ReadFull(rw, cp[:]); err != nil {
		// (a dialer with another token stops here: it found the
		// listener's proof wrong)
		return fmt.Errorf("%w: the peer left the handshake (a different cluster token?): %v", errs.ErrUnauthenticated, err)
	}
	if !hmac.Equal(cp[:], proof(token, clientLabel, magic, cn, sn)) {
		return ErrProof
	}
	return nil
}
