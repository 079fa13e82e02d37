package kubernetes

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/shoal-dev/shoal/autoscaler"
)

func TestListMapsPodStates(t *testing.T) {
	waiting := func(reason, msg string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: ContainerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
	}
	terminated := func(reason string, code int32) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: ContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}}
	}
	created := metav1.NewTime(time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC))
	tests := []struct {
		name   string
		status corev1.PodStatus
		// deleting sets a deletion timestamp.
		deleting bool
		want     autoscaler.InstanceState
		reason   []string // substrings of Instance.Reason; nil: empty
	}{
		{name: "just created", status: corev1.PodStatus{}, want: autoscaler.InstancePending},
		{name: "container creating", status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{waiting("ContainerCreating", "")}}, want: autoscaler.InstancePending},
		{name: "unschedulable", status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}}},
			want: autoscaler.InstancePending, reason: []string{"Unschedulable", "Insufficient nvidia.com/gpu"}},
		{name: "first image pull error", status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{waiting("ErrImagePull", "registry timeout")}},
			want: autoscaler.InstancePending, reason: []string{"ErrImagePull", "registry timeout"}},
		{name: "image pull back-off", status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{waiting("ImagePullBackOff", `Back-off pulling image "registry.example/shoal:1.0"`)}},
			want: autoscaler.InstanceFailed, reason: []string{"container shoal-node", "ImagePullBackOff", "Back-off pulling image"}},
		{name: "init container cannot pull", status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "fetch-model", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}},
			want: autoscaler.InstanceFailed, reason: []string{"container fetch-model", "ImagePullBackOff"}},
		{name: "token Secret missing", status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{waiting("CreateContainerConfigError", `secret "shoal-token" not found`)}},
			want: autoscaler.InstanceFailed, reason: []string{"CreateContainerConfigError", `secret "shoal-token" not found`}},
		{name: "running", status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerName, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
			want: autoscaler.InstanceRunning},
		{name: "crash looping", status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerName,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, Message: "joining the cluster: unauthenticated"}}}}},
			want: autoscaler.InstanceFailed, reason: []string{"CrashLoopBackOff", "Error (exit code 1)", "unauthenticated"}},
		{name: "OOM killed", status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{terminated("OOMKilled", 137)}},
			want: autoscaler.InstanceFailed, reason: []string{"container shoal-node: OOMKilled (exit code 137)"}},
		{name: "evicted", status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."},
			want: autoscaler.InstanceFailed, reason: []string{"Evicted: The node was low on resource: memory."}},
		{name: "failed without detail", status: corev1.PodStatus{Phase: corev1.PodFailed},
			want: autoscaler.InstanceFailed, reason: []string{"pod Failed"}},
		{name: "exited", status: corev1.PodStatus{Phase: corev1.PodSucceeded,
			ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0)}},
			want: autoscaler.InstanceFailed, reason: []string{"exited on its own", "Completed (exit code 0)"}},
		{name: "phase unknown", status: corev1.PodStatus{Phase: corev1.PodUnknown},
			want: autoscaler.InstancePending, reason: []string{"stopped reporting"}},
		{name: "being deleted", deleting: true, status: corev1.PodStatus{Phase: corev1.PodRunning},
			want: autoscaler.InstanceTerminating},
		{name: "being deleted after failing", deleting: true, status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"},
			want: autoscaler.InstanceTerminating},
	}
	var objs []runtime.Object
	for _, tc := range tests {
		pod := nodePod(testNS, "pod-"+strings.ReplaceAll(tc.name, " ", "-"), testCluster, "cpu")
		pod.CreationTimestamp = created
		pod.Status = tc.status
		if tc.deleting {
			pod.DeletionTimestamp = &created
			pod.Finalizers = []string{"example.com/hold"}
		}
		objs = append(objs, pod)
	}
	client := fake.NewClientset(objs...)
	p, _ := newTestProvider(t, client, nil)
	insts, err := p.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	byID := map[string]autoscaler.Instance{}
	for _, in := range insts {
		byID[in.ID] = in
	}
	if len(byID) != len(tests) {
		t.Fatalf("List returned %d instances, want %d", len(byID), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, ok := byID["pod-"+strings.ReplaceAll(tc.name, " ", "-")]
			if !ok {
				t.Fatal("pod not listed")
			}
			if in.State != tc.want || in.Type != "cpu" || !in.LaunchedAt.Equal(created.Time) {
				t.Errorf("instance %+v, want state %v, type cpu, launched at %v", in, tc.want, created.Time)
			}
			if tc.reason == nil && in.Reason != "" {
				t.Errorf("reason %q, want none", in.Reason)
			}
			for _, s := range tc.reason {
				if !strings.Contains(in.Reason, s) {
					t.Errorf("reason %q does not mention %q", in.Reason, s)
				}
			}
		})
	}
}

// TestListReconcilesWithExistingPods: the pods are the state. A provider
// (a restarted head) lists the pods an earlier provider launched and pods
// labelled for its cluster by hand, and none of another cluster's, of
// another namespace or unlabelled.
func TestListReconcilesWithExistingPods(t *testing.T) {
	manual := nodePod(testNS, "hand-made-node", testCluster, "cpu")
	manual.Status.Phase = corev1.PodRunning
	noType := nodePod(testNS, "no-type", testCluster, "")
	client := fake.NewClientset(
		manual, noType,
		nodePod(testNS, "c2-cpu-abcde", "c2", "cpu"),
		nodePod(testNS, "unlabelled", "", ""),
		nodePod("elsewhere", "c1-cpu-fghjk", testCluster, "cpu"),
	)
	earlier, _ := newTestProvider(t, client, nil)
	launched, err := earlier.Launch(context.Background(), autoscaler.NodeType{Name: "gpu", Resources: map[string]float64{"CPU": 1, "GPU": 1}}, 2)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	other, _ := newTestProvider(t, client, func(c *Config) { c.Cluster = "c2" })
	if _, err := other.Launch(context.Background(), autoscaler.NodeType{Name: "gpu", Resources: map[string]float64{"CPU": 1}}, 1); err != nil {
		t.Fatalf("Launch for c2: %v", err)
	}

	restarted, _ := newTestProvider(t, client, nil)
	insts, err := restarted.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := map[string]autoscaler.Instance{}
	for _, in := range insts {
		got[in.ID] = in
	}
	want := map[string]struct {
		typ   string
		state autoscaler.InstanceState
	}{
		"hand-made-node": {"cpu", autoscaler.InstanceRunning},
		"no-type":        {"", autoscaler.InstancePending},
		launched[0].ID:   {"gpu", autoscaler.InstancePending},
		launched[1].ID:   {"gpu", autoscaler.InstancePending},
	}
	if len(got) != len(want) {
		ids := make([]string, 0, len(got))
		for id := range got {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		t.Fatalf("List = %v, want exactly the 4 pods of cluster c1 in namespace %s", ids, testNS)
	}
	for id, w := range want {
		in, ok := got[id]
		if !ok || in.Type != w.typ || in.State != w.state {
			t.Errorf("instance %s = %+v (listed %v), want type %q state %v", id, in, ok, w.typ, w.state)
		}
	}
	if n := countActions(client, "list"); n != 1 {
		t.Errorf("List made %d list calls, want 1", n)
	}
}
