package chaos

import (
	"context"
	"errors"
	"hash/crc32"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/retry"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Regression tests: each reproduces, deterministically, a bug the chaos runs
// found (README.md, track record), and fails if the bug comes back.

// gate lets a test hold a task at a point and release it: the task calls
// Arrive then Pass; the test calls AwaitArrival, does what it must, then
// Open.
type gate struct {
	once1, once2  sync.Once
	arrived, open chan struct{}
}

var (
	gateClass = shoal.Actor0("chaos.test.Gate", func(context.Context) (*gate, error) {
		return &gate{arrived: make(chan struct{}), open: make(chan struct{})}, nil
	})
	gateArrive = shoal.Method0(gateClass, "Arrive", func(_ context.Context, g *gate) (bool, error) {
		g.once1.Do(func() { close(g.arrived) })
		return true, nil
	})
	gateAwait = shoal.Method0(gateClass, "AwaitArrival", func(ctx context.Context, g *gate) (bool, error) {
		select {
		case <-g.arrived:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	})
	gateOpen = shoal.Method0(gateClass, "Open", func(_ context.Context, g *gate) (bool, error) {
		g.once2.Do(func() { close(g.open) })
		return true, nil
	})
	gatePass = shoal.Method0(gateClass, "Pass", func(ctx context.Context, g *gate) (bool, error) {
		select {
		case <-g.open:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	})

	// readAfterGate waits until its borrowed objects are ready (learning
	// where they are), stops at the gate, then reads them.
	readAfterGate = shoal.Func2("chaos.test.readAfterGate", func(ctx context.Context, b Borrowed, g *shoal.ActorHandle[gate]) (ReadSum, error) {
		var s ReadSum
		if _, _, err := shoal.Wait(ctx, b.Parts, len(b.Parts), -1); err != nil {
			return s, err
		}
		for _, m := range []*shoal.Method[gate, bool]{gateArrive, gatePass} {
			if _, err := m.Remote(ctx, g).Get(ctx); err != nil {
				return s, err
			}
		}
		for _, f := range b.Parts {
			v, err := f.Get(ctx)
			if err != nil {
				return s, err
			}
			s.Bytes += int64(len(v))
			s.CRCs = append(s.CRCs, crc32.Checksum(v, castagnoli))
		}
		return s, nil
	})

	// slowStart is an actor whose constructor takes a while, holding a
	// reference (a receiver's handle) in its argument.
	slowStartClass = shoal.Actor1("chaos.test.SlowStart", func(ctx context.Context, to *shoal.ActorHandle[receiver]) (*slowStarter, error) {
		if err := retry.Sleep(ctx, 2*time.Second); err != nil {
			return nil, err
		}
		return &slowStarter{to: to}, nil
	})
)

// slowStarter is slowStartClass's type (a class's own: a handle's type
// names its class).
type slowStarter struct{ to *shoal.ActorHandle[receiver] }

// testCluster starts a head and one node per args.
func testCluster(t *testing.T, nodes ...[]string) (*clustertest.Cluster, []*clustertest.Proc, []string, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a multi-process cluster")
	}
	bin, err := clustertest.BuildShoal()
	if err != nil {
		t.Fatal(err)
	}
	opts := clustertest.Options{Binary: bin}
	if testing.Verbose() {
		opts.Output = os.Stderr
	}
	c, err := clustertest.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	var procs []*clustertest.Proc
	var idList []string
	for _, args := range nodes {
		p, err := c.AddNode(context.Background(), args...)
		if err != nil {
			t.Fatal(err)
		}
		_, data, err := parseJoined(p.Output())
		if err != nil {
			t.Fatal(err)
		}
		id, ok := registeredID(context.Background(), c, data)
		if !ok {
			t.Fatalf("no live node serves %s in the head's status", data)
		}
		procs, idList = append(procs, p), append(idList, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	dctx, err := shoal.Init(ctx, shoal.WithAddress(c.HeadAddr), shoal.WithTokenFile(c.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shoal.Shutdown(dctx) })
	return c, procs, idList, dctx
}

// Track record #1: an actor restarted while its constructor was still
// running (or waiting for its executor) left the references its constructor
// task held (here the receiver's handle) behind for ever.
func TestActorRestartedDuringConstructionLeavesNothing(t *testing.T) {
	c, procs, nodes, ctx := testCluster(t, []string{"--cpus", "1"}, []string{"--cpus", "1"}, []string{"--cpus", "1"})
	recv, err := receiverClass.New(ctx, nil, shoal.WithResources(shoal.Resources{}), shoal.WithNodeAffinity(nodes[0], false))
	if err != nil {
		t.Fatal(err)
	}
	slow, err := slowStartClass.New(ctx, recv, shoal.WithMaxRestarts(-1), shoal.WithNodeAffinity(nodes[1], true))
	if err != nil {
		t.Fatal(err)
	}
	// Kill the node while the constructor runs on it.
	err = c.WaitFor(ctx, time.Minute, func(st *pb.StatusReply) bool {
		for _, n := range st.Nodes {
			if n.Alive && n.DataAddr != "" && idString(n.NodeId) == nodes[1] && n.RunningTasks > 0 {
				return true
			}
		}
		return false
	}, "the constructor to run on node 1")
	if err != nil {
		t.Fatal(err)
	}
	procs[1].Kill()
	if err := slow.Ready(ctx); err != nil {
		t.Fatalf("the restarted actor: %v", err)
	}
	for _, h := range []interface{ Kill(context.Context) error }{slow, recv} {
		if err := h.Kill(ctx); err != nil {
			t.Fatal(err)
		}
	}
	slow.Release()
	recv.Release()
	if err := shoal.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	err = c.WaitFor(context.Background(), 10*time.Second, func(st *pb.StatusReply) bool { return st.Objects == 0 && st.Actors == 0 },
		"the cluster to drop every object once the driver has gone")
	if err != nil {
		t.Fatal(err)
	}
}

// Track record #2: a task that had learnt where a borrowed object was, then
// read it after the node holding it was drained (the object moved to
// another node), failed with ErrObjectLost ("connection refused" from the
// drained node) after about 15 s of retries, instead of reading the copy
// the drain had made.
func TestBorrowedObjectReadAfterDrain(t *testing.T) {
	_, procs, nodes, ctx := testCluster(t, []string{"--cpus", "1"}, []string{"--cpus", "1"}, []string{"--cpus", "1"})
	const size = 1 << 20
	obj := objectsMake.With(shoal.WithNodeAffinity(nodes[0], false)).Remote(ctx, 0, size, int64(7))
	defer obj.Release()
	if _, _, err := shoal.Wait(ctx, []*shoal.Future[[]byte]{obj}, 1, -1); err != nil {
		t.Fatal(err)
	}
	g, err := gateClass.New(ctx, nil, shoal.WithResources(shoal.Resources{}), shoal.WithMaxConcurrency(4), shoal.WithNodeAffinity(nodes[2], false))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	read := readAfterGate.With(shoal.WithNodeAffinity(nodes[1], false)).Remote(ctx, Borrowed{IDs: []int{0}, Parts: []*shoal.Future[[]byte]{obj}}, g)
	defer read.Release()
	if _, err := gateAwait.Remote(ctx, g).Get(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := shoal.Drain(ctx, nodes[0], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ObjectsMoved != 1 {
		t.Fatalf("the drain moved %d objects, want 1: %+v", rep.ObjectsMoved, rep)
	}
	select {
	case <-procs[0].Exited():
	case <-ctx.Done():
		t.Fatal("the drained node did not exit")
	}
	if _, err := gateOpen.Remote(ctx, g).Get(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := read.Get(ctx)
	if err != nil {
		t.Fatalf("reading the borrowed object after its node was drained: %v (object lost: %v)", err, errors.Is(err, shoal.ErrObjectLost))
	}
	want := crc32.Checksum(payload(7, 2, 0, size), castagnoli)
	if got.Bytes != size || len(got.CRCs) != 1 || got.CRCs[0] != want {
		t.Fatalf("read %d bytes, checksums %08x; want %d bytes, %08x", got.Bytes, got.CRCs, size, want)
	}
}

// readTwoAcrossGate reads its first borrowed object, waits until the second
// is ready (learning where it is), stops at the gate, then reads the second.
var readTwoAcrossGate = shoal.Func2("chaos.test.readTwoAcrossGate", func(ctx context.Context, b Borrowed, g *shoal.ActorHandle[gate]) (ReadSum, error) {
	var s ReadSum
	read := func(f *shoal.Future[[]byte]) error {
		v, err := f.Get(ctx)
		if err != nil {
			return err
		}
		s.Bytes += int64(len(v))
		s.CRCs = append(s.CRCs, crc32.Checksum(v, castagnoli))
		return nil
	}
	if err := read(b.Parts[0]); err != nil {
		return s, err
	}
	if _, _, err := shoal.Wait(ctx, b.Parts[1:], 1, -1); err != nil {
		return s, err
	}
	for _, m := range []*shoal.Method[gate, bool]{gateArrive, gatePass} {
		if _, err := m.Remote(ctx, g).Get(ctx); err != nil {
			return s, err
		}
	}
	return s, read(b.Parts[1])
})

// Track record #3: a task reading a borrowed object from a node that went
// silent (partitioned, here frozen) waited for as long as the partition
// lasted, although the head had declared the node dead within seconds and
// rebuilt the object elsewhere: a read on a pooled data-plane connection had
// no deadline, and news of the rebuild could not interrupt it. With
// deadlines alone it still waited them out (20 s, more than once under
// load: a CI failure); now the news interrupts the fetch.
func TestBorrowedReadFromSilentNodeFailsOver(t *testing.T) {
	c, procs, nodes, ctx := testCluster(t, []string{"--cpus", "1"}, []string{"--cpus", "1"}, []string{"--cpus", "1"})
	const size = 1 << 20
	// Soft affinity: once node 0 is dead the objects are rebuilt elsewhere.
	onProducer := objectsMake.With(shoal.WithNodeAffinity(nodes[0], true))
	objs := []*shoal.Future[[]byte]{onProducer.Remote(ctx, 0, size, int64(9)), onProducer.Remote(ctx, 1, size, int64(9))}
	for _, o := range objs {
		defer o.Release()
	}
	if _, _, err := shoal.Wait(ctx, objs, 2, -1); err != nil {
		t.Fatal(err)
	}
	g, err := gateClass.New(ctx, nil, shoal.WithResources(shoal.Resources{}), shoal.WithMaxConcurrency(4), shoal.WithNodeAffinity(nodes[2], false))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	read := readTwoAcrossGate.With(shoal.WithNodeAffinity(nodes[1], false)).Remote(ctx, Borrowed{IDs: []int{0, 1}, Parts: objs}, g)
	defer read.Release()
	if _, err := gateAwait.Remote(ctx, g).Get(ctx); err != nil {
		t.Fatal(err)
	}
	if err := procs[0].Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { procs[0].Thaw() }) // before the cluster stops
	err = c.WaitFor(ctx, time.Minute, func(st *pb.StatusReply) bool {
		for _, n := range st.Nodes {
			if idString(n.NodeId) == nodes[0] {
				return !n.Alive
			}
		}
		return false
	}, "the head to declare the frozen node dead")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gateOpen.Remote(ctx, g).Get(ctx); err != nil {
		t.Fatal(err)
	}
	// The node stays frozen: the read must not depend on it coming back,
	// nor wait out the data plane's timeouts on it (10 s for a reply on a
	// pooled connection, then 5 s per new connection's handshake, three
	// attempts: 20 s and more): news of the rebuild interrupts the fetch.
	// It takes about 0.1 s; the bound is generous for a loaded machine.
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	got, err := read.Get(rctx)
	if err != nil {
		t.Fatalf("reading a borrowed object whose node went silent (and was declared dead): %v", err)
	}
	want := []uint32{crc32.Checksum(payload(9, 2, 0, size), castagnoli), crc32.Checksum(payload(9, 2, 1, size), castagnoli)}
	if got.Bytes != 2*size || !equalCRCs(got.CRCs, want) {
		t.Fatalf("read %d bytes, checksums %08x; want %d bytes, %08x", got.Bytes, got.CRCs, 2*size, want)
	}
}
