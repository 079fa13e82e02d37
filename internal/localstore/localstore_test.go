package localstore

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/objstore"
	"github.com/shoal-dev/shoal/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serveStore serves a 64 MiB store with shared memory (which does not
// spill) on a local store socket, until the test ends.
func serveStore(t *testing.T) (*objstore.Store, string) {
	return serveStoreConfig(t, objstore.Config{MemoryBytes: 64 << 20, DiskBytes: objstore.NoSpill})
}

// serveStoreConfig serves a store of cfg, with shared memory.
func serveStoreConfig(t *testing.T, cfg objstore.Config) (*objstore.Store, string) {
	t.Helper()
	cfg.SharedMemory, cfg.Logger = true, slog.New(slog.DiscardHandler)
	st, err := objstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := &Server{Store: st, Token: "tok", Logger: slog.New(slog.DiscardHandler)}
	addr, err := srv.Listen()
	if err != nil {
		t.Skipf("no local store here: %v", err)
	}
	t.Cleanup(srv.Close)
	return st, addr
}

func TestReadInPlaceAndLetGoOnClose(t *testing.T) {
	st, addr := serveStore(t)
	if _, err := Dial(context.Background(), addr, "wrong"); err == nil {
		t.Fatal("a reader with the wrong token got in")
	}
	cl, err := Dial(context.Background(), addr, "tok")
	if err != nil {
		t.Fatal(err)
	}
	g := ids.NewGenerator()
	id, missing := g.Next(), g.Next()
	want := bytes.Repeat([]byte("shoal"), 1<<20)
	if _, err := st.Put(id, want); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := cl.Acquire(missing); ok || err != nil {
		t.Fatalf("Acquire of a missing object: ok %v, %v", ok, err)
	}
	got, release, ok, err := cl.Acquire(id)
	if !ok || err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Acquire: ok %v, %v, equal %v", ok, err, bytes.Equal(got, want))
	}
	got2, release2, ok, _ := cl.Acquire(id)
	if !ok || &got2[0] != &got[0] {
		t.Fatal("a second Acquire is not the same memory")
	}
	release2()
	// Deleted while the reader pins it: the memory stays, and is freed
	// when the reader lets go, here by going away.
	live := st.Arena().Stats().Live
	st.Delete(id)
	if st.Arena().Stats().Live != live || !bytes.Equal(got, want) {
		t.Fatal("a pinned object's memory went on Delete")
	}
	_ = release // never called: Close lets go
	cl.Close()
	testwait.For(t, "the closed reader's pins to be let go", func() bool { return st.Arena().Stats().Live == live-1 })
}

// dialStore serves a store and connects a client to it (closed by the
// test's end).
func dialStore(t *testing.T) (*objstore.Store, *Client) {
	st, addr := serveStore(t)
	cl, err := Dial(context.Background(), addr, "tok")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return st, cl
}

// A PUT copies an object's parts from the writer's memory into the store
// (here the writer is this process); a second PUT of it is a no-op; an
// object the store cannot take is refused (the writer then uses the data
// plane, which says why), and the connection serves on.
func TestPutCopiesFromTheWritersMemory(t *testing.T) {
	st, cl := dialStore(t)
	g := ids.NewGenerator()
	parts := [][]byte{bytes.Repeat([]byte("head"), 1<<18), nil, bytes.Repeat([]byte("body"), 3<<18), []byte("tail")}
	want := bytes.Join(parts, nil)
	id := g.Next()
	if ok, err := cl.Put(id, parts); !ok || err != nil {
		t.Fatalf("Put: ok %v, %v", ok, err)
	}
	got, release, err := st.Acquire(id)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("stored %d bytes (%v), want the %d bytes put", len(got), err, len(want))
	}
	release()
	if ok, err := cl.Put(id, parts); !ok || err != nil {
		t.Fatalf("a second Put of the object: ok %v, %v", ok, err)
	}
	huge := make([]byte, 65<<20) // over the store's 64 MiB, which does not spill
	if ok, err := cl.Put(g.Next(), [][]byte{huge}); ok || err != nil {
		t.Fatalf("Put of more than the store holds: ok %v, %v; want refused, no error", ok, err)
	}
	// Still usable after a refusal.
	small := g.Next()
	if ok, err := cl.Put(small, [][]byte{[]byte("x")}); !ok || err != nil {
		t.Fatalf("Put after a refusal: ok %v, %v", ok, err)
	}
	if got, release, err := st.Acquire(small); err != nil || string(got) != "x" {
		t.Fatalf("stored %q, %v", got, err)
	} else {
		release()
	}
}

// A PUT of more parts than one process_vm_readv takes (IOV_MAX) is copied
// whole and in order; one of more parts than a PUT allows is refused (the
// writer uses the data plane).
func TestPutOfManyParts(t *testing.T) {
	st, cl := dialStore(t)
	g := ids.NewGenerator()
	for _, n := range []int{maxIovecs - 1, maxIovecs, maxIovecs + 1, 3*maxIovecs + 17, maxPutParts} {
		parts := make([][]byte, n)
		for i := range parts {
			parts[i] = bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 1+i%37)
		}
		want := bytes.Join(parts, nil)
		id := g.Next()
		if ok, err := cl.Put(id, parts); !ok || err != nil {
			t.Fatalf("Put of %d parts: ok %v, %v", n, ok, err)
		}
		got, release, err := st.Acquire(id)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d parts: stored %d bytes (%v), want the %d bytes put", n, len(got), err, len(want))
		}
		release()
	}
	if ok, err := cl.Put(g.Next(), make([][]byte, maxPutParts+1)); ok || err != nil {
		t.Fatalf("Put of %d empty parts: ok %v, %v; want refused", maxPutParts+1, ok, err)
	}
	tooMany := make([][]byte, maxPutParts+1)
	for i := range tooMany {
		tooMany[i] = []byte{1}
	}
	if ok, err := cl.Put(g.Next(), tooMany); ok || err != nil {
		t.Fatalf("Put of %d parts: ok %v, %v; want refused, no error", len(tooMany), ok, err)
	}
}

// Two reads of one object can pin two copies of it (it was spilled and
// evicted while the first read held it, then restored elsewhere): letting
// go of the first lets go of that copy, not of the one the second read
// still uses.
func TestReleaseLetsGoOfItsOwnCopy(t *testing.T) {
	st, addr := serveStoreConfig(t, objstore.Config{MemoryBytes: 4 << 20, DiskBytes: 64 << 20, SpillDir: t.TempDir()})
	cl, err := Dial(context.Background(), addr, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	g := ids.NewGenerator()
	x, y := g.Next(), g.Next()
	want := bytes.Repeat([]byte("x"), 2<<20)
	if _, err := st.Put(x, want); err != nil {
		t.Fatal(err)
	}
	first, releaseFirst, ok, err := cl.Acquire(x)
	if !ok || err != nil {
		t.Fatalf("Acquire: %v %v", ok, err)
	}
	if _, err := st.Put(y, bytes.Repeat([]byte("y"), 3<<20)); err != nil { // (x goes to disk; its pinned copy stays)
		t.Fatal(err)
	}
	if u := st.Usage(); u.PinnedBytes < 2<<20 {
		t.Fatalf("x was not evicted while pinned: %+v", u)
	}
	st.Delete(y)
	second, releaseSecond, ok, err := cl.Acquire(x) // restored: another copy
	if !ok || err != nil {
		t.Fatalf("Acquire after the eviction: %v %v", ok, err)
	}
	if &first[0] == &second[0] {
		t.Fatal("the second read got the first copy: nothing to test")
	}
	releaseFirst()
	testwait.For(t, "the first copy to go back to the arena", func() bool { return st.Usage().PinnedBytes == 0 })
	// The second copy is still pinned: filling the store spills and evicts
	// x again, without reusing the memory the second read holds.
	if _, err := st.Put(g.Next(), bytes.Repeat([]byte("z"), 3<<20)); err != nil {
		t.Fatal(err)
	}
	if u := st.Usage(); u.PinnedBytes < 2<<20 {
		t.Fatalf("the second read's copy is no longer pinned after the first read let go: %+v", u)
	}
	if !bytes.Equal(second, want) {
		t.Fatal("the second read's bytes changed")
	}
	releaseSecond()
}
