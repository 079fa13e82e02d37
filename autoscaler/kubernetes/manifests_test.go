package kubernetes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/shoal-dev/shoal/autoscaler"
)

// manifestDir holds the deployment manifests this package's provider is
// deployed with.
var manifestDir = filepath.Join("..", "..", "deploy", "kubernetes")

// manifests are the typed objects of deploy/kubernetes.
type manifests struct {
	objects        []runtime.Object
	serviceAccount *corev1.ServiceAccount
	role           *rbacv1.Role
	binding        *rbacv1.RoleBinding
	configMap      *corev1.ConfigMap
	pvc            *corev1.PersistentVolumeClaim
	deployment     *appsv1.Deployment
	service        *corev1.Service
}

// loadManifests decodes every document of the manifest files strictly (an
// unknown or duplicated field is an error) into typed objects.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	m := &manifests{}
	for _, file := range []string{"rbac.yaml", "head.yaml"} {
		f, err := os.Open(filepath.Join(manifestDir, file))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r := utilyaml.NewYAMLReader(bufio.NewReader(f))
		for i := 1; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			if onlyComments(doc) {
				continue
			}
			obj, gvk, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s document %d does not decode into a Kubernetes object: %v", file, i, err)
			}
			m.objects = append(m.objects, obj)
			switch o := obj.(type) {
			case *corev1.ServiceAccount:
				m.serviceAccount = o
			case *rbacv1.Role:
				m.role = o
			case *rbacv1.RoleBinding:
				m.binding = o
			case *corev1.ConfigMap:
				m.configMap = o
			case *corev1.PersistentVolumeClaim:
				m.pvc = o
			case *appsv1.Deployment:
				m.deployment = o
			case *corev1.Service:
				m.service = o
			default:
				t.Fatalf("%s: unexpected %s", file, gvk)
			}
		}
	}
	for what, missing := range map[string]bool{
		"ServiceAccount": m.serviceAccount == nil, "Role": m.role == nil, "RoleBinding": m.binding == nil,
		"ConfigMap": m.configMap == nil, "PersistentVolumeClaim": m.pvc == nil, "Deployment": m.deployment == nil, "Service": m.service == nil,
	} {
		if missing {
			t.Fatalf("no %s in %s", what, manifestDir)
		}
	}
	return m
}

func onlyComments(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && string(line) != "---" {
			return false
		}
	}
	return true
}

// headContainer is the head Deployment's container and its flags.
func headContainer(t *testing.T, m *manifests) (corev1.Container, map[string]string) {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("head Deployment has %d containers, want 1", len(cs))
	}
	flags := map[string]string{}
	for _, a := range cs[0].Args {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
			flags[k] = v
		}
	}
	return cs[0], flags
}

// autoscalerFile decodes the ConfigMap's autoscaler.json strictly.
func autoscalerFile(t *testing.T, m *manifests) autoscaler.File {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(m.configMap.Data["autoscaler.json"]))
	dec.DisallowUnknownFields()
	var f autoscaler.File
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("ConfigMap %s autoscaler.json: %v", m.configMap.Name, err)
	}
	return f
}

func TestManifests(t *testing.T) {
	m := loadManifests(t)
	tests := []struct {
		name  string
		check func(t *testing.T, m *manifests)
	}{
		{"every object is in the shoal namespace and labelled", func(t *testing.T, m *manifests) {
			for _, obj := range m.objects {
				meta := obj.(metav1.Object)
				if meta.GetNamespace() != "shoal" || meta.GetLabels()["app.kubernetes.io/name"] != "shoal" {
					t.Errorf("%T %s: namespace %q labels %v", obj, meta.GetName(), meta.GetNamespace(), meta.GetLabels())
				}
			}
		}},
		{"the Role grants every verb the provider uses on pods", func(t *testing.T, m *manifests) {
			var verbs []string
			for _, r := range m.role.Rules {
				if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "pods") {
					verbs = append(verbs, r.Verbs...)
				}
			}
			for _, v := range PodVerbs {
				if !slices.Contains(verbs, v) {
					t.Errorf("Role %s does not grant %q on pods (grants %v)", m.role.Name, v, verbs)
				}
			}
			for _, r := range m.role.Rules {
				if slices.Contains(r.Verbs, "*") || slices.Contains(r.Resources, "*") || slices.Contains(r.Resources, "secrets") {
					t.Errorf("Role grants more than the provider needs: %+v", r)
				}
			}
		}},
		{"the RoleBinding binds the Role to the head's service account", func(t *testing.T, m *manifests) {
			b := m.binding
			if b.RoleRef.Kind != "Role" || b.RoleRef.Name != m.role.Name {
				t.Errorf("RoleBinding refers to %s %s, want Role %s", b.RoleRef.Kind, b.RoleRef.Name, m.role.Name)
			}
			sa := m.deployment.Spec.Template.Spec.ServiceAccountName
			if sa != m.serviceAccount.Name || len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" ||
				b.Subjects[0].Name != sa || b.Subjects[0].Namespace != m.serviceAccount.Namespace {
				t.Errorf("head runs as %q; ServiceAccount %s; RoleBinding subjects %+v", sa, m.serviceAccount.Name, b.Subjects)
			}
		}},
		{"the head keeps its state on the claim, one at a time", func(t *testing.T, m *manifests) {
			c, flags := headContainer(t, m)
			if c.Args[0] != "head" || flags["--listen"] != "0.0.0.0:7380" || flags["--state-dir"] != "/var/lib/shoal" {
				t.Errorf("head args %v", c.Args)
			}
			spec := m.deployment.Spec
			if spec.Replicas == nil || *spec.Replicas != 1 || spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				t.Errorf("Deployment: replicas %v strategy %q, want 1 and Recreate", spec.Replicas, spec.Strategy.Type)
			}
			mount := slices.IndexFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool { return v.MountPath == "/var/lib/shoal" })
			if mount < 0 {
				t.Fatalf("nothing mounted at the state dir")
			}
			vol := slices.IndexFunc(spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == c.VolumeMounts[mount].Name })
			if vol < 0 || spec.Template.Spec.Volumes[vol].PersistentVolumeClaim == nil ||
				spec.Template.Spec.Volumes[vol].PersistentVolumeClaim.ClaimName != m.pvc.Name {
				t.Errorf("state volume is not the claim %s", m.pvc.Name)
			}
			if !strings.HasPrefix(flags["--token-file"], "/var/lib/shoal/") {
				t.Errorf("--token-file=%q: the token file should be on the writable state volume", flags["--token-file"])
			}
		}},
		{"head and workers take the token from the same Secret", func(t *testing.T, m *manifests) {
			c, _ := headContainer(t, m)
			settings := autoscalerFile(t, m).Kubernetes
			i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "SHOAL_TOKEN" })
			if i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.SecretKeyRef == nil {
				t.Fatalf("head has no SHOAL_TOKEN from a Secret: %+v", c.Env)
			}
			ref := c.Env[i].ValueFrom.SecretKeyRef
			if ref.Name != settings[SettingTokenSecret] || ref.Key != "token" {
				t.Errorf("head token from %s/%s, workers' token_secret %q", ref.Name, ref.Key, settings[SettingTokenSecret])
			}
			// Never on a command line, where ps and the pod spec's args show
			// it: the head and the nodes read $SHOAL_TOKEN.
			worker := (&Provider{cfg: Config{Cluster: "shoal", TokenSecret: "shoal-token", TokenSecretKey: "token"}}).buildPod("shoal-cpu-abcde", &nodeSpec{typ: autoscaler.NodeType{Name: "cpu"}})
			for _, args := range [][]string{c.Command, c.Args, worker.Spec.Containers[0].Command, worker.Spec.Containers[0].Args} {
				for _, a := range args {
					if strings.HasPrefix(a, "--token=") || a == "--token" || strings.Contains(a, "SHOAL_TOKEN") {
						t.Errorf("the token is on a command line: %q", args)
					}
				}
			}
		}},
		{"the Service selects the head and not the workers", func(t *testing.T, m *manifests) {
			sel := labels.SelectorFromSet(m.service.Spec.Selector)
			if !sel.Matches(labels.Set(m.deployment.Spec.Template.Labels)) {
				t.Errorf("Service selector %v does not match the head pods %v", sel, m.deployment.Spec.Template.Labels)
			}
			worker := (&Provider{cfg: Config{Cluster: "shoal"}}).buildPod("shoal-cpu-abcde", &nodeSpec{typ: autoscaler.NodeType{Name: "cpu"}})
			if sel.Matches(labels.Set(worker.Labels)) {
				t.Errorf("Service selector %v matches worker pods %v", sel, worker.Labels)
			}
			c, _ := headContainer(t, m)
			if len(m.service.Spec.Ports) != 1 || m.service.Spec.Ports[0].Port != 7380 ||
				!slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == m.service.Spec.Ports[0].TargetPort.StrVal }) {
				t.Errorf("Service ports %+v do not reach the head's %+v", m.service.Spec.Ports, c.Ports)
			}
			if want, got := m.service.Name+":7380", autoscalerFile(t, m).Kubernetes[SettingHeadAddress]; got != want {
				t.Errorf("head_address %q, want the Service: %s", got, want)
			}
		}},
		{"the autoscaler configuration makes valid worker pods", func(t *testing.T, m *manifests) {
			c, flags := headContainer(t, m)
			mount := slices.IndexFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool { return v.Name == "autoscaler" })
			if mount < 0 {
				t.Fatalf("the autoscaler ConfigMap is not mounted")
			}
			// Materialize the ConfigMap as the kubelet would, at a temporary
			// directory standing for the mount path.
			dir, tmp := c.VolumeMounts[mount].MountPath, t.TempDir()
			for key, value := range m.configMap.Data {
				if err := os.WriteFile(filepath.Join(tmp, key), []byte(value), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			key, ok := strings.CutPrefix(flags["--autoscale"], dir+"/")
			if _, inMap := m.configMap.Data[key]; !ok || !inMap {
				t.Fatalf("--autoscale=%s is not a key of ConfigMap %s mounted at %s", flags["--autoscale"], m.configMap.Name, dir)
			}
			loaded, err := autoscaler.LoadFile(filepath.Join(tmp, key))
			if err != nil {
				t.Fatal(err)
			}
			if loaded.Provider != ProviderName {
				t.Errorf("provider %q, want %q", loaded.Provider, ProviderName)
			}
			settings := maps.Clone(loaded.Kubernetes)
			for k, v := range settings {
				if strings.HasPrefix(k, SettingPodTemplate) {
					rel, ok := strings.CutPrefix(v, dir+"/")
					if _, inMap := m.configMap.Data[rel]; !ok || !inMap {
						t.Fatalf("%s %s is not a key of ConfigMap %s mounted at %s", k, v, m.configMap.Name, dir)
					}
					settings[k] = filepath.Join(tmp, rel)
				}
			}
			settings[SettingNamespace] = "shoal" // the head pod's namespace
			cfg, kubeconfig, err := ConfigFromSettings(settings)
			if err != nil || kubeconfig != "" {
				t.Fatalf("ConfigFromSettings: %v (kubeconfig %q)", err, kubeconfig)
			}
			client := fake.NewClientset()
			p, _ := newTestProvider(t, client, func(c *Config) {
				backoff, logger := c.Backoff, c.Logger
				*c = cfg
				c.Backoff, c.Logger = backoff, logger
			})
			for _, typ := range loaded.Config.Types {
				if _, err := p.Launch(context.Background(), typ, 1); err != nil {
					t.Errorf("node type %s: %v", typ.Name, err)
				}
			}
			pods := listPods(t, client, "shoal")
			if len(pods) != len(loaded.Config.Types) {
				t.Fatalf("%d pods for %d node types", len(pods), len(loaded.Config.Types))
			}
			for _, pod := range pods {
				sc := pod.Spec.SecurityContext
				if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
					t.Errorf("worker pod %s does not run as non-root", pod.Name)
				}
				if img := nodeContainer(t, &pod).Image; img != c.Image {
					t.Errorf("worker pod %s runs %q, the head %q: they should be the same build", pod.Name, img, c.Image)
				}
			}
		}},
		{"the autoscaler configuration has no misspelt field", func(t *testing.T, m *manifests) {
			autoscalerFile(t, m)
		}},
		{"the kustomization applies both files into one namespace", func(t *testing.T, m *manifests) {
			b, err := os.ReadFile(filepath.Join(manifestDir, "kustomization.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var k struct {
				APIVersion string   `json:"apiVersion"`
				Kind       string   `json:"kind"`
				Namespace  string   `json:"namespace"`
				Resources  []string `json:"resources"`
			}
			if err := yaml.UnmarshalStrict(b, &k); err != nil {
				t.Fatal(err)
			}
			slices.Sort(k.Resources)
			if k.Kind != "Kustomization" || k.Namespace != "shoal" || !slices.Equal(k.Resources, []string{"head.yaml", "rbac.yaml"}) {
				t.Errorf("kustomization %+v", k)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, m) })
	}
}

func TestParsePodTemplate(t *testing.T) {
	tests := []struct {
		name, doc string
		wantErr   string
		wantNode  string // the template's nodeSelector "pool"
	}{
		{name: "PodTemplate", wantNode: "a", doc: `
apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template:
  spec:
    nodeSelector: {pool: a}
    containers: [{name: shoal-node}]`},
		{name: "Pod", wantNode: "b", doc: `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  nodeSelector: {pool: b}
  containers: [{name: shoal-node}]`},
		{name: "bare PodTemplateSpec as JSON", wantNode: "c", doc: `{"spec": {"nodeSelector": {"pool": "c"}, "containers": [{"name": "shoal-node"}]}}`},
		{name: "misspelt field", wantErr: "nodeSelecter", doc: `
apiVersion: v1
kind: PodTemplate
template:
  spec:
    nodeSelecter: {pool: a}`},
		{name: "another kind", wantErr: "want a PodTemplate", doc: `
apiVersion: v1
kind: ConfigMap
metadata: {name: x}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := ParsePodTemplate([]byte(tc.doc))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tmpl.Spec.NodeSelector["pool"] != tc.wantNode || len(tmpl.Spec.Containers) != 1 {
				t.Errorf("template %+v", tmpl.Spec)
			}
		})
	}
}
