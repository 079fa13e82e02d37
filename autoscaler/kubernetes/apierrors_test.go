package kubernetes

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/shoal-dev/shoal/autoscaler"
)

var (
	podsResource = schema.GroupResource{Resource: "pods"}
	cpuType      = autoscaler.NodeType{Name: "cpu", Resources: map[string]float64{"CPU": 1}}
)

func rbacDenied(verb string) error {
	return apierrors.NewForbidden(podsResource, "", errors.New(`User "system:serviceaccount:shoal:shoal-head" cannot `+verb+` resource "pods" in API group "" in the namespace "shoal"`))
}

// TestAPIErrors injects API server errors into the fake clientset and checks
// what each operation retries, what it reports and how.
func TestAPIErrors(t *testing.T) {
	const existing = "c1-cpu-aaaaa"
	tests := []struct {
		name string
		// op is "launch" (one pod), "list" or "terminate" (existing).
		op   string
		verb string
		// react answers verb's calls on pods.
		react func(client *fake.Clientset) k8stesting.ReactionFunc
		// calls is how many verb calls are made.
		calls int
		// pods is how many pods exist afterwards.
		pods int
		// is: sentinel matched (nil: success expected); retryable: IsRetryable.
		is        error
		retryable bool
		text      []string
		// serverDelay: every pause honours the API server's Retry-After.
		serverDelay time.Duration
	}{
		{name: "create forbidden by RBAC", op: "launch", verb: "create", calls: 1, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc { return failAlways(rbacDenied("create")) },
			is:    ErrForbidden,
			text:  []string{`creating pod c1-cpu-`, `(node type "cpu") in namespace "shoal"`, `RBAC: the head's service account may not "create" resource "pods" in namespace "shoal"`, "rbac.yaml"}},
		{name: "create over quota", op: "launch", verb: "create", calls: 1, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failAlways(apierrors.NewForbidden(podsResource, "c1-cpu-x", errors.New("exceeded quota: compute, requested: requests.cpu=1, used: requests.cpu=16, limited: requests.cpu=16")))
			},
			is: ErrForbidden, text: []string{`a ResourceQuota in namespace "shoal" is exhausted`}},
		{name: "create refused by Pod Security", op: "launch", verb: "create", calls: 1, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failAlways(apierrors.NewForbidden(podsResource, "c1-cpu-x", errors.New(`violates PodSecurity "restricted:latest": runAsNonRoot != true`)))
			},
			is: ErrForbidden, text: []string{"Pod Security level", "runAsNonRoot"}},
		{name: "create invalid", op: "launch", verb: "create", calls: 1, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failAlways(apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "c1-cpu-x", field.ErrorList{
					field.Invalid(field.NewPath("spec", "containers").Index(0).Child("resources", "limits").Key("nvidia.com/gpu"), "1500m", "must be an integer"),
					field.Required(field.NewPath("spec", "containers").Index(0).Child("image"), ""),
				}))
			},
			is: ErrInvalid, text: []string{"field spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value", "must be an integer", "field spec.containers[0].image: Required value"}},
		{name: "namespace missing", op: "launch", verb: "create", calls: 1, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failAlways(apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, testNS))
			},
			is: ErrInvalid, text: []string{`namespace "shoal" does not exist`}},
		{name: "create throttled, then created", op: "launch", verb: "create", calls: 3, pods: 2,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failFirst(apierrors.NewTooManyRequests("slow down", 2), apierrors.NewTooManyRequests("slow down", 2))
			},
			serverDelay: 2 * time.Second},
		{name: "create timed out, then created", op: "launch", verb: "create", calls: 2, pods: 2,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failFirst(apierrors.NewServerTimeout(podsResource, "create", 0))
			}},
		{name: "API server down", op: "launch", verb: "create", calls: 5, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failAlways(apierrors.NewInternalError(errors.New("etcdserver: request timed out")))
			},
			is: ErrUnavailable, retryable: true, text: []string{"overloaded, unreachable", "gave up after 5 attempts", "etcdserver: request timed out"}},
		{name: "list forbidden", op: "list", verb: "list", calls: 1, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc { return failAlways(rbacDenied("list")) },
			is:    ErrForbidden, text: []string{`listing the pods of cluster "c1" in namespace "shoal"`, `may not "list" resource "pods"`}},
		{name: "list unavailable, then listed", op: "list", verb: "list", calls: 2, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failFirst(apierrors.NewServiceUnavailable("apiserver is shutting down"))
			}},
		{name: "list connection refused, then listed", op: "list", verb: "list", calls: 2, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failFirst(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
			}},
		{name: "list credentials rejected", op: "list", verb: "list", calls: 1, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failAlways(apierrors.NewUnauthorized("token expired"))
			},
			is: ErrForbidden, text: []string{"did not accept the provider's credentials"}},
		{name: "delete conflict, then deleted", op: "terminate", verb: "delete", calls: 2, pods: 0,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failFirst(apierrors.NewConflict(podsResource, existing, errors.New("Precondition failed: UID in precondition: uid-x, UID in object meta: uid-y")))
			}},
		{name: "delete forbidden", op: "terminate", verb: "delete", calls: 1, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc { return failAlways(rbacDenied("delete")) },
			is:    ErrForbidden, text: []string{"deleting pod c1-cpu-aaaaa", `may not "delete" resource "pods"`}},
		{name: "get before delete forbidden", op: "terminate", verb: "get", calls: 1, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc { return failAlways(rbacDenied("get")) },
			is:    ErrForbidden, text: []string{`may not "get" resource "pods"`}},
		{name: "delete keeps failing", op: "terminate", verb: "delete", calls: 5, pods: 1,
			react: func(*fake.Clientset) k8stesting.ReactionFunc {
				return failAlways(apierrors.NewGenericServerResponse(502, "DELETE", podsResource, existing, "bad gateway", 0, true))
			},
			is: ErrUnavailable, retryable: true, text: []string{"deleting pod c1-cpu-aaaaa", "gave up after 5 attempts"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(nodePod(testNS, existing, testCluster, "cpu"))
			client.PrependReactor(tc.verb, "pods", tc.react(client))
			p, sleeps := newTestProvider(t, client, nil)
			var err error
			switch tc.op {
			case "launch":
				var insts []autoscaler.Instance
				insts, err = p.Launch(context.Background(), cpuType, 1)
				if (err == nil) != (len(insts) == 1) {
					t.Errorf("Launch returned %d instances with error %v", len(insts), err)
				}
			case "list":
				var insts []autoscaler.Instance
				insts, err = p.List(context.Background())
				if err == nil && len(insts) != 1 {
					t.Errorf("List returned %d instances, want 1", len(insts))
				}
			case "terminate":
				err = p.Terminate(context.Background(), []string{existing})
			}
			if n := countActions(client, tc.verb); n != tc.calls {
				t.Errorf("%d %s calls, want %d", n, tc.verb, tc.calls)
			}
			if n := len(listPods(t, client, testNS)); n != tc.pods {
				t.Errorf("%d pods afterwards, want %d", n, tc.pods)
			}
			if pauses := sleeps.get(); len(pauses) != tc.calls-1 {
				t.Errorf("%d pauses between %d calls: %v", len(pauses), tc.calls, pauses)
			} else if tc.serverDelay > 0 {
				for _, d := range pauses {
					if d < tc.serverDelay {
						t.Errorf("paused %v, less than the %v the API server asked for", d, tc.serverDelay)
					}
				}
			}
			if tc.is == nil {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error", err)
			}
			if IsRetryable(err) != tc.retryable || e.Retryable() != tc.retryable {
				t.Errorf("IsRetryable = %v, want %v", IsRetryable(err), tc.retryable)
			}
			if e.Attempts != tc.calls {
				t.Errorf("Attempts = %d, want %d", e.Attempts, tc.calls)
			}
			var status apierrors.APIStatus
			if !errors.As(err, &status) {
				t.Errorf("the API server's status is not reachable through the error")
			}
			for _, s := range tc.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q\ndoes not say %q", err, s)
				}
			}
		})
	}
}

// TestLaunchRetryDoesNotDuplicate: a create whose response is lost but
// which the API server carried out is recognised on the retry (same name,
// our labels), so one pod exists, not two.
func TestLaunchRetryDoesNotDuplicate(t *testing.T) {
	client := fake.NewClientset()
	var (
		mu    sync.Mutex
		names []string
	)
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		names = append(names, pod.Name)
		if len(names) > 1 {
			return false, nil, nil
		}
		if err := client.Tracker().Create(corev1.SchemeGroupVersion.WithResource("pods"), pod, testNS); err != nil {
			t.Errorf("tracker create: %v", err)
		}
		return true, nil, apierrors.NewServerTimeout(podsResource, "create", 0)
	})
	p, _ := newTestProvider(t, client, nil)
	insts, err := p.Launch(context.Background(), cpuType, 1)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	pods := listPods(t, client, testNS)
	if len(pods) != 1 || len(insts) != 1 || insts[0].ID != pods[0].Name {
		t.Fatalf("%d pods and instances %+v, want the one pod created", len(pods), insts)
	}
	if len(names) != 2 || names[0] != names[1] {
		t.Errorf("create calls named %v, want the same name retried", names)
	}
}

// TestLaunchDrawsANewNameOnCollision: a generated name someone else holds
// is replaced by a fresh one.
func TestLaunchDrawsANewNameOnCollision(t *testing.T) {
	client := fake.NewClientset()
	var names []string
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		names = append(names, pod.Name)
		if len(names) == 1 {
			return true, nil, apierrors.NewAlreadyExists(podsResource, pod.Name)
		}
		return false, nil, nil
	})
	p, _ := newTestProvider(t, client, nil)
	insts, err := p.Launch(context.Background(), cpuType, 1)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if len(names) != 2 || names[0] == names[1] || insts[0].ID != names[1] {
		t.Errorf("create calls named %v, instance %s: want a second, different name", names, insts[0].ID)
	}
	pod := listPods(t, client, testNS)[0]
	if pod.Labels[autoscaler.LabelInstance] != names[1] || !strings.Contains(strings.Join(pod.Spec.Containers[0].Args, " "), "shoal.io/instance="+names[1]) {
		t.Errorf("label or --labels not updated with the new name: %v %v", pod.Labels, pod.Spec.Containers[0].Args)
	}
}

// TestLaunchReportsPartialProgress: when the second of three creates fails
// for good, Launch returns the first instance with the error.
func TestLaunchReportsPartialProgress(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "pods", failFirst(nil, rbacDenied("create")))
	p, _ := newTestProvider(t, client, nil)
	insts, err := p.Launch(context.Background(), cpuType, 3)
	if !errors.Is(err, ErrForbidden) || len(insts) != 1 {
		t.Fatalf("Launch = %d instances, %v; want 1 and ErrForbidden", len(insts), err)
	}
	if pods := listPods(t, client, testNS); len(pods) != 1 || pods[0].Name != insts[0].ID {
		t.Errorf("pods %v, want the one instance returned", pods)
	}
}

// TestCancelledContextStopsRetrying: a cancelled reconcile round ends the
// retries with the context's error and the API's last one.
func TestCancelledContextStopsRetrying(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "pods", failAlways(apierrors.NewServiceUnavailable("down")))
	ctx, cancel := context.WithCancel(context.Background())
	p, _ := newTestProvider(t, client, func(c *Config) {
		c.Backoff.Sleep = func(ctx context.Context, _ time.Duration) error {
			cancel()
			return ctx.Err()
		}
	})
	_, err := p.List(ctx)
	if !errors.Is(err, context.Canceled) || !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("List error = %v, want context.Canceled wrapping the 503", err)
	}
	if IsRetryable(err) {
		t.Errorf("a cancelled call is reported retryable")
	}
	if n := countActions(client, "list"); n != 1 {
		t.Errorf("%d list calls after cancellation, want 1", n)
	}
}
