// Package peerauthtest makes cluster CAs and peer identities for tests, as
// a head with a fresh TLS key would.
package peerauthtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/shoal-dev/shoal/internal/peerauth"
)

// CA returns the cluster CA of a head with a fresh key.
func CA(t testing.TB) *peerauth.ClusterCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := peerauth.NewClusterCA(key)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// Enroll returns a peer identity that ca signed.
func Enroll(t testing.TB, ca *peerauth.ClusterCA) *peerauth.Identity {
	t.Helper()
	id, err := peerauth.Enroll(context.Background(), ca)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
