package shoal_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
)

// bundle carries futures and an actor handle inside a value.
type bundle struct {
	Name    string
	Parts   []*shoal.Future[int]
	Counter *shoal.ActorHandle[ledger]
}

var (
	// fanOut returns the futures of the children it started, not their values.
	fanOut = shoal.Func1("test.fanOut", func(ctx context.Context, n int) (bundle, error) {
		b := bundle{Name: "children"}
		for i := range n {
			b.Parts = append(b.Parts, square.Remote(ctx, i))
		}
		return b, nil
	})
	// useBundle reads the futures and calls the actor a bundle carries.
	useBundle = shoal.Func1("test.useBundle", func(ctx context.Context, b bundle) (int, error) {
		sum := 0
		for _, f := range b.Parts {
			v, err := f.Get(ctx)
			if err != nil {
				return 0, err
			}
			sum += v
		}
		if b.Counter != nil {
			if _, err := record.Remote(ctx, b.Counter, sum).Get(ctx); err != nil {
				return 0, err
			}
		}
		return sum, nil
	})
)

func TestFuturesInsideValues(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	t.Run("returned by a task", func(t *testing.T) {
		outer := fanOut.Remote(ctx, 10)
		b, err := outer.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		outer.Release() // the inner futures are borrowed: they outlive it
		for i, f := range b.Parts {
			if v, err := f.Get(ctx); err != nil || v != i*i {
				t.Fatalf("part %d: %d %v", i, v, err)
			}
		}
	})
	t.Run("stored by Put and passed to a task", func(t *testing.T) {
		var parts []*shoal.Future[int]
		for i := range 5 {
			parts = append(parts, square.Remote(ctx, i+1))
		}
		h, err := ledgerClass.New(ctx, 4)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := shoal.Put(ctx, bundle{Name: "stored", Parts: parts, Counter: h})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			p.Release() // only the stored bundle refers to them now
		}
		got, err := useBundle.Remote(ctx, stored).Get(ctx)
		if err != nil || got != 1+4+9+16+25 {
			t.Fatalf("task over the stored bundle: %d %v", got, err)
		}
		// By value, too.
		b, err := stored.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := useBundle.Remote(ctx, b).Get(ctx); err != nil || got != 55 {
			t.Fatalf("task over the bundle by value: %d %v", got, err)
		}
		seen, err := history.Remote(ctx, h).Get(ctx)
		if err != nil || len(seen) != 2 || seen[0] != 55 {
			t.Fatalf("the actor inside the bundle saw %v, %v", seen, err)
		}
	})
}

func TestUnnamedActorEndsWithItsLastHandle(t *testing.T) {
	ctx := within(t, connect(t, sharedCluster(t)), time.Minute)
	base, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ledgerClass.New(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	slow := slowRecord.Remote(ctx, h, 200*time.Millisecond)
	h.Release() // a pending call keeps the actor until it is done
	if v, err := slow.Get(ctx); err != nil || v != 1 {
		t.Fatalf("pending call after release: %d %v", v, err)
	}
	waitActors := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			st, err := shoal.ClusterStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Actors == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d live actors, want %d", st.Actors, want)
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitActors(base.Actors)
	// A handle dropped without Release is collected, and the actor ends.
	func() {
		g, err := gaugeClass.New(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Ready(ctx); err != nil {
			t.Fatal(err)
		}
	}()
	waitActors(base.Actors)
}
