package shoal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/bench"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// blob makes size deterministic bytes that depend on seed.
func blobBytes(seed, size int) []byte {
	b := make([]byte, size)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

var blob = shoal.Func2("test.blob", func(_ context.Context, seed, size int) ([]byte, error) { return blobBytes(seed, size), nil })

func TestObjectsSpillAndRestore(t *testing.T) {
	const memory = 32 << 20
	c := startCluster(t, 1, "--cpus", "2", "--object-store-memory", fmt.Sprint(memory), "--object-store-disk", fmt.Sprint(1<<30))
	ctx := within(t, connect(t, c), 3*time.Minute)
	// 3x the memory budget in live task results and Puts.
	const n, size = 24, 4 << 20
	var futs []*shoal.Future[[]byte]
	for i := range n / 2 {
		futs = append(futs, blob.Remote(ctx, i, size))
	}
	for i := n / 2; i < n; i++ {
		f, err := shoal.Put(ctx, blobBytes(i, size))
		if err != nil {
			t.Fatal(err)
		}
		futs = append(futs, f)
	}
	for i, f := range futs {
		want := blobBytes(i, size)
		got, err := f.Get(ctx)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("object %d read back wrong: %v", i, err)
		}
		// And read by a task on the node, from the store.
		d, err := digest.Remote(ctx, f).Get(ctx)
		if wantD := fmt.Sprintf("%d:%x", size, sha256.Sum256(want)); err != nil || d != wantD {
			t.Fatalf("object %d in a task: %q %v", i, d, err)
		}
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u := st.Nodes[0].Store; u.Spills == 0 || u.Restores == 0 {
		t.Fatalf("no spilling happened: %v", u)
	}
	for _, f := range futs {
		f.Release()
	}
	err = c.WaitFor(ctx, 30*time.Second, func(st *pb.StatusReply) bool {
		u := st.Nodes[0].Store
		return u != nil && u.SpillFileBytes == 0 && u.SpillFiles == 0 && st.Nodes[0].StoreObjects == 0
	}, "the node's spill files to be gone after the objects were released")
	if err != nil {
		t.Fatal(err)
	}
}

func TestFullObjectStoreSaysWhy(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "1", "--object-store-memory", fmt.Sprint(16<<20), "--object-store-disk", fmt.Sprint(32<<20))
	ctx := within(t, connect(t, c), time.Minute)
	start := time.Now()
	var err error
	var kept []*shoal.Future[[]byte] // live objects fill the store
	for i := 0; i < 100 && err == nil; i++ {
		var f *shoal.Future[[]byte]
		if f, err = shoal.Put(ctx, blobBytes(i, 4<<20)); err == nil {
			kept = append(kept, f)
		}
	}
	defer func() {
		for _, f := range kept {
			f.Release()
		}
	}()
	if err == nil {
		t.Fatal("48 MiB of budgets took 400 MiB of objects")
	}
	for _, want := range []string{"object store full", "memory holds", "disk holds", "--object-store-memory", "--object-store-disk", "Release"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("took %v to fail", d)
	}
	// A task whose result does not fit fails the same way, naming the task.
	_, err = blob.With(shoal.WithMaxRetries(0)).Remote(ctx, 1, 8<<20).Get(ctx)
	if err == nil || !strings.Contains(err.Error(), "object store full") || !strings.Contains(err.Error(), "test.blob") {
		t.Fatalf("task result into a full store: %v", err)
	}
	if errors.Is(err, shoal.ErrTaskPanicked) {
		t.Fatal("reported as a panic")
	}
}

func TestNoMemoryGrowthAcrossCycles(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "2")
	ctx := within(t, connect(t, c), 3*time.Minute)
	const batch = 2000
	rss := func() int64 {
		var total int64
		for _, p := range []*clustertest.Proc{c.Head, c.Nodes[0]} {
			r, err := bench.TreeRSS(p.Pid())
			if err != nil {
				t.Fatal(err)
			}
			total += r
		}
		return total
	}
	// Warm up until resident memory levels off (the processes' heaps reach
	// their working size: executors and the head collect only past a 64 MiB
	// ballast); a leak never levels off, and shows in the comparison below.
	var start int64
	for round := 0; round < 8; round++ {
		if err := bench.Cycles(ctx, 10*batch, batch); err != nil {
			t.Fatal(err)
		}
		prev := start
		start = rss()
		if prev > 0 && float64(start) < 1.03*float64(prev) {
			break
		}
	}
	if err := bench.Cycles(ctx, 50*batch, batch); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitFor(ctx, 10*time.Second, func(st *pb.StatusReply) bool { return st.Objects == 0 }, "every object to be freed"); err != nil {
		t.Fatal(err)
	}
	end := rss()
	t.Logf("head+node+executor resident memory: %.1f MB -> %.1f MB over 100,000 cycles", float64(start)/(1<<20), float64(end)/(1<<20))
	if raceEnabled {
		// Every object was still freed (above); memory is checked by the
		// run without the detector, as CI runs it.
		t.Log("race detector on: its bookkeeping grows with every goroutine, so resident memory is not compared")
		return
	}
	if float64(end) > 1.2*float64(start) {
		t.Fatalf("resident memory grew from %d to %d bytes (more than 20%%)", start, end)
	}
}

// TestPutWaitsForFirstNode: a large Put on a cluster with no node yet (an
// autoscaler launching its first, say) waits for one instead of failing.
func TestPutWaitsForFirstNode(t *testing.T) {
	c, err := clustertest.Start(context.Background(), clustertest.Options{Binary: mustBinary(t), Nodes: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	ctx := within(t, connect(t, c), time.Minute)
	big := make([]byte, 1<<20)
	big[12345] = 7
	type put struct {
		ref *shoal.Future[[]byte]
		err error
	}
	done := make(chan put, 1)
	go func() {
		ref, err := shoal.Put(ctx, big)
		done <- put{ref, err}
	}()
	select {
	case p := <-done:
		t.Fatalf("Put returned before any node joined: %v", p.err)
	case <-time.After(300 * time.Millisecond): // a bound on "returned early", not a wait for a condition
	}
	if _, err := c.AddNode(ctx); err != nil {
		t.Fatal(err)
	}
	p := <-done
	if p.err != nil {
		t.Fatal(p.err)
	}
	got, err := p.ref.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(big) || got[12345] != 7 {
		t.Fatalf("got %d bytes back, byte 12345 = %d", len(got), got[12345])
	}
	p.ref.Release()
}

var (
	smallInline = shoal.Func1("test.small_inline", func(_ context.Context, i int) ([]byte, error) { return []byte(fmt.Sprint("small ", i)), nil })
	smallStored = shoal.Func1("test.small_stored", func(_ context.Context, i int) ([]byte, error) {
		return []byte(fmt.Sprint("small ", i)), nil
	}).StoreResults()
)

// A function registered with StoreResults leaves even its small results in
// its node's store (where a shuffle's reducers read them in ranges),
// instead of sending them inline to the head and the caller.
func TestStoreResultsKeepsSmallResultsOnTheNode(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "2") // (alone: no other test's objects come and go)
	ctx := within(t, connect(t, c), time.Minute)
	stored := func() int64 {
		st, err := shoal.ClusterStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, nd := range st.Nodes {
			n += nd.StoreObjects
		}
		return n
	}
	for _, tc := range []struct {
		f          *shoal.Func[[]byte]
		wantStored bool
	}{{smallInline, false}, {smallStored, true}} {
		before := stored()
		var futs []*shoal.Future[[]byte]
		for i := range 10 {
			futs = append(futs, tc.f.Remote(ctx, i))
		}
		for i, f := range futs {
			if v, err := f.Get(ctx); err != nil || string(v) != fmt.Sprint("small ", i) {
				t.Fatalf("%s: result %d: %q, %v", tc.f.Name(), i, v, err)
			}
		}
		// (node stores report in heartbeats: wait for the count to settle)
		err := c.WaitFor(ctx, 10*time.Second, func(*pb.StatusReply) bool { return (stored()-before >= 10) == tc.wantStored }, "the store counts")
		if err != nil {
			t.Errorf("%s: %d more objects in the node stores after 10 small results (want stored: %v)", tc.f.Name(), stored()-before, tc.wantStored)
		}
		for _, f := range futs {
			f.Release()
		}
	}
}

// gathered returns blobs of the given sizes as one []byte result, handing
// them to its executor as parts (shoal.GatherResult).
var gathered = shoal.Func2("test.gathered", func(ctx context.Context, seed int, sizes []int) ([]byte, error) {
	parts := make([][]byte, len(sizes))
	for i, n := range sizes {
		parts[i] = blobBytes(seed+i, n)
	}
	if shoal.GatherResult(ctx, parts, func() {}) {
		return nil, nil
	}
	return bytes.Join(parts, nil), nil
})

// A result given in parts is stored as their concatenation: a large one
// copied from the task's memory by its node (in at most 4096 parts) or
// through the data plane (more), a small one inline; read back by the
// driver and by a task.
func TestGatheredResultIsTheConcatenation(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "1")
	ctx := within(t, connect(t, c), 2*time.Minute)
	sizes := func(n, size int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = size + i%7
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		sizes []int
	}{
		{"inline", []int{3, 0, 40}},
		{"large", []int{1 << 20, 0, 3 << 20, 17}},
		{"many parts", sizes(3000, 300)},
		{"more parts than a local put takes", sizes(5000, 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []byte
			for i, n := range tc.sizes {
				want = append(want, blobBytes(7+i, n)...)
			}
			f := gathered.Remote(ctx, 7, tc.sizes)
			defer f.Release()
			got, err := f.Get(ctx)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(want))
			}
			d, err := digest.Remote(ctx, f).Get(ctx)
			if wantD := fmt.Sprintf("%d:%x", len(want), sha256.Sum256(want)); err != nil || d != wantD {
				t.Fatalf("in a task: %q %v, want %q", d, err, wantD)
			}
		})
	}
}

// A range read in place (ReadRange) stays valid until its own release,
// also when its future is released first: the object leaves the store and
// its memory stays pinned by the range until then (it used to be the
// future's, let go with it under a reader still using it).
func TestReadRangeOutlivesItsFuture(t *testing.T) {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(1), shoal.WithCPUsPerNode(1))
	if err != nil {
		t.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	ctx = within(t, ctx, time.Minute)
	want := blobBytes(3, 4<<20)
	f, err := shoal.Put(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.Get(ctx); err != nil || !bytes.Equal(got, want) { // (the future holds a view of it)
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	data, release, err := shoal.ReadRange(ctx, f, 1<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	pinned := func() int64 { return pinnedBytes(t, ctx) }
	f.Release()
	for deadline := time.Now().Add(20 * time.Second); pinned() < 1<<20; {
		if time.Now().After(deadline) {
			t.Fatal("the released object's memory is not pinned by the range read of it")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !bytes.Equal(data, want[1<<20:2<<20]) {
		t.Fatal("the range changed after its future was released")
	}
	release()
	for deadline := time.Now().Add(20 * time.Second); pinned() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the memory is still pinned after the range's release")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pinnedBytes is what readers pin of the store of ctx's one node.
func pinnedBytes(t *testing.T, ctx context.Context) int64 {
	t.Helper()
	st, err := shoal.ClusterStatus(ctx)
	if err != nil || len(st.Nodes) != 1 {
		t.Fatalf("status: %v", err)
	}
	return st.Nodes[0].PinnedBytes
}
