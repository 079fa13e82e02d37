package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/wire"
)

// TestLocalSessionFallsBackToGRPC: a session opens on the head's local
// socket when a listener there proves the token, and through gRPC when
// none listens or the one that does holds another token (a squatter, or
// another cluster's head on the same port).
func TestLocalSessionFallsBackToGRPC(t *testing.T) {
	const token = "the-cluster-token"
	tests := []struct {
		name      string
		listener  string // the local listener's token; "": none
		wantLocal bool
	}{
		{"the head's socket", token, true},
		{"nothing listens", "", false},
		{"another token", "another-cluster-token", false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A port no head of this test machine serves: the local address
			// is free unless the case listens on it.
			headAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(1+i))
			accepted := make(chan bool, 1)
			if tc.listener != "" {
				local, _ := wire.LocalStreamAddr(headAddr)
				ln, err := net.Listen("unix", local)
				if err != nil {
					t.Skipf("no local socket at %s: %v", local, err)
				}
				defer ln.Close()
				go func() {
					conn, err := ln.Accept()
					if err != nil {
						accepted <- false
						return
					}
					defer conn.Close()
					conn, _, err = wire.AcceptStream(conn, tc.listener, 5*time.Second)
					if err == nil {
						// Finish at once: the client's Recv ends with io.EOF.
						wire.NewServerStream[pb.HeadMessage, pb.ClientMessage](context.Background(), conn).Finish(nil)
					}
					accepted <- err == nil
				}()
			}
			grpcUsed := false
			viaGRPC := func(ctx context.Context) (rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], error) {
				grpcUsed = true
				return nil, errors.New("gRPC (the test's stand-in)")
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			s, err := LocalSession(headAddr, token, log, viaGRPC)(context.Background())
			if tc.listener != "" && <-accepted != tc.wantLocal {
				t.Fatalf("the local listener accepted: %v, want %v", !tc.wantLocal, tc.wantLocal)
			}
			if tc.wantLocal {
				if err != nil || grpcUsed {
					t.Fatalf("session on the local socket: %v (gRPC used: %v)", err, grpcUsed)
				}
				if _, err := s.Recv(); !errors.Is(err, io.EOF) {
					t.Fatalf("Recv on the local session: %v, want the listener's io.EOF", err)
				}
				return
			}
			if !grpcUsed || err == nil {
				t.Fatalf("the session did not fall back to gRPC: %v (gRPC used: %v)", err, grpcUsed)
			}
		})
	}
}
