package runtimeenv

// The generated code in pb/ is committed. Regenerating it needs protoc
// (Debian: apt-get install protobuf-compiler) and the two Go plugins:
//   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
//go:generate protoc --proto_path=pb --go_out=pb --go_opt=paths=source_relative --go-grpc_out=pb --go-grpc_opt=paths=source_relative runtimeenv.proto
