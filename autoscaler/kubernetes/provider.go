package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	clientset "k8s.io/client-go/kubernetes"

	"github.com/shoal-dev/shoal/autoscaler"
)

// ProviderName is what Name returns.
const ProviderName = "kubernetes"

// PodVerbs are the RBAC verbs on "pods" the provider needs in its namespace:
// get and delete (Terminate), list (List), create (Launch), watch (kept for
// watch-based listing; deploy/kubernetes/rbac.yaml grants all five).
var PodVerbs = []string{"get", "list", "watch", "create", "delete"}

// Config configures a Provider.
type Config struct {
	// Namespace the worker pods live in (required).
	Namespace string
	// Cluster names this Shoal cluster (required); it is the value of every
	// pod's shoal.io/cluster label and the first part of its name, so two
	// clusters can share a namespace.
	Cluster string
	// HeadAddress is the host:port nodes dial (required), e.g. the head's
	// Service: shoal-head.shoal.svc:7380.
	HeadAddress string
	// TokenSecret names the Secret in Namespace that holds the cluster
	// token (required); nodes get it in $SHOAL_TOKEN. TokenSecretKey is its
	// key (default "token").
	TokenSecret    string
	TokenSecretKey string
	// TLSCASecret, if set, names a Secret whose key "ca.crt" is the CA that
	// signed the head's TLS certificate; it is mounted in every pod and
	// passed as --tls-ca.
	TLSCASecret string
	// Image of the worker container; it must have `shoal` on its PATH (or
	// see Command). Required unless the pod template's container names one.
	Image string
	// Command starts the shoal binary (default ["shoal"]); the provider
	// appends "node" and the flags as the container's args.
	Command []string
	// PodTemplate is the base of every pod (optional): scheduling
	// (nodeSelector, tolerations, affinity), service account, security
	// context, volumes, sidecars. The provider fills in the shoal container
	// (named "shoal-node", or the template's first container): image,
	// command, args, resources, token and data port. TypeTemplates
	// overrides it per node type (a GPU type's tolerations, say).
	PodTemplate   *corev1.PodTemplateSpec
	TypeTemplates map[string]*corev1.PodTemplateSpec
	// GPUResource is the extended resource a GPU is requested as (default
	// "nvidia.com/gpu").
	GPUResource corev1.ResourceName
	// Backoff is the retry policy of every API call (zero: DefaultBackoff).
	Backoff Backoff
	// Logger receives retries and launches (default: discarded).
	Logger *slog.Logger
}

// Provider runs a Shoal cluster's nodes as pods. It is safe for concurrent
// use and keeps no state of its own: the pods are the state, so a new
// Provider (a restarted head) picks up the pods an earlier one launched.
type Provider struct {
	client  clientset.Interface
	cfg     Config
	backoff Backoff
	log     *slog.Logger
	// selector matches this cluster's pods.
	selector string
}

var _ autoscaler.Provider = (*Provider)(nil)

// New returns a provider that manages cfg.Cluster's pods through client.
func New(client clientset.Interface, cfg Config) (*Provider, error) {
	bad := func(format string, args ...any) error {
		return invalidConfig("configuring the provider", cfg.Namespace, "", format, args...)
	}
	if client == nil {
		return nil, bad("no Kubernetes client")
	}
	if cfg.Namespace == "" {
		return nil, bad("Config.Namespace (--namespace) is empty: name the namespace the worker pods run in")
	}
	if msgs := validation.IsDNS1123Label(cfg.Namespace); len(msgs) > 0 {
		return nil, bad("namespace %q is not a valid namespace name: %s", cfg.Namespace, strings.Join(msgs, "; "))
	}
	if cfg.Cluster == "" {
		return nil, bad("Config.Cluster (--cluster) is empty: name the cluster (its pods are labelled %s=NAME)", autoscaler.LabelCluster)
	}
	if msgs := validation.IsValidLabelValue(cfg.Cluster); len(msgs) > 0 {
		return nil, bad("cluster name %q is not a valid label value: %s", cfg.Cluster, strings.Join(msgs, "; "))
	}
	if cfg.HeadAddress == "" {
		return nil, bad("Config.HeadAddress (--head-address) is empty: give the host:port nodes dial, e.g. shoal-head.%s.svc:7380", cfg.Namespace)
	}
	if _, _, err := net.SplitHostPort(cfg.HeadAddress); err != nil {
		return nil, bad("head address %q is not host:port: %v", cfg.HeadAddress, err)
	}
	if cfg.TokenSecret == "" {
		return nil, bad("Config.TokenSecret (--token-secret) is empty: name the Secret holding the cluster token (kubectl create secret generic shoal-token --from-literal=token=...)")
	}
	for what, name := range map[string]string{"token Secret": cfg.TokenSecret, "TLS CA Secret": cfg.TLSCASecret} {
		if name == "" {
			continue
		}
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			return nil, bad("%s name %q is not valid: %s", what, name, strings.Join(msgs, "; "))
		}
	}
	if cfg.TokenSecretKey == "" {
		cfg.TokenSecretKey = "token"
	}
	if len(cfg.Command) == 0 {
		cfg.Command = []string{"shoal"}
	}
	if cfg.GPUResource == "" {
		cfg.GPUResource = "nvidia.com/gpu"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for name, tmpl := range cfg.TypeTemplates {
		if tmpl == nil {
			return nil, bad("Config.TypeTemplates[%q] is nil", name)
		}
	}
	if cfg.Image == "" {
		if len(cfg.TypeTemplates) == 0 && templateImage(cfg.PodTemplate) == "" {
			return nil, bad("no image: set Config.Image (--image) or the image of the pod template's %q container", ContainerName)
		}
		for name, tmpl := range cfg.TypeTemplates {
			if templateImage(tmpl) == "" {
				return nil, bad("no image for node type %q: set Config.Image (--image) or the image of its template's %q container", name, ContainerName)
			}
		}
	}
	p := &Provider{
		client:   client,
		cfg:      cfg,
		backoff:  cfg.Backoff.withDefaults(),
		log:      cfg.Logger.With("provider", ProviderName, "namespace", cfg.Namespace, "cluster", cfg.Cluster),
		selector: labels.SelectorFromSet(labels.Set{autoscaler.LabelCluster: cfg.Cluster}).String(),
	}
	return p, nil
}

// Name returns "kubernetes".
func (p *Provider) Name() string { return ProviderName }

// List returns every pod of this cluster in the namespace, whoever created
// it, as instances: pending (being scheduled, pulling its image, starting),
// running, terminating (deletion requested) or failed (with the reason: an
// eviction, OOMKilled, ImagePullBackOff, a missing Secret, ...).
func (p *Provider) List(ctx context.Context) ([]autoscaler.Instance, error) {
	var pods []corev1.Pod
	attempts, err := Retry(ctx, p.backoff, func(ctx context.Context) error {
		pods = pods[:0]
		opts := metav1.ListOptions{LabelSelector: p.selector, Limit: 500}
		for {
			list, err := p.client.CoreV1().Pods(p.cfg.Namespace).List(ctx, opts)
			if err != nil {
				return err
			}
			pods = append(pods, list.Items...)
			if list.Continue == "" {
				return nil
			}
			opts.Continue = list.Continue
		}
	})
	if err != nil {
		return nil, p.fail(ctx, &Error{Op: fmt.Sprintf("listing the pods of cluster %q", p.cfg.Cluster), Attempts: attempts, Err: err}, "list")
	}
	out := make([]autoscaler.Instance, 0, len(pods))
	for i := range pods {
		out = append(out, instanceFromPod(&pods[i]))
	}
	return out, nil
}

// Launch creates count pods of node type t and returns them as pending
// instances. Pods are created one after another; if one fails, Launch
// returns the instances created so far with the error (List finds them
// too). A retried create that had in fact succeeded is recognised, so a
// lost response does not leave an extra pod.
func (p *Provider) Launch(ctx context.Context, t autoscaler.NodeType, count int) ([]autoscaler.Instance, error) {
	if count < 0 {
		return nil, invalidConfig("launching pods", p.cfg.Namespace, t.Name, "count is %d", count)
	}
	if count == 0 {
		return nil, nil
	}
	spec, err := p.nodeSpec(t)
	if err != nil {
		return nil, err
	}
	out := make([]autoscaler.Instance, 0, count)
	for range count {
		pod, err := p.createPod(ctx, spec)
		if err != nil {
			return out, err
		}
		p.log.Info("launched a node pod", "pod", pod.Name, "node_type", t.Name)
		out = append(out, instanceFromPod(pod))
	}
	return out, nil
}

// createPod creates one pod of spec under a fresh name.
func (p *Provider) createPod(ctx context.Context, spec *nodeSpec) (*corev1.Pod, error) {
	name := p.podName(spec.typ.Name)
	var (
		created *corev1.Pod
		// sent: an earlier attempt with this name may have created the pod
		// even though its response was lost.
		sent bool
	)
	attempts, err := Retry(ctx, p.backoff, func(ctx context.Context) error {
		got, err := p.client.CoreV1().Pods(p.cfg.Namespace).Create(ctx, p.buildPod(name, spec), metav1.CreateOptions{FieldManager: FieldManager})
		if err == nil {
			created = got
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			sent = sent || transient(err)
			return err
		}
		if sent {
			existing, gerr := p.client.CoreV1().Pods(p.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
			if gerr == nil && ownPod(existing, p.cfg.Cluster, spec.typ.Name, name) {
				created = existing
				return nil
			}
		}
		// Someone else has the name: draw another.
		p.log.Debug("pod name taken, drawing another", "pod", name)
		name, sent = p.podName(spec.typ.Name), false
		return retryNow{err}
	})
	if err != nil {
		var rn retryNow
		if errors.As(err, &rn) {
			err = rn.err
		}
		return nil, p.fail(ctx, &Error{Op: "creating pod", Pod: name, NodeType: spec.typ.Name, Attempts: attempts, Err: err}, "create")
	}
	return created, nil
}

// ownPod reports whether pod is the node pod name of type typ in cluster.
func ownPod(pod *corev1.Pod, cluster, typ, name string) bool {
	l := pod.Labels
	return l[autoscaler.LabelCluster] == cluster && l[autoscaler.LabelNodeType] == typ && l[autoscaler.LabelInstance] == name
}

// Terminate deletes the named pods. A pod already gone or already being
// deleted is not an error; a pod that is not a node of this cluster is
// left alone (ErrNotOurs). It tries every pod and joins the errors.
func (p *Provider) Terminate(ctx context.Context, ids []string) error {
	var errs []error
	for _, name := range ids {
		if err := p.deletePod(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		p.log.Info("terminated a node pod", "pod", name)
	}
	return errors.Join(errs...)
}

func (p *Provider) deletePod(ctx context.Context, name string) error {
	pods := p.client.CoreV1().Pods(p.cfg.Namespace)
	// verb is the call a 403 refers to: Terminate reads a pod before it
	// deletes it, and either can be refused.
	verb := "get"
	attempts, err := Retry(ctx, p.backoff, func(ctx context.Context) error {
		verb = "get"
		pod, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		// An instance ID comes from a node's label, which whoever started
		// the node chose: never delete a pod that is not ours.
		if got := pod.Labels[autoscaler.LabelCluster]; got != p.cfg.Cluster {
			return &Error{Op: "deleting pod", Pod: name, Namespace: p.cfg.Namespace, Kind: ErrNotOurs,
				Hint: fmt.Sprintf("refusing: the pod is labelled %s=%q, not %q", autoscaler.LabelCluster, got, p.cfg.Cluster)}
		}
		if pod.DeletionTimestamp != nil {
			return nil
		}
		// The UID precondition makes sure a pod recreated under the same
		// name meanwhile is not the one deleted (409: get it again).
		uid := pod.UID
		verb = "delete"
		err = pods.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return p.fail(ctx, &Error{Op: "deleting pod", Pod: name, Attempts: attempts, Err: err}, verb)
	}
	return nil
}

// fail classifies e, logs it and returns it. When the caller's context
// ended, that is the reason, whatever the API said last.
func (p *Provider) fail(ctx context.Context, e *Error, verb string) *Error {
	e.Namespace = p.cfg.Namespace
	if ctx.Err() != nil {
		e.Hint = "interrupted: the caller's context ended"
	} else {
		e.classify(verb)
	}
	p.log.Warn("kubernetes provider call failed", "op", e.Op, "pod", e.Pod, "node_type", e.NodeType,
		"attempts", e.Attempts, "retryable", e.Retryable(), "err", e.Err)
	return e
}
