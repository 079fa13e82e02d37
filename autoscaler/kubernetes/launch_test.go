package kubernetes

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/shoal-dev/shoal/autoscaler"
)

func TestLaunch(t *testing.T) {
	gpuTemplate := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"pool": "gpu"}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"cloud.google.com/gke-accelerator": "nvidia-l4"},
			Containers:   []corev1.Container{{Name: ContainerName, Image: "registry.example/shoal-cuda:1.0"}},
		},
	}
	baseTemplate := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"team": "ml", autoscaler.LabelCluster: "spoofed"},
			Annotations: map[string]string{"example.com/owner": "ml"},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: "workers",
			NodeSelector:       map[string]string{"pool": "batch"},
			RestartPolicy:      corev1.RestartPolicyOnFailure,
			Containers: []corev1.Container{
				{Name: "log-shipper", Image: "registry.example/shipper:2"},
				{Name: ContainerName, Image: "ignored-when-config-names-one",
					Env: []corev1.EnvVar{{Name: "GOGC", Value: "200"}, {Name: envTmpDir, Value: "/scratch"}, {Name: envToken, Value: "leaked"}},
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("20Gi")},
						Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64")},
					}},
			},
			Volumes: []corev1.Volume{{Name: WorkVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}},
		},
	}

	tests := []struct {
		name   string
		mutate func(*Config)
		typ    autoscaler.NodeType
		count  int
		// args are the container's args after "node" with {pod} standing for
		// the pod's name.
		args       []string
		cpu, mem   string
		gpus       string
		image      string
		podLabels  map[string]string // besides the provider's three
		containers []string
		check      func(t *testing.T, pod *corev1.Pod)
	}{
		{
			name:  "cpu only",
			typ:   autoscaler.NodeType{Name: "cpu", Resources: map[string]float64{"CPU": 2}},
			count: 3,
			args: []string{"--head", testHead, "--cpus", "2",
				"--labels", "shoal.io/cluster=c1,shoal.io/instance={pod},shoal.io/node-type=cpu",
				"--data-listen", "[$(SHOAL_POD_IP)]:7390"},
			cpu: "2", image: testImage, containers: []string{ContainerName},
			check: func(t *testing.T, pod *corev1.Pod) {
				if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
					t.Errorf("restartPolicy = %q, want Never: a node's pod lives as long as the node", pod.Spec.RestartPolicy)
				}
				if a := pod.Spec.AutomountServiceAccountToken; a == nil || *a {
					t.Errorf("automountServiceAccountToken = %v, want false", a)
				}
				if len(pod.Spec.Tolerations) != 0 {
					t.Errorf("tolerations = %v, want none for a CPU type", pod.Spec.Tolerations)
				}
				c := pod.Spec.Containers[0]
				if _, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
					t.Errorf("memory limit set for a type that declares no memory")
				}
				if c.ReadinessProbe == nil || c.ReadinessProbe.TCPSocket == nil || c.ReadinessProbe.TCPSocket.Port.IntVal != DataPort {
					t.Errorf("readiness probe = %+v, want a TCP probe on %d", c.ReadinessProbe, DataPort)
				}
				if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == DataPort && p.Name == "data" }) {
					t.Errorf("ports = %+v, want the data port", c.Ports)
				}
				if envValue(c, envTmpDir) != WorkDir || !hasMount(c, WorkVolume, WorkDir) || !hasVolume(pod, WorkVolume) {
					t.Errorf("TMPDIR=%q mounts=%+v: want the work emptyDir at %s as TMPDIR", envValue(c, envTmpDir), c.VolumeMounts, WorkDir)
				}
			},
		},
		{
			name: "gpu, memory, custom resources and labels",
			typ: autoscaler.NodeType{Name: "gpu", Labels: map[string]string{"accelerator": "nvidia"},
				Resources: map[string]float64{"CPU": 8, "GPU": 2, "memory": 32 << 30, "licence": 0.5, "disk": 2}},
			count: 1,
			args: []string{"--head", testHead, "--cpus", "8", "--gpus", "2", "--memory", "34359738368",
				"--resources", "disk=2,licence=0.5",
				"--labels", "accelerator=nvidia,shoal.io/cluster=c1,shoal.io/instance={pod},shoal.io/node-type=gpu",
				"--data-listen", "[$(SHOAL_POD_IP)]:7390"},
			cpu: "8", mem: "32Gi", gpus: "2", image: testImage, containers: []string{ContainerName},
			podLabels: map[string]string{"accelerator": "nvidia"},
			check: func(t *testing.T, pod *corev1.Pod) {
				if !slices.ContainsFunc(pod.Spec.Tolerations, func(tl corev1.Toleration) bool { return tl.Key == "nvidia.com/gpu" }) {
					t.Errorf("tolerations = %v, want one for nvidia.com/gpu", pod.Spec.Tolerations)
				}
			},
		},
		{
			name:  "fractional CPU",
			typ:   autoscaler.NodeType{Name: "small", Resources: map[string]float64{"CPU": 0.5}},
			count: 1,
			args: []string{"--head", testHead, "--cpus", "0.5",
				"--labels", "shoal.io/cluster=c1,shoal.io/instance={pod},shoal.io/node-type=small",
				"--data-listen", "[$(SHOAL_POD_IP)]:7390"},
			cpu: "500m", image: testImage, containers: []string{ContainerName},
		},
		{
			name:   "base template",
			mutate: func(c *Config) { c.PodTemplate = baseTemplate },
			typ:    autoscaler.NodeType{Name: "cpu", Resources: map[string]float64{"CPU": 4, "memory": 1 << 30}},
			count:  2,
			args: []string{"--head", testHead, "--cpus", "4", "--memory", "1073741824",
				"--labels", "shoal.io/cluster=c1,shoal.io/instance={pod},shoal.io/node-type=cpu",
				"--data-listen", "[$(SHOAL_POD_IP)]:7390"},
			cpu: "4", mem: "1Gi", image: testImage, containers: []string{"log-shipper", ContainerName},
			podLabels: map[string]string{"team": "ml"},
			check: func(t *testing.T, pod *corev1.Pod) {
				if pod.Spec.ServiceAccountName != "workers" || pod.Spec.NodeSelector["pool"] != "batch" || pod.Annotations["example.com/owner"] != "ml" {
					t.Errorf("template's service account, node selector or annotations lost: %+v %+v", pod.Spec, pod.Annotations)
				}
				if pod.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
					t.Errorf("restartPolicy = %q, want the template's OnFailure", pod.Spec.RestartPolicy)
				}
				c := nodeContainer(t, pod)
				if envValue(c, "GOGC") != "200" || envValue(c, envTmpDir) != "/scratch" {
					t.Errorf("template env lost: %+v", c.Env)
				}
				if n := countEnv(c, envToken); n != 1 || c.Env[0].ValueFrom == nil {
					t.Errorf("env %s appears %d times (%+v); want only the Secret reference", envToken, n, c.Env)
				}
				if q := c.Resources.Requests[corev1.ResourceEphemeralStorage]; q.String() != "20Gi" {
					t.Errorf("template's ephemeral-storage request lost: %v", c.Resources.Requests)
				}
				vols := 0
				for _, v := range pod.Spec.Volumes {
					if v.Name == WorkVolume {
						vols++
						if v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory {
							t.Errorf("template's %s volume replaced: %+v", WorkVolume, v)
						}
					}
				}
				if vols != 1 {
					t.Errorf("%d volumes named %s, want the template's only", vols, WorkVolume)
				}
				if baseTemplate.Spec.Containers[1].Image != "ignored-when-config-names-one" || len(baseTemplate.Spec.Containers[1].Args) != 0 {
					t.Errorf("the template was modified: %+v", baseTemplate.Spec.Containers[1])
				}
			},
		},
		{
			name: "per-type template and its image",
			mutate: func(c *Config) {
				c.Image = ""
				c.PodTemplate = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: ContainerName, Image: testImage}}}}
				c.TypeTemplates = map[string]*corev1.PodTemplateSpec{"gpu": gpuTemplate}
			},
			typ:   autoscaler.NodeType{Name: "gpu", Resources: map[string]float64{"CPU": 4, "GPU": 1}},
			count: 1,
			args: []string{"--head", testHead, "--cpus", "4", "--gpus", "1",
				"--labels", "shoal.io/cluster=c1,shoal.io/instance={pod},shoal.io/node-type=gpu",
				"--data-listen", "[$(SHOAL_POD_IP)]:7390"},
			cpu: "4", gpus: "1", image: "registry.example/shoal-cuda:1.0", containers: []string{ContainerName},
			podLabels: map[string]string{"pool": "gpu"},
			check: func(t *testing.T, pod *corev1.Pod) {
				if pod.Spec.NodeSelector["cloud.google.com/gke-accelerator"] != "nvidia-l4" {
					t.Errorf("the type's template was not used: %+v", pod.Spec.NodeSelector)
				}
			},
		},
		{
			name: "TLS CA, AMD GPUs and a custom command",
			mutate: func(c *Config) {
				c.TLSCASecret, c.GPUResource, c.Command, c.TokenSecretKey = "shoal-ca", "amd.com/gpu", []string{"/opt/shoal/bin/shoal"}, "cluster-token"
			},
			typ:   autoscaler.NodeType{Name: "mi300", Resources: map[string]float64{"CPU": 16, "GPU": 8}},
			count: 1,
			args: []string{"--head", testHead, "--cpus", "16", "--gpus", "8",
				"--labels", "shoal.io/cluster=c1,shoal.io/instance={pod},shoal.io/node-type=mi300",
				"--data-listen", "[$(SHOAL_POD_IP)]:7390", "--tls-ca", "/etc/shoal/tls/ca.crt"},
			cpu: "16", image: testImage, containers: []string{ContainerName},
			check: func(t *testing.T, pod *corev1.Pod) {
				c := nodeContainer(t, pod)
				if q := c.Resources.Limits["amd.com/gpu"]; q.String() != "8" {
					t.Errorf("amd.com/gpu limit = %v", c.Resources.Limits)
				}
				if !slices.Equal(c.Command, []string{"/opt/shoal/bin/shoal"}) {
					t.Errorf("command = %v", c.Command)
				}
				if ref := c.Env[0].ValueFrom.SecretKeyRef; ref.Key != "cluster-token" {
					t.Errorf("token key = %q, want cluster-token", ref.Key)
				}
				if !hasMount(c, tlsVolume, tlsDir) || !hasVolume(pod, tlsVolume) {
					t.Errorf("CA Secret not mounted: %+v", c.VolumeMounts)
				}
			},
		},
	}
	namePattern := regexp.MustCompile(`^c1-[a-z0-9-]+-[bcdfghjklmnpqrstvwxz2456789]{5}$`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			p, _ := newTestProvider(t, client, tc.mutate)
			insts, err := p.Launch(context.Background(), tc.typ, tc.count)
			if err != nil {
				t.Fatalf("Launch: %v", err)
			}
			pods := listPods(t, client, testNS)
			if len(insts) != tc.count || len(pods) != tc.count {
				t.Fatalf("Launch returned %d instances and created %d pods, want %d", len(insts), len(pods), tc.count)
			}
			seen := map[string]bool{}
			for _, in := range insts {
				if in.Type != tc.typ.Name || in.State != autoscaler.InstancePending || seen[in.ID] {
					t.Errorf("instance %+v: want a distinct pending %s instance", in, tc.typ.Name)
				}
				seen[in.ID] = true
			}
			for i := range pods {
				pod := &pods[i]
				if !seen[pod.Name] {
					t.Errorf("pod %s is not among the instances returned", pod.Name)
				}
				if !namePattern.MatchString(pod.Name) || !strings.HasPrefix(pod.Name, "c1-"+dnsSafe(tc.typ.Name)+"-") {
					t.Errorf("pod name %q, want c1-%s-xxxxx", pod.Name, tc.typ.Name)
				}
				want := map[string]string{autoscaler.LabelCluster: testCluster, autoscaler.LabelNodeType: tc.typ.Name, autoscaler.LabelInstance: pod.Name}
				for k, v := range tc.podLabels {
					want[k] = v
				}
				for k, v := range want {
					if pod.Labels[k] != v {
						t.Errorf("pod %s label %s = %q, want %q", pod.Name, k, pod.Labels[k], v)
					}
				}
				var names []string
				for _, c := range pod.Spec.Containers {
					names = append(names, c.Name)
				}
				if !slices.Equal(names, tc.containers) {
					t.Errorf("containers %v, want %v", names, tc.containers)
				}
				c := nodeContainer(t, pod)
				wantArgs := []string{"node"}
				for _, a := range tc.args {
					wantArgs = append(wantArgs, strings.ReplaceAll(a, "{pod}", pod.Name))
				}
				if !slices.Equal(c.Args, wantArgs) {
					t.Errorf("args\n got %q\nwant %q", c.Args, wantArgs)
				}
				if c.Image != tc.image {
					t.Errorf("image %q, want %q", c.Image, tc.image)
				}
				checkResource(t, c, corev1.ResourceCPU, tc.cpu)
				checkResource(t, c, corev1.ResourceMemory, tc.mem)
				checkResource(t, c, "nvidia.com/gpu", tc.gpus)
				ref := c.Env[0]
				if ref.Name != envToken || ref.ValueFrom == nil || ref.ValueFrom.SecretKeyRef == nil || ref.ValueFrom.SecretKeyRef.Name != "shoal-token" {
					t.Errorf("first env var = %+v, want %s from Secret shoal-token", ref, envToken)
				}
				if ip := c.Env[1]; ip.Name != envPodIP || ip.ValueFrom == nil || ip.ValueFrom.FieldRef == nil || ip.ValueFrom.FieldRef.FieldPath != "status.podIP" {
					t.Errorf("second env var = %+v, want %s from status.podIP", ip, envPodIP)
				}
				if tc.check != nil {
					tc.check(t, pod)
				}
			}
		})
	}
}

func TestLaunchRejectsBadNodeTypes(t *testing.T) {
	cpu := map[string]float64{"CPU": 1}
	tests := []struct {
		name  string
		typ   autoscaler.NodeType
		count int
		want  string
	}{
		{"no name", autoscaler.NodeType{Resources: cpu}, 1, "has no name"},
		{"name not a label value", autoscaler.NodeType{Name: "big gpu", Resources: cpu}, 1, "not a valid label value"},
		{"no CPU", autoscaler.NodeType{Name: "x", Resources: map[string]float64{"memory": 1 << 30}}, 1, "needs at least 0.001 CPU"},
		{"fractional GPU", autoscaler.NodeType{Name: "x", Resources: map[string]float64{"CPU": 1, "GPU": 0.5}}, 1, "whole GPUs"},
		{"negative memory", autoscaler.NodeType{Name: "x", Resources: map[string]float64{"CPU": 1, "memory": -1}}, 1, "non-negative"},
		{"custom name with a comma", autoscaler.NodeType{Name: "x", Resources: map[string]float64{"CPU": 1, "a,b": 1}}, 1, "may not be empty or contain"},
		{"reserved label", autoscaler.NodeType{Name: "x", Resources: cpu, Labels: map[string]string{autoscaler.LabelCluster: "other"}}, 1, "set by the provider"},
		{"bad label value", autoscaler.NodeType{Name: "x", Resources: cpu, Labels: map[string]string{"zone": "a b"}}, 1, "the value is not valid"},
		{"negative count", autoscaler.NodeType{Name: "x", Resources: cpu}, -1, "count is -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			p, _ := newTestProvider(t, client, nil)
			insts, err := p.Launch(context.Background(), tc.typ, tc.count)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Launch error = %v, want ErrInvalid mentioning %q", err, tc.want)
			}
			if IsRetryable(err) {
				t.Errorf("an invalid node type is reported retryable: %v", err)
			}
			if len(insts) != 0 || len(client.Actions()) != 0 {
				t.Errorf("Launch made %d API calls and returned %d instances for an invalid type", len(client.Actions()), len(insts))
			}
		})
	}
}

func TestLaunchZeroIsANoOp(t *testing.T) {
	client := fake.NewClientset()
	p, _ := newTestProvider(t, client, nil)
	insts, err := p.Launch(context.Background(), autoscaler.NodeType{Name: "cpu", Resources: map[string]float64{"CPU": 1}}, 0)
	if err != nil || len(insts) != 0 || len(client.Actions()) != 0 {
		t.Fatalf("Launch(0) = %v, %v with %d calls; want nothing", insts, err, len(client.Actions()))
	}
}

func TestPodNameFitsALabelValue(t *testing.T) {
	long := strings.Repeat("a", 63)
	tests := []struct{ cluster, typ, prefix string }{
		{"c1", "cpu", "c1-cpu-"},
		{"Prod_EU", "GPU.large", "prod-eu-gpu-large-"},
		{long, "cpu", long[:57] + "-"},
		{"c1", "-_.", "c1-x-"},
	}
	for _, tc := range tests {
		p := &Provider{cfg: Config{Cluster: tc.cluster}}
		name := p.podName(tc.typ)
		if len(name) > 63 || !strings.HasPrefix(name, tc.prefix) || len(name) != len(tc.prefix)+suffixLen {
			t.Errorf("podName(%q, %q) = %q (%d chars), want %s + %d characters, at most 63", tc.cluster, tc.typ, name, len(name), tc.prefix, suffixLen)
		}
	}
}

func nodeContainer(t *testing.T, pod *corev1.Pod) corev1.Container {
	t.Helper()
	for _, c := range pod.Spec.Containers {
		if c.Name == ContainerName {
			return c
		}
	}
	t.Fatalf("pod %s has no %s container", pod.Name, ContainerName)
	return corev1.Container{}
}

// checkResource checks that request and limit of name are want ("" means
// absent).
func checkResource(t *testing.T, c corev1.Container, name corev1.ResourceName, want string) {
	t.Helper()
	req, hasReq := c.Resources.Requests[name]
	lim, hasLim := c.Resources.Limits[name]
	if want == "" {
		if hasReq || hasLim {
			t.Errorf("%s: request %v limit %v, want none", name, req.String(), lim.String())
		}
		return
	}
	w := resource.MustParse(want)
	if !hasReq || !hasLim || req.Cmp(w) != 0 || lim.Cmp(w) != 0 {
		t.Errorf("%s: request %s limit %s, want both %s", name, req.String(), lim.String(), want)
	}
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func countEnv(c corev1.Container, name string) int {
	n := 0
	for _, e := range c.Env {
		if e.Name == name {
			n++
		}
	}
	return n
}

func hasMount(c corev1.Container, volume, path string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == volume && m.MountPath == path })
}

func hasVolume(pod *corev1.Pod, name string) bool {
	return slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == name })
}
