package kubernetes

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/shoal-dev/shoal/autoscaler"
)

const (
	testNS      = "shoal"
	testCluster = "c1"
	testHead    = "shoal-head.shoal.svc:7380"
	testImage   = "registry.example/shoal:1.0"
)

// sleepRecorder stands in for Backoff.Sleep: it records the pauses asked
// for and returns at once, so retry tests take no time and assert nothing
// about clocks.
type sleepRecorder struct {
	mu     sync.Mutex
	pauses []time.Duration
}

func (r *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.pauses = append(r.pauses, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *sleepRecorder) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pauses)
}

// testConfig is a valid configuration; mutate changes it per case.
func testConfig(t *testing.T, sleeps *sleepRecorder) Config {
	return Config{
		Namespace:   testNS,
		Cluster:     testCluster,
		HeadAddress: testHead,
		TokenSecret: "shoal-token",
		Image:       testImage,
		Backoff:     Backoff{Sleep: sleeps.sleep},
		Logger:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func newTestProvider(t *testing.T, client *fake.Clientset, mutate func(*Config)) (*Provider, *sleepRecorder) {
	t.Helper()
	sleeps := &sleepRecorder{}
	cfg := testConfig(t, sleeps)
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(client, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p, sleeps
}

// listPods returns the pods in ns straight from the fake's tracker.
func listPods(t *testing.T, client *fake.Clientset, ns string) []corev1.Pod {
	t.Helper()
	obj, err := client.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), ns)
	if err != nil {
		t.Fatalf("listing pods in the tracker: %v", err)
	}
	return obj.(*corev1.PodList).Items
}

// countActions counts the API calls the fake saw with verb on pods.
func countActions(client *fake.Clientset, verb string) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == "pods" {
			n++
		}
	}
	return n
}

// failFirst is a reactor that answers the first len(errs) calls with errs
// (a nil entry lets that call through) and lets later calls through.
func failFirst(errs ...error) k8stesting.ReactionFunc {
	var mu sync.Mutex
	return func(k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) == 0 {
			return false, nil, nil
		}
		err := errs[0]
		errs = errs[1:]
		return err != nil, nil, err
	}
}

// failAlways answers every call with err.
func failAlways(err error) k8stesting.ReactionFunc {
	return func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, err }
}

// nodePod is a pod of cluster with the given node type, as the provider or
// a person would create it.
func nodePod(ns, name, cluster, nodeType string) *corev1.Pod {
	labels := map[string]string{}
	if cluster != "" {
		labels[autoscaler.LabelCluster] = cluster
	}
	if nodeType != "" {
		labels[autoscaler.LabelNodeType] = nodeType
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: ContainerName, Image: testImage}}},
	}
}
