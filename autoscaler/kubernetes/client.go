package kubernetes

import (
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// inClusterNamespaceFile is where a pod's service account namespace is
// mounted.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// NewClient returns a client for the cluster the head runs in (kubeconfig
// empty: the pod's service account) or for the cluster a kubeconfig file
// names (a head run outside the cluster, e.g. against kind).
func NewClient(kubeconfig string) (clientset.Interface, error) {
	var (
		cfg *rest.Config
		err error
	)
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes provider: not running in a pod (%w); pass a kubeconfig file", err)
		}
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubernetes provider: loading kubeconfig %s: %w", kubeconfig, err)
		}
	}
	cfg.UserAgent = FieldManager
	// The provider makes a few calls per reconcile round; these bounds keep
	// a burst of launches from being throttled client-side for long.
	cfg.QPS, cfg.Burst = 20, 50
	c, err := clientset.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes provider: creating the client for %s: %w", cfg.Host, err)
	}
	return c, nil
}

// InClusterNamespace is the namespace of the pod this process runs in, or
// "" outside a pod.
func InClusterNamespace() string {
	b, err := os.ReadFile(inClusterNamespaceFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ParsePodTemplate reads a pod template from YAML or JSON: a PodTemplate
// object (its template), a Pod (its metadata and spec), or a bare
// PodTemplateSpec (metadata and spec, no kind). Unknown fields are errors,
// so a misspelt field is reported rather than ignored.
func ParsePodTemplate(data []byte) (*corev1.PodTemplateSpec, error) {
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	obj, gvk, err := decoder.Decode(data, nil, nil)
	if runtime.IsMissingKind(err) {
		var spec corev1.PodTemplateSpec
		if err := yaml.UnmarshalStrict(data, &spec); err != nil {
			return nil, fmt.Errorf("reading the pod template: %w", err)
		}
		return &spec, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the pod template: %w", err)
	}
	switch o := obj.(type) {
	case *corev1.PodTemplate:
		return &o.Template, nil
	case *corev1.Pod:
		return &corev1.PodTemplateSpec{ObjectMeta: o.ObjectMeta, Spec: o.Spec}, nil
	}
	return nil, fmt.Errorf("reading the pod template: got a %s, want a PodTemplate, a Pod or a PodTemplateSpec", gvk.Kind)
}
