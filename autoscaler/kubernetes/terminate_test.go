package kubernetes

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestTerminate(t *testing.T) {
	deleting := nodePod(testNS, "c1-cpu-ddddd", testCluster, "cpu")
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}
	deleting.Finalizers = []string{"example.com/hold"}
	existing := func() []*corev1.Pod {
		return []*corev1.Pod{
			nodePod(testNS, "c1-cpu-aaaaa", testCluster, "cpu"),
			nodePod(testNS, "c1-cpu-bbbbb", testCluster, "cpu"),
			nodePod(testNS, "c2-cpu-ccccc", "c2", "cpu"),
			nodePod(testNS, "database-0", "", ""),
			deleting.DeepCopy(),
		}
	}
	tests := []struct {
		name    string
		ids     []string
		remain  []string // pods left afterwards
		deletes int      // delete calls made
		errs    []string // substrings of the error; nil: no error
	}{
		{name: "nothing", ids: nil,
			remain: []string{"c1-cpu-aaaaa", "c1-cpu-bbbbb", "c1-cpu-ddddd", "c2-cpu-ccccc", "database-0"}},
		{name: "two running", ids: []string{"c1-cpu-aaaaa", "c1-cpu-bbbbb"}, deletes: 2,
			remain: []string{"c1-cpu-ddddd", "c2-cpu-ccccc", "database-0"}},
		{name: "already gone", ids: []string{"c1-cpu-zzzzz"},
			remain: []string{"c1-cpu-aaaaa", "c1-cpu-bbbbb", "c1-cpu-ddddd", "c2-cpu-ccccc", "database-0"}},
		{name: "already being deleted", ids: []string{"c1-cpu-ddddd"},
			remain: []string{"c1-cpu-aaaaa", "c1-cpu-bbbbb", "c1-cpu-ddddd", "c2-cpu-ccccc", "database-0"}},
		{name: "another cluster's pod and an unrelated pod are left alone",
			ids: []string{"c1-cpu-aaaaa", "c2-cpu-ccccc", "database-0", "c1-cpu-bbbbb"}, deletes: 2,
			remain: []string{"c1-cpu-ddddd", "c2-cpu-ccccc", "database-0"},
			errs:   []string{`deleting pod c2-cpu-ccccc in namespace "shoal": refusing: the pod is labelled shoal.io/cluster="c2", not "c1"`, `deleting pod database-0`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			for _, pod := range existing() {
				if err := client.Tracker().Add(pod); err != nil {
					t.Fatal(err)
				}
			}
			p, _ := newTestProvider(t, client, nil)
			err := p.Terminate(context.Background(), tc.ids)
			switch {
			case tc.errs == nil && err != nil:
				t.Fatalf("Terminate: %v", err)
			case tc.errs != nil:
				if !errors.Is(err, ErrNotOurs) {
					t.Fatalf("Terminate error = %v, want ErrNotOurs", err)
				}
				for _, s := range tc.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
			}
			var names []string
			for _, pod := range listPods(t, client, testNS) {
				names = append(names, pod.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.remain) {
				t.Errorf("pods left: %v, want %v", names, tc.remain)
			}
			if n := countActions(client, "delete"); n != tc.deletes {
				t.Errorf("%d delete calls, want %d", n, tc.deletes)
			}
		})
	}
}

// TestTerminateDeletesTheInstanceListed: the delete carries the UID that
// was read, so a pod recreated under the same name is not the one removed.
func TestTerminateDeletesTheInstanceListed(t *testing.T) {
	client := fake.NewClientset(nodePod(testNS, "c1-cpu-aaaaa", testCluster, "cpu"))
	p, _ := newTestProvider(t, client, nil)
	if err := p.Terminate(context.Background(), []string{"c1-cpu-aaaaa"}); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	for _, a := range client.Actions() {
		if d, ok := a.(interface{ GetDeleteOptions() metav1.DeleteOptions }); ok {
			pre := d.GetDeleteOptions().Preconditions
			if pre == nil || pre.UID == nil || *pre.UID != "uid-c1-cpu-aaaaa" {
				t.Errorf("delete preconditions = %+v, want the UID read", pre)
			}
		}
	}
}
