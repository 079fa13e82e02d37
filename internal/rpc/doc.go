// Package rpc is Shoal's control-plane transport: the protobuf service (in
// pb/), token authentication, TLS and message-size limits for gRPC, an
// in-process stream pair for the embedded cluster, and the batching outbox
// every stream sender uses.
package rpc
