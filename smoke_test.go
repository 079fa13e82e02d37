package shoal_test

import (
	"context"
	"testing"

	"github.com/shoal-dev/shoal"
)

func TestMain(m *testing.M) { shoal.MainForTest(m) }

var square = shoal.Func1("test.square", func(ctx context.Context, x int) (int, error) { return x * x, nil })

func TestSmoke(t *testing.T) {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(2), shoal.WithCPUsPerNode(2))
	if err != nil {
		t.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	f := square.Remote(ctx, 7)
	v, err := f.Get(ctx)
	if err != nil || v != 49 {
		t.Fatalf("got %v %v", v, err)
	}
	futs := make([]*shoal.Future[int], 1000)
	for i := range futs {
		futs[i] = square.Remote(ctx, i)
	}
	vals, err := shoal.GetAll(ctx, futs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if v != i*i {
			t.Fatalf("%d: %d", i, v)
		}
	}
}
