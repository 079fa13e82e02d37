// Package peerauth secures the connections Shoal's processes open to one
// another outside gRPC: the data plane (internal/transfer) and direct
// calls (internal/wire).
//
// Two layers, each used on every such connection it applies to:
//
//   - A challenge–response on a token (handshake.go). Each side sends a
//     fresh random nonce and proves it holds the token with an HMAC-SHA256
//     of both nonces keyed by it; the token itself never crosses the wire,
//     and a recorded proof is worth nothing on another connection (the
//     other side's nonce differs). The dialer opens with a scope: the job
//     whose credential it holds (internal/credential), or the cluster for
//     the cluster token, and the proofs are keyed by that scope's token.
//     A listener with the cluster token (a node) derives any job's; one
//     with a job's credential (an executor) serves its own job only. It
//     runs in every cluster, TLS or not.
//
//   - TLS with certificates from a cluster CA (ca.go, identity.go), when
//     the cluster uses TLS. Nodes, executors and drivers do not hold the
//     head's private key, so the head acts as a small CA: its CA key is
//     derived from the head's TLS key (so a restarted head with the same
//     key is the same CA, and nodes' certificates stay valid), and each
//     process generates its own key and has the head sign it (Enroll,
//     over the already-TLS, token-authenticated control channel). Private
//     keys never leave the process that made them. Both ends present a
//     certificate and verify the other's against the cluster CA (mutual
//     TLS), under the name ServerName: membership of the cluster is what
//     is verified, not a particular node.
//
// Vocabulary:
//
//	nonce     32 random bytes, one per side per connection
//	scope     the job a connection is for (16 bytes; zeros: the cluster)
//	proof     HMAC-SHA256(the scope's token, label | magic | scope | client nonce | server nonce)
//	cluster CA  the head's Ed25519 CA for peer certificates
//	identity  a process's peer certificate, its key and the cluster CA
package peerauth
