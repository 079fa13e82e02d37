package client

import (
	"context"
	"log/slog"
	"time"

	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/wire"
)

// localDialTimeout bounds the handshake on the head's local socket, after
// which a session opens through gRPC instead.
const localDialTimeout = 5 * time.Second

// LocalSession opens sessions with the head whose gRPC address is
// headAddr on the head's local socket when it runs on this machine (the
// head's stream connections: internal/head's localSessions), and with
// viaGRPC otherwise: where no such socket is reachable, or its listener
// does not prove token (another cluster's head on the same port). Each
// session tries the socket again: a head that restarts keeps its address.
func LocalSession(headAddr, token string, log *slog.Logger, viaGRPC func(context.Context) (rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], error)) func(context.Context) (rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], error) {
	local, ok := wire.LocalStreamAddr(headAddr)
	return func(ctx context.Context) (rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], error) {
		if ok {
			conn, err := wire.DialStream(ctx, local, token, localDialTimeout)
			if err == nil {
				return wire.NewClientStream[pb.ClientMessage, pb.HeadMessage](conn), nil
			}
			log.Debug("the head's session over gRPC: its local socket cannot be had", "address", local, "error", err)
		}
		return viaGRPC(ctx)
	}
}
