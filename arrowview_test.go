package shoal_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shoal-dev/shoal"
	_ "github.com/shoal-dev/shoal/arrowcodec"
)

// An Arrow batch a future's Get returned in place (a view of the node's
// shared memory) stays valid while the program can reach it, or any array
// of it, even after its future is released and collected: the node keeps
// the object's memory pinned until the garbage collector finds the batch's
// buffers unreachable, then lets it go. (Before, the memory went with the
// future, and a column kept past it read whatever the store put there
// next.)
func TestArrowValueOutlivesItsFuture(t *testing.T) {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(1), shoal.WithCPUsPerNode(1))
	if err != nil {
		t.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	ctx = within(t, ctx, time.Minute)
	const rows = 1 << 19 // (4 MiB of int64: stored, not inline)
	b := array.NewInt64Builder(memory.DefaultAllocator)
	for i := range rows {
		b.Append(int64(i) * 7)
	}
	col := b.NewArray()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	f, err := shoal.Put(ctx, arrow.RecordBatch(array.NewRecordBatch(schema, []arrow.Array{col}, rows)))
	if err != nil {
		t.Fatal(err)
	}
	pinned := func() int64 { return pinnedBytes(t, ctx) }
	kept := func() *array.Int64 {
		rec, err := f.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Column(0).(*array.Int64) // (the batch itself is dropped)
	}()
	f.Release()
	f = nil
	for range 3 {
		runtime.GC()
	}
	for deadline := time.Now().Add(20 * time.Second); pinned() < rows*8; {
		if time.Now().After(deadline) {
			t.Fatalf("the object's memory is not pinned by the column kept of it (%d bytes pinned)", pinned())
		}
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	// Other objects through the store meanwhile may take freed memory.
	for i := range 8 {
		g, err := shoal.Put(ctx, make([]byte, 4<<20))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Get(ctx); err != nil {
			t.Fatal(i, err)
		}
		g.Release()
	}
	for i := range rows {
		if kept.Value(i) != int64(i)*7 {
			t.Fatalf("row %d of the column kept past its future reads %d, want %d", i, kept.Value(i), int64(i)*7)
		}
	}
	runtime.KeepAlive(kept)
	kept = nil
	for deadline := time.Now().Add(20 * time.Second); pinned() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still pinned once nothing reaches the batch", pinned())
		}
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}
