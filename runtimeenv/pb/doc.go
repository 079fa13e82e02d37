// Package pb is the generated protobuf and gRPC code of the package transfer
// service (runtimeenv.proto).
package pb
