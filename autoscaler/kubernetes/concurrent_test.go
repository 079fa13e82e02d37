package kubernetes

import (
	"context"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
)

// TestConcurrentUse: the reconcile loop may list while a launch and a
// terminate are under way (run with -race).
func TestConcurrentUse(t *testing.T) {
	client := fake.NewClientset()
	p, _ := newTestProvider(t, client, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			insts, err := p.Launch(ctx, cpuType, 3)
			if err != nil {
				t.Errorf("Launch: %v", err)
				return
			}
			if _, err := p.List(ctx); err != nil {
				t.Errorf("List: %v", err)
			}
			if err := p.Terminate(ctx, []string{insts[0].ID}); err != nil {
				t.Errorf("Terminate: %v", err)
			}
		})
	}
	wg.Wait()
	if n := len(listPods(t, client, testNS)); n != 8 {
		t.Errorf("%d pods left, want 12 launched - 4 terminated = 8", n)
	}
}
