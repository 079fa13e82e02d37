package shoal_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/transfer"
)

// recordingProxy forwards connections to target and keeps every byte that
// crosses them, both ways: what a capture on the network between two
// nodes would see.
type recordingProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	buf    bytes.Buffer
	conns  []net.Conn
}

func startRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *recordingProxy) Addr() string { return p.ln.Addr().String() }

func (p *recordingProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.copy(s, c)
		go p.copy(c, s)
	}
}

func (p *recordingProxy) copy(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	io.Copy(io.MultiWriter(dst, p), src)
}

func (p *recordingProxy) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *recordingProxy) captured() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.buf.Bytes())
}

func (p *recordingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// A cluster with TLS on loopback: tasks and direct actor calls work, and
// the bytes of the data plane between two nodes (and between a client and
// a node), recorded on their way, hold neither the cluster token nor any
// of an object's bytes.
func TestTLSClusterDataPlaneCarriesNothingInClear(t *testing.T) {
	ctx := within(t, context.Background(), 2*time.Minute)
	c, err := clustertest.Start(ctx, clustertest.Options{Binary: mustBinary(t), Nodes: 2, TLS: true, NodeArgs: []string{"--cpus", "1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	// A driver: tasks, objects and direct actor calls, all over TLS.
	dctx := within(t, connect(t, c, shoal.WithTLS(c.TLSCAFile)), time.Minute)
	h := readyLedger(t, dctx)
	defer h.Kill(dctx)
	before := directSent(t, dctx)
	for i := range 20 {
		if v, err := record.Remote(dctx, h, i).Get(dctx); err != nil || v != i+1 {
			t.Fatalf("call %d: %d %v", i, v, err)
		}
	}
	if directSent(t, dctx) == before {
		t.Fatal("no actor call went direct in a TLS cluster")
	}
	big := bytes.Repeat([]byte("shoal"), 300_000)
	fut, err := shoal.Put(dctx, big)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fut.Get(dctx); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("a large object over the TLS data plane: %v", err)
	}

	// The data plane, recorded: a client reads an object from the node A
	// holding it through the recorder, and node B pulls it from A through
	// it too. (The object is the driver's, so the head keeps it: a copy
	// of an object the head does not know is freed by its node at the
	// node's next report, which a slow reader lost the race to.)
	conn, err := rpc.Dial(ctx, c.HeadAddr, c.Token, 0, rpc.TLSConfig{CAFile: c.TLSCAFile}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := pb.NewHeadClient(conn)
	peer, err := peerauth.Enroll(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	cl := transfer.NewClient(c.Token, peer)
	defer cl.Close()
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	obj, err := shoal.Put(dctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Release()
	id, err := ids.Parse(obj.ID())
	if err != nil {
		t.Fatal(err)
	}
	// (the driver tells the head of its Put after storing it: ask until
	// the head knows)
	var info *pb.ObjectStatus
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		info, err = head.ObjectInfo(ctx, &pb.ObjectInfoRequest{Id: id.Bytes()})
		if err == nil && info.State == pb.ObjectState_OBJECT_STATE_READY && len(info.Locations) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("where the object is: %v, %v", info, err)
		}
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := info.Locations[0]
	var b *pb.NodeStatus
	for _, n := range st.Nodes {
		if !bytes.Equal(n.NodeId, a.NodeId) {
			b = n
		}
	}
	if b == nil {
		t.Fatalf("no node beside the one holding the object: %v", st.Nodes)
	}
	aID, err := ids.FromBytes("node id", a.NodeId)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startRecordingProxy(t, a.DataAddr)
	if got, err := cl.Get(ctx, proxy.Addr(), id, nil); err != nil || !bytes.Contains(got, data) {
		t.Fatalf("a client reading the object from node A: %d bytes, %v", len(got), err)
	}
	size, err := cl.Pull(ctx, b.DataAddr, id, []transfer.Location{{Node: aID, Addr: proxy.Addr()}})
	if err != nil || size < int64(len(data)) {
		t.Fatalf("node B pulling from node A: %d %v", size, err)
	}
	capture := proxy.captured()
	if len(capture) < 2*len(data) {
		t.Fatalf("the recorder saw %d bytes: the transfers did not cross it", len(capture))
	}
	if bytes.Contains(capture, []byte(c.Token)) {
		t.Error("the cluster token crossed the data plane in clear")
	}
	for _, off := range []int{0, 1 << 20, len(data) - 64} {
		if bytes.Contains(capture, data[off:off+64]) {
			t.Errorf("object bytes at offset %d crossed the data plane in clear", off)
		}
	}
}
