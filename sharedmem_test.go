package shoal_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/testwait"
)

// Zero-copy reads on a node (issue 14): an executor's Get of an object its
// node holds returns a view of the node's shared memory, with no copy.

// blobOf returns n bytes that depend on seed.
func blobOf(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// readReport is what a reader saw of a blob.
type readReport struct {
	Sum        string
	GetNs      int64
	AnonBefore int64 // private resident memory, bytes
	AnonAfter  int64
	Mapping    string // the mapping the bytes lie in (/proc/self/maps)
}

var (
	makeBlob = shoal.Func2("test.makeBlob", func(_ context.Context, seed, n int) ([]byte, error) { return blobOf(seed, n), nil })
	readBlob = shoal.Method1(twiceClass, "ReadBlob", func(ctx context.Context, _ *twiceActor, fs []*shoal.Future[[]byte]) (readReport, error) {
		var r readReport
		// (Decoded from the argument, the future learns where its object
		// is from the head first: a round trip that is not the read.)
		select {
		case <-fs[0].Done():
		case <-ctx.Done():
			return r, ctx.Err()
		}
		r.AnonBefore = anonRSS()
		start := time.Now()
		b, err := fs[0].Get(ctx)
		r.GetNs = int64(time.Since(start))
		if err != nil {
			return r, err
		}
		r.Sum = fmt.Sprintf("%x", sha256.Sum256(b))
		r.AnonAfter = anonRSS()
		r.Mapping = mappingOf(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
		fs[0].Release()
		return r, nil
	})
)

// anonRSS is this process's private resident memory (RssAnon), in bytes.
func anonRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// mappingOf describes the mapping of this process that holds address p.
func mappingOf(p uintptr) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(sc.Text(), "%x-%x", &lo, &hi); err == nil && p >= lo && p < hi {
			return sc.Text()
		}
	}
	return ""
}

func TestSameNodeGetIsZeroCopy(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "2")
	ctx := within(t, connect(t, c), 2*time.Minute)
	reader := readyTwice(t, ctx)
	const size = 1 << 30
	blob := makeBlob.Remote(ctx, 7, size)
	if _, _, err := shoal.Wait(ctx, []*shoal.Future[[]byte]{blob}, 1, -1); err != nil {
		t.Fatal(err)
	}
	r, err := readBlob.Remote(ctx, reader, []*shoal.Future[[]byte]{blob}).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x", sha256.Sum256(blobOf(7, size))); r.Sum != want {
		t.Fatalf("the reader saw other bytes (sha256 %s, want %s)", r.Sum, want)
	}
	// Zero copy: the bytes lie in the node's shared memory, mapped
	// read-only, and the reader's private memory did not grow by them.
	if !strings.Contains(r.Mapping, "shoal-objstore") || !strings.Contains(r.Mapping, " r--s ") {
		t.Fatalf("the bytes are not in the node's shared memory, mapped read-only: %q", r.Mapping)
	}
	if grew := r.AnonAfter - r.AnonBefore; grew > 64<<20 {
		t.Fatalf("the reader's private memory grew by %d MiB reading a 1 GiB object", grew>>20)
	}
	t.Logf("Get of 1 GiB on the same node: %v; private memory %+d KiB; mapping %s",
		time.Duration(r.GetNs), (r.AnonAfter-r.AnonBefore)>>10, r.Mapping)
}

var holdAndExit = shoal.Method1(twiceClass, "HoldAndExit", func(ctx context.Context, _ *twiceActor, fs []*shoal.Future[[]byte]) (int, error) {
	b, err := fs[0].Get(ctx)
	if err != nil {
		return 0, err
	}
	_ = b[len(b)-1] // a view it never lets go of
	os.Exit(4)
	return 0, nil
})

// An executor that dies while it holds views of the node's memory leaks
// nothing: the node lets go of its pins, and once the object is released
// its memory is free again.
func TestExecutorDyingWithViewsLeaksNothing(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "2")
	ctx := within(t, connect(t, c), time.Minute)
	reader := readyTwice(t, ctx)
	blob := makeBlob.Remote(ctx, 3, 64<<20)
	if _, _, err := shoal.Wait(ctx, []*shoal.Future[[]byte]{blob}, 1, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := holdAndExit.Remote(ctx, reader, []*shoal.Future[[]byte]{blob}).Get(ctx); err == nil {
		t.Fatal("the call that exited its executor succeeded")
	}
	blob.Release()
	testwait.Within(t, 20*time.Second, "the node's shared memory to be free again", func() bool {
		st, err := shoal.ClusterStatus(ctx)
		return err == nil && len(st.Nodes) == 1 && st.Nodes[0].StoreObjects == 0 && st.Nodes[0].SharedBytes == 0 && st.Nodes[0].PinnedBytes == 0
	})
}

var readRangeTask = shoal.Func3("test.readRange", func(ctx context.Context, fs []*shoal.Future[[]byte], off, n int64) (string, error) {
	b, release, err := shoal.ReadRange(ctx, fs[0], off, n)
	if err != nil {
		return "", err
	}
	defer release()
	return fmt.Sprintf("%x", sha256.Sum256(b)), nil
})

// A range of a large object is read without the rest: from the driver, and
// from tasks on the node that holds it (a view) and on another (a ranged
// fetch).
func TestReadRange(t *testing.T) {
	c := sharedCluster(t)
	ctx := within(t, connect(t, c), time.Minute)
	const size = 8 << 20
	want := blobOf(11, size)
	f, err := shoal.Put(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	ranges := []struct{ off, n int64 }{{0, 0}, {0, 1}, {1 << 20, 3 << 20}, {size - 5, 5}, {0, size}}
	for _, r := range ranges {
		b, release, err := shoal.ReadRange(ctx, f, r.off, r.n)
		if err != nil || !bytes.Equal(b, want[r.off:r.off+r.n]) {
			t.Fatalf("driver, range [%d, +%d): %v", r.off, r.n, err)
		}
		release()
	}
	if _, _, err := shoal.ReadRange(ctx, f, size-1, 2); !errors.Is(err, shoal.ErrBadArgument) {
		t.Fatalf("a range past the end: %v", err)
	}
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		for _, r := range ranges {
			got, err := readRangeTask.With(shoal.WithNodeAffinity(n.ID, false)).Remote(ctx, []*shoal.Future[[]byte]{f}, r.off, r.n).Get(ctx)
			if want := fmt.Sprintf("%x", sha256.Sum256(want[r.off:r.off+r.n])); err != nil || got != want {
				t.Fatalf("task on node %s, range [%d, +%d): %v", n.ID, r.off, r.n, err)
			}
		}
	}
}
