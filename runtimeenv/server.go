package runtimeenv

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/runtimeenv/pb"
)

// DefaultChunkSize is the data carried by one message: a quarter of the
// per-stream flow-control window Shoal's gRPC options set (4 MiB), so
// several chunks are in flight, and far below the 64 MiB message limit.
const DefaultChunkSize = 1 << 20

// maxChunkSize bounds a received chunk.
const maxChunkSize = 4 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Source is what a Server sends packages from: the head's Store, or a
// node's Cache for peers.
type Source interface {
	// OpenPackage opens a complete, verified package; it wraps ErrNotFound
	// if the source does not hold it.
	OpenPackage(hash string) (f *os.File, size int64, err error)
}

// Server implements the Packages gRPC service. The head serves its Store
// (Stat, Upload, Download); a node serves its Cache to peers (Stat and
// Download only). Register it on a gRPC server built with
// rpc.ServerOptions, which adds token authentication and size limits.
type Server struct {
	pb.UnimplementedPackagesServer
	store     *Store
	src       Source
	chunkSize int
	log       *slog.Logger
}

// NewServer serves a head's store: clients upload to it and nodes download
// from it.
func NewServer(store *Store, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{store: store, src: store, chunkSize: DefaultChunkSize, log: logger}
}

// NewPeerServer serves the packages a node holds (its Cache) to other
// nodes; uploads are refused.
func NewPeerServer(src Source, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{src: src, chunkSize: DefaultChunkSize, log: logger}
}

// Register adds the service to a gRPC server.
func (s *Server) Register(g *grpc.Server) { pb.RegisterPackagesServer(g, s) }

// Stat reports the bytes held of a package.
func (s *Server) Stat(_ context.Context, req *pb.StatRequest) (*pb.StatReply, error) {
	if s.store != nil {
		held, size, complete, err := s.store.Stat(req.GetHash())
		if err != nil {
			return nil, toStatus(err)
		}
		return &pb.StatReply{Held: held, Complete: complete, Size: size, Limit: max(s.store.limit, 0)}, nil
	}
	if err := checkHash(req.GetHash()); err != nil {
		return nil, toStatus(err)
	}
	f, size, err := s.src.OpenPackage(req.GetHash())
	if errors.Is(err, ErrNotFound) {
		return &pb.StatReply{}, nil
	}
	if err != nil {
		return nil, toStatus(err)
	}
	f.Close()
	return &pb.StatReply{Held: size, Complete: true, Size: size}, nil
}

// Upload appends a client's chunks to the store. A chunk whose checksum
// fails ends the stream with ErrChunkChecksum (codes.Aborted); the client
// asks Stat where to resume.
func (s *Server) Upload(stream grpc.ClientStreamingServer[pb.Chunk, pb.UploadReply]) error {
	if s.store == nil {
		return status.Error(codes.Unimplemented, "this node only serves packages to peers; upload to the head")
	}
	var hash string
	var size, contentSize, held int64
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&pb.UploadReply{Held: held})
		}
		if err != nil {
			return err
		}
		if hash == "" {
			hash, size, contentSize = c.GetHash(), c.GetSize(), c.GetContentSize()
			if err := checkHash(hash); err != nil {
				return toStatus(err)
			}
		}
		if len(c.Data) > maxChunkSize {
			return toStatus(fmt.Errorf("%w: a chunk of %d bytes (limit %d)", ErrCorrupt, len(c.Data), maxChunkSize))
		}
		if checksum(c.Data) != c.GetCrc32C() {
			s.log.Warn("package upload chunk failed its checksum; the client will resend it", "hash", hash, "offset", c.GetOffset(), "bytes", len(c.Data))
			return toStatus(fmt.Errorf("%w: upload of package %s: the chunk at offset %d (%d bytes) arrived damaged", ErrChunkChecksum, short(hash), c.GetOffset(), len(c.Data)))
		}
		var complete bool
		held, complete, err = s.store.Write(hash, size, contentSize, c.GetOffset(), c.Data)
		if err != nil {
			return toStatus(err)
		}
		if complete {
			return stream.SendAndClose(&pb.UploadReply{Held: held, Complete: true})
		}
	}
}

// Download streams a complete package from an offset, each chunk with its
// CRC-32C.
func (s *Server) Download(req *pb.DownloadRequest, stream grpc.ServerStreamingServer[pb.Chunk]) error {
	hash := req.GetHash()
	if err := checkHash(hash); err != nil {
		return toStatus(err)
	}
	f, size, err := s.src.OpenPackage(hash)
	if err != nil {
		return toStatus(err)
	}
	defer f.Close()
	off, end := req.GetOffset(), size
	if req.GetLength() > 0 {
		end = min(size, off+req.GetLength())
	}
	if off < 0 || off > size {
		return toStatus(fmt.Errorf("%w: download of package %s from offset %d, but it has %d bytes", ErrBadSpec, short(hash), off, size))
	}
	ctx := stream.Context()
	for off < end {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		// A fresh buffer per message: gRPC may hold a sent message's bytes.
		buf := make([]byte, min(int64(s.chunkSize), end-off))
		if _, err := f.ReadAt(buf, off); err != nil {
			return toStatus(fmt.Errorf("reading package %s at %d: %w", short(hash), off, err))
		}
		if err := stream.Send(&pb.Chunk{Hash: hash, Offset: off, Data: buf, Crc32C: checksum(buf), Size: size}); err != nil {
			return err
		}
		off += int64(len(buf))
	}
	return nil
}
