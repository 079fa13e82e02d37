package client

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// rpcDeadline bounds every unary call to the head.
const rpcDeadline = 10 * time.Second

// GRPCHead is the head's unary API over a gRPC connection.
type GRPCHead struct{ Conn *grpc.ClientConn }

// Status asks the head for the cluster's status.
func (g GRPCHead) Status(ctx context.Context) (*pb.StatusReply, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcDeadline)
	defer cancel()
	r, err := pb.NewHeadClient(g.Conn).Status(ctx, &pb.StatusRequest{})
	return r, errs.FromStatus(err)
}

// Locate asks the head where to store an object.
func (g GRPCHead) Locate(ctx context.Context, req *pb.LocateRequest) (*pb.LocateReply, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcDeadline)
	defer cancel()
	r, err := pb.NewHeadClient(g.Conn).Locate(ctx, req)
	return r, errs.FromStatus(err)
}

// GetActor asks the head for a named actor.
func (g GRPCHead) GetActor(ctx context.Context, req *pb.GetActorRequest) (*pb.GetActorReply, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcDeadline)
	defer cancel()
	r, err := pb.NewHeadClient(g.Conn).GetActor(ctx, req)
	return r, errs.FromStatus(err)
}

// Drain asks the head to drain a node; it waits for the drain to end.
func (g GRPCHead) Drain(ctx context.Context, req *pb.DrainRequest) (*pb.DrainReply, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(req.DeadlineMs)*time.Millisecond+time.Minute)
	defer cancel()
	r, err := pb.NewHeadClient(g.Conn).Drain(ctx, req)
	return r, errs.FromStatus(err)
}

// ObjectInfo asks the head for an object's state and copies.
func (g GRPCHead) ObjectInfo(ctx context.Context, req *pb.ObjectInfoRequest) (*pb.ObjectStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcDeadline)
	defer cancel()
	r, err := pb.NewHeadClient(g.Conn).ObjectInfo(ctx, req)
	return r, errs.FromStatus(err)
}

// RequestResources declares demand to the head.
func (g GRPCHead) RequestResources(ctx context.Context, req *pb.RequestResourcesRequest) error {
	ctx, cancel := context.WithTimeout(ctx, rpcDeadline)
	defer cancel()
	_, err := pb.NewHeadClient(g.Conn).RequestResources(ctx, req)
	return errs.FromStatus(err)
}

// ExecutorExit asks the head why an executor exited.
func (g GRPCHead) ExecutorExit(ctx context.Context, req *pb.ExecutorExitRequest) (*pb.ExecutorExitReply, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcDeadline)
	defer cancel()
	r, err := pb.NewHeadClient(g.Conn).ExecutorExit(ctx, req)
	return r, errs.FromStatus(err)
}

// GRPCSession returns a Connect function that opens a session stream on
// conn. The stream lives until the client closes it.
func GRPCSession(conn *grpc.ClientConn) func(context.Context) (rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], error) {
	return func(ctx context.Context) (rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], error) {
		s, err := pb.NewHeadClient(conn).Session(context.WithoutCancel(ctx))
		if err != nil {
			return nil, errs.FromStatus(err)
		}
		return s, nil
	}
}
