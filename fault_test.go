package shoal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/proctree"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// holderOf waits until a node's store reports at least size bytes and
// returns that node and its process.
func holderOf(t *testing.T, ctx context.Context, c *clustertest.Cluster, size int64) (shoal.NodeInfo, *clustertest.Proc) {
	t.Helper()
	var holder string
	err := c.WaitFor(ctx, 10*time.Second, func(st *pb.StatusReply) bool {
		for _, n := range statusNodes(st) {
			if n.Alive && n.StoreBytes >= size {
				holder = n.ID
				return true
			}
		}
		return false
	}, "a node to report the object")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := shoal.ClusterStatus(ctx)
	for _, n := range st.Nodes {
		if n.ID == holder {
			return n, c.NodeProc(n.ID)
		}
	}
	t.Fatalf("node %s vanished", holder)
	panic("unreachable")
}

func TestLostIntermediateIsRebuiltFromLineage(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "2")
	ctx := within(t, connect(t, c), 2*time.Minute)
	const size = 1 << 20
	inter := blob.Remote(ctx, 7, size) // stored on a node, not inline
	if _, _, err := shoal.Wait(ctx, []*shoal.Future[[]byte]{inter}, 1, -1); err != nil {
		t.Fatal(err)
	}
	victim, proc := holderOf(t, ctx, c, size)
	if proc == nil {
		t.Fatalf("no process for node %s", victim.ID)
	}
	proc.Kill()
	// A consumer needs the intermediate, whose only copy died: it is rebuilt.
	want := blobBytes(7, size)
	d, err := digest.Remote(ctx, inter).Get(ctx)
	if wantD := fmt.Sprintf("%d:%x", size, sha256.Sum256(want)); err != nil || d != wantD {
		t.Fatalf("consumer of the lost intermediate: %q %v", d, err)
	}
	got, err := inter.Get(ctx)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("driver read of the rebuilt intermediate: %v", err)
	}
}

// Tasks sent straight to leased executors (the common path once a
// client's pool holds leases) leave results in node stores that the head
// learns of from the client: those must be rebuilt from lineage as well.
func TestLostLeasedResultsAreRebuilt(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "2")
	ctx := within(t, connect(t, c), 2*time.Minute)
	const n, size = 24, 256 << 10
	results := make([]*shoal.Future[[]byte], n)
	for i := range results {
		// One after the other, as a loop that waits for each: the pool
		// holds a lease from the second task on.
		results[i] = blob.Remote(ctx, i, size)
		if _, err := results[i].Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	victim, proc := holderOf(t, ctx, c, size)
	if proc == nil {
		t.Fatalf("no process for node %s", victim.ID)
	}
	proc.Kill()
	for i, f := range results {
		want := fmt.Sprintf("%d:%x", size, sha256.Sum256(blobBytes(i, size)))
		if d, err := digest.Remote(ctx, f).Get(ctx); err != nil || d != want {
			t.Fatalf("result %d after its node died: %q %v", i, d, err)
		}
	}
}

func TestLostPutSaysWhy(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "1")
	ctx := within(t, connect(t, c), 2*time.Minute)
	const size = 2 << 20
	f, err := shoal.Put(ctx, blobBytes(1, size))
	if err != nil {
		t.Fatal(err)
	}
	victim, proc := holderOf(t, ctx, c, size)
	proc.Kill()
	_, err = digest.Remote(ctx, f).Get(ctx)
	if !errors.Is(err, shoal.ErrObjectLost) {
		t.Fatalf("task over a lost Put: %v", err)
	}
	for _, want := range []string{f.ID()[8:16], victim.ID[:12], "Put"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

var whereLedger = shoal.Method1(ledgerClass, "Where", func(ctx context.Context, l *ledger, d time.Duration) (string, error) {
	time.Sleep(d)
	return shoal.NodeID(ctx), nil
})

func TestActorRestartsWithItsCallsWhenItsNodeDies(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "2")
	ctx := within(t, connect(t, c), 2*time.Minute)
	st, _ := shoal.ClusterStatus(ctx)
	first := st.Nodes[0].ID
	durable, err := ledgerClass.New(ctx, 0, shoal.WithNodeAffinity(first, true), shoal.WithMaxRestarts(-1), shoal.WithMaxTaskRetries(-1))
	if err != nil {
		t.Fatal(err)
	}
	fragile, err := ledgerClass.New(ctx, 0, shoal.WithActorName("fragile"), shoal.WithNodeAffinity(first, false))
	if err != nil {
		t.Fatal(err)
	}
	if where, err := whereLedger.Remote(ctx, durable, time.Duration(0)).Get(ctx); err != nil || where != first {
		t.Fatalf("durable actor on %q (%v), want %s", where, err, first)
	}
	if err := fragile.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	var calls []*shoal.Future[string]
	for range 40 {
		calls = append(calls, whereLedger.Remote(ctx, durable, 20*time.Millisecond))
	}
	fragileCall := slowRecord.Remote(ctx, fragile, time.Hour)
	time.Sleep(100 * time.Millisecond) // some calls done, one running, the rest queued
	c.NodeProc(first).Kill()
	moved := 0
	for i, f := range calls {
		where, err := f.Get(ctx)
		if err != nil {
			t.Fatalf("call %d of the restartable actor: %v", i, err)
		}
		if where != first {
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("no call ran on the restarted actor")
	}
	_, err = fragileCall.Get(ctx)
	if !errors.Is(err, shoal.ErrActorDied) || !strings.Contains(err.Error(), `"fragile"`) || !strings.Contains(err.Error(), first[:12]) {
		t.Fatalf("call of the actor that may not restart: %v", err)
	}
}

func TestDrainMovesWorkAndObjects(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "2")
	ctx := within(t, connect(t, c), 2*time.Minute)
	st, _ := shoal.ClusterStatus(ctx)
	victim := st.Nodes[0].ID
	onVictim := shoal.WithNodeAffinity(victim, true)
	// Work running on the node, an object only it holds, an actor living there.
	running := sleepThen.With(onVictim).Remote(ctx, 300*time.Millisecond, 5)
	stored := blob.With(onVictim).Remote(ctx, 3, 1<<20)
	if _, err := stored.Get(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := ledgerClass.New(ctx, 0, shoal.WithNodeAffinity(victim, true), shoal.WithMaxRestarts(1))
	if err != nil {
		t.Fatal(err)
	}
	if where, err := whereLedger.Remote(ctx, h, time.Duration(0)).Get(ctx); err != nil || where != victim {
		t.Fatalf("actor on %q, %v", where, err)
	}
	proc := c.NodeProc(victim)
	rep, err := shoal.Drain(ctx, victim, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.TasksMoved != 0 || rep.ObjectsMoved < 1 || rep.ActorsMoved != 1 {
		t.Fatalf("drain report %+v", rep)
	}
	if v, err := running.Get(ctx); err != nil || v != 5 {
		t.Fatalf("task running during the drain: %d %v", v, err)
	}
	select {
	case <-proc.Exited():
	case <-time.After(20 * time.Second):
		t.Fatal("the drained node did not exit")
	}
	// The object moved (not rebuilt: its node is gone and it is read again).
	if d, err := digest.Remote(ctx, stored).Get(ctx); err != nil || !strings.HasPrefix(d, fmt.Sprint(1<<20)+":") {
		t.Fatalf("object after the drain: %q %v", d, err)
	}
	if where, err := whereLedger.Remote(ctx, h, time.Duration(0)).Get(ctx); err != nil || where == victim {
		t.Fatalf("actor after the drain on %q, %v", where, err)
	}
	st, _ = shoal.ClusterStatus(ctx)
	for _, n := range st.Nodes {
		if n.ID == victim && n.Alive {
			t.Fatal("the drained node is still a member")
		}
	}
	for _, n := range st.Nodes {
		if n.Alive {
			if _, err := shoal.Drain(ctx, n.ID, time.Second); err == nil || !strings.Contains(err.Error(), "only node left") {
				t.Fatalf("draining the last node: %v", err)
			}
		}
	}
}

func TestHeadRestartMidJob(t *testing.T) {
	bin := mustBinary(t)
	dir := t.TempDir()
	state := []string{"--state-dir", dir + "/state", "--recovery-window", "20s"}
	c, err := clustertest.Start(context.Background(), clustertest.Options{Binary: bin, Dir: dir, Nodes: 2, NodeArgs: []string{"--cpus", "2"}, HeadArgs: state})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	ctx := within(t, connect(t, c, shoal.WithReconnect(time.Minute)), 3*time.Minute)
	small, err := shoal.Put(ctx, "kept by its owner")
	if err != nil {
		t.Fatal(err)
	}
	big, err := shoal.Put(ctx, blobBytes(9, 2<<20))
	if err != nil {
		t.Fatal(err)
	}
	stored := blob.Remote(ctx, 4, 1<<20)
	if _, err := stored.Get(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 200
	futs := make([]*shoal.Future[int], n)
	for i := range futs {
		futs[i] = sleepThen.Remote(ctx, 20*time.Millisecond, i)
	}
	if _, _, err := shoal.Wait(ctx, futs, 20, -1); err != nil {
		t.Fatal(err)
	}
	if err := c.RestartHead(ctx, state...); err != nil {
		t.Fatal(err)
	}
	requireValues(t, ctx, futs, identity)
	if s, err := small.Get(ctx); err != nil || s != "kept by its owner" {
		t.Fatalf("small Put after the restart: %q %v", s, err)
	}
	// Objects on nodes are read by tasks after the restart (their copies
	// were reported by the nodes and claimed by their owner).
	for name, f := range map[string]*shoal.Future[[]byte]{"big Put": big, "stored result": stored} {
		if d, err := digest.Remote(ctx, f).Get(ctx); err != nil || d == "" {
			t.Fatalf("%s after the restart: %q %v", name, d, err)
		}
	}
	if v, err := square.Remote(ctx, 12).Get(ctx); err != nil || v != 144 {
		t.Fatalf("new task after the restart: %d %v", v, err)
	}
}

func TestNodeKilledMidFanOut(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "2")
	ctx := within(t, connect(t, c), 2*time.Minute)
	const n = 1000
	futs := make([]*shoal.Future[int], n)
	for i := range futs {
		futs[i] = sleepThen.Remote(ctx, 5*time.Millisecond, i)
	}
	if _, _, err := shoal.Wait(ctx, futs, n/4, -1); err != nil {
		t.Fatal(err)
	}
	c.Nodes[0].Kill()
	if _, err := c.AddNode(ctx, "--cpus", "2"); err != nil {
		t.Fatal(err)
	}
	vals, err := shoal.GetAll(ctx, futs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if v != i {
			t.Fatalf("task %d returned %d", i, v)
		}
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TasksByState["retried"] == 0 {
		t.Fatal("no task was retried: the killed node ran nothing?")
	}
}

// sleepWhere marks its start with a file in dir, sleeps d, then says which
// node ran it (its executor's node).
var sleepWhere = shoal.Func3("test.sleepWhere", func(_ context.Context, dir string, d time.Duration, i int) (string, error) {
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("started-%d-%d", i, os.Getpid())), nil, 0o644); err != nil {
		return "", err
	}
	time.Sleep(d)
	return fmt.Sprintf("%d@%s", i, os.Getenv("SHOAL_NODE_ID")), nil
})

// TestLateResultFromDeadNodeIsIgnored: a node is frozen (SIGSTOP of it and
// its executors) while its tasks run, declared dead, and its tasks run
// again elsewhere; when it thaws, its executors finish and answer. Those
// late answers must change nothing: every result is the retry's, counted
// once, and the node comes back only under a new identity.
func TestLateResultFromDeadNodeIsIgnored(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "2")
	ctx := within(t, connect(t, c), 2*time.Minute)
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim, survivor := st.Nodes[0].ID, st.Nodes[1].ID
	dir := t.TempDir()
	const n = 4
	futs := make([]*shoal.Future[string], n)
	for i := range futs {
		futs[i] = sleepWhere.With(shoal.WithNodeAffinity(victim, true)).Remote(ctx, dir, 3*time.Second, i)
	}
	// Freeze the victim once its tasks run (its two CPUs are busy).
	for {
		started, _ := filepath.Glob(filepath.Join(dir, "started-*"))
		if len(started) >= 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d tasks started on the victim, want 2", len(started))
		case <-time.After(20 * time.Millisecond): // polling files: no event to wait on
		}
	}
	proc := c.NodeProc(victim)
	if err := proc.Freeze(); err != nil {
		t.Fatal(err)
	}
	thawed := false
	defer func() {
		if !thawed {
			proc.Thaw()
		}
	}()
	if err := c.WaitFor(ctx, 20*time.Second, func(r *pb.StatusReply) bool {
		for _, nd := range statusNodes(r) {
			if nd.ID == victim {
				return !nd.Alive
			}
		}
		return false
	}, "the frozen node to be declared dead"); err != nil {
		t.Fatal(err)
	}
	vals, err := shoal.GetAll(ctx, futs)
	if err != nil {
		t.Fatal(err)
	}
	want := func(i int) string { return fmt.Sprintf("%d@%s", i, survivor) }
	for i, v := range vals {
		if v != want(i) {
			t.Fatalf("task %d returned %q, want %q (run on the surviving node)", i, v, want(i))
		}
	}
	before, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Thaw: the victim's executors finish their sleeps and answer late; the
	// node finds itself declared dead and registers anew.
	oldExecutors := proctree.Children(proc.Pid())
	if len(oldExecutors) == 0 {
		t.Fatal("the victim node has no executor process")
	}
	if err := proc.Thaw(); err != nil {
		t.Fatal(err)
	}
	thawed = true
	if err := c.WaitFor(ctx, 30*time.Second, func(r *pb.StatusReply) bool {
		alive := 0
		for _, nd := range statusNodes(r) {
			if nd.Alive {
				if nd.ID == victim {
					return false // back under its old identity
				}
				alive++
			}
		}
		return alive == 2
	}, "the thawed node to register under a new identity"); err != nil {
		t.Fatal(err)
	}
	// The old executors end once they have answered (or found their
	// session gone); after that no late answer can still arrive.
	for _, pid := range oldExecutors {
		for proctree.Running(pid) {
			select {
			case <-ctx.Done():
				t.Fatalf("executor %d of the thawed node did not end", pid)
			case <-time.After(20 * time.Millisecond): // polling a process's state: no event to wait on
			}
		}
	}
	after, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{"finished", "failed", "retried"} {
		if after.TasksByState[state] != before.TasksByState[state] {
			t.Errorf("%s tasks: %d before the thaw, %d after", state, before.TasksByState[state], after.TasksByState[state])
		}
	}
	if before.TasksByState["retried"] < 2 {
		t.Errorf("%d tasks retried, want the victim's running tasks (2 or more)", before.TasksByState["retried"])
	}
	for i, f := range futs {
		if v, err := f.Get(ctx); err != nil || v != want(i) {
			t.Fatalf("task %d after the thaw: %q, %v", i, v, err)
		}
	}
}

// statusNodes is the nodes of a status report as the shoal package
// describes them.
func statusNodes(r *pb.StatusReply) []shoal.NodeInfo {
	var out []shoal.NodeInfo
	for _, n := range r.Nodes {
		out = append(out, shoal.NodeInfo{ID: hex.EncodeToString(n.NodeId), Alive: n.Alive, StoreBytes: n.StoreBytes, DataAddr: n.DataAddr})
	}
	return out
}
