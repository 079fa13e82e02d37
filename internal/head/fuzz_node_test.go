package head

import (
	"io"
	"log/slog"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// FuzzNodeMessage feeds arbitrary bytes, decoded as a node's messages, to
// the head: the first registers the node (its hello, or a valid one when it
// has none), then it is handled twice, as a node that sent it again would.
// The head must refuse what is malformed with an error and never panic.
func FuzzNodeMessage(f *testing.F) {
	id := ids.NewGenerator().Next()
	seeds := []*pb.NodeMessage{
		{Hello: &pb.NodeHello{NodeId: id.Bytes(), Resources: &pb.Resources{Cpu: scheduler.Unit}, DataAddr: "127.0.0.1:1", Packages: []string{"abc"}}},
		{Heartbeat: &pb.Heartbeat{}, Objects: []*pb.ObjectCopy{{Id: id.Bytes(), Added: true, Size: 5}, {Id: id.Bytes()}, {Id: []byte{1}}}},
		{Executors: []*pb.ExecutorEvent{{JobId: id.Bytes(), Pid: 7, Exited: true}, {JobId: []byte("x")}}},
		{Drivers: []*pb.DriverEvent{{JobId: id.Bytes(), Lines: []string{"out"}}, {JobId: id.Bytes(), Exited: true, ExitCode: 1}}},
		{PackagesHeld: []*pb.PackageHeld{{Hash: "abc", Source: "head"}}},
		{Hello: &pb.NodeHello{NodeId: []byte{1, 2}, Resources: &pb.Resources{Cpu: -1}}},
	}
	for _, s := range seeds {
		b, _ := proto.Marshal(s)
		f.Add(b)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m pb.NodeMessage
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		h := New(Config{Logger: logger})
		defer h.Close()
		hello := m.Hello
		if hello == nil {
			hello = &pb.NodeHello{NodeId: ids.Random().Bytes(), Resources: &pb.Resources{Cpu: scheduler.Unit}}
		}
		out := rpc.NewOutbox(h.cfg.MaxMessageBytes/2, func() *pb.HeadToNode { return &pb.HeadToNode{} })
		h.mu.Lock()
		defer h.mu.Unlock()
		n, err := h.addNode(hello, out, func() {})
		if err != nil {
			return
		}
		m.Hello = nil
		h.handleNode(n, &m)
		h.handleNode(n, &m)
		h.nodeGone(n, "fuzz", false)
	})
}
