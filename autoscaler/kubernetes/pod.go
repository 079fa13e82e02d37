package kubernetes

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/shoal-dev/shoal/autoscaler"
)

// What the provider puts into every pod.
const (
	// ContainerName is the shoal node's container. A pod template may
	// define it (its image, env, mounts and probes are kept; command, args,
	// CPU, memory and GPU are set by the provider); other containers of the
	// template run beside it.
	ContainerName = "shoal-node"
	// DataPort is the node's data plane port (peer-to-peer object
	// transfer), listened on at the pod's IP.
	DataPort = 7390
	// WorkVolume is an emptyDir mounted at WorkDir, which is the node's
	// TMPDIR: job packages and spilled objects go there. A template may
	// define a volume of that name (a sized emptyDir, an ephemeral PVC) to
	// replace it.
	WorkVolume = "shoal-work"
	WorkDir    = "/var/lib/shoal"
	// FieldManager names the provider in the pods' managed fields.
	FieldManager = "shoal-autoscaler"

	tlsVolume   = "shoal-tls-ca"
	tlsDir      = "/etc/shoal/tls"
	envToken    = "SHOAL_TOKEN"
	envPodIP    = "SHOAL_POD_IP"
	envTmpDir   = "TMPDIR"
	portName    = "data"
	maxNameLen  = validation.LabelValueMaxLength // the name is also a label value
	suffixChars = "bcdfghjklmnpqrstvwxz2456789"  // as Kubernetes' generateName
	suffixLen   = 5
)

// Resource names in autoscaler.NodeType.Resources with a meaning of their
// own; every other name is a custom resource.
const (
	resCPU    = "CPU"
	resGPU    = "GPU"
	resMemory = "memory"
)

// nodeSpec is a node type checked and converted for pod building.
type nodeSpec struct {
	typ    autoscaler.NodeType
	cpu    float64
	gpus   int64
	memory int64
	custom []string // "name=value", sorted
	tmpl   *corev1.PodTemplateSpec
}

// nodeSpec checks t before any API call: a node type the API server or
// `shoal node` would reject is reported with what to change.
func (p *Provider) nodeSpec(t autoscaler.NodeType) (*nodeSpec, error) {
	bad := func(format string, args ...any) error {
		return invalidConfig("building pod", p.cfg.Namespace, t.Name, format, args...)
	}
	if t.Name == "" {
		return nil, bad("the node type has no name")
	}
	if msgs := validation.IsValidLabelValue(t.Name); len(msgs) > 0 {
		return nil, bad("the node type's name is not a valid label value: %s", strings.Join(msgs, "; "))
	}
	for k, v := range t.Labels {
		if k == autoscaler.LabelCluster || k == autoscaler.LabelInstance || k == autoscaler.LabelNodeType {
			return nil, bad("label %s is set by the provider; remove it from the node type", k)
		}
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return nil, bad("label key %q is not valid: %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			return nil, bad("label %s=%q: the value is not valid: %s", k, v, strings.Join(msgs, "; "))
		}
	}
	s := &nodeSpec{typ: t, tmpl: p.cfg.PodTemplate}
	if tmpl, ok := p.cfg.TypeTemplates[t.Name]; ok {
		s.tmpl = tmpl
	}
	if p.cfg.Image == "" && templateImage(s.tmpl) == "" {
		return nil, bad("no image: set Config.Image (--image) or the image of the pod template's %q container", ContainerName)
	}
	for name, v := range t.Resources {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, bad("resource %s=%v must be a non-negative number", name, v)
		}
		switch name {
		case resCPU:
			s.cpu = v
		case resGPU:
			if v != math.Trunc(v) {
				return nil, bad("GPU=%v: a pod gets whole GPUs (%s is an integer resource)", v, p.cfg.GPUResource)
			}
			s.gpus = int64(v)
		case resMemory:
			s.memory = int64(v)
		default:
			if name == "" || strings.ContainsAny(name, ",= ") {
				return nil, bad("custom resource name %q may not be empty or contain ',', '=' or spaces", name)
			}
			s.custom = append(s.custom, name+"="+formatFloat(v))
		}
	}
	if s.cpu < 0.001 {
		return nil, bad("resource CPU is %v: a node type needs at least 0.001 CPU (the pod's CPU request and the node's --cpus)", s.cpu)
	}
	slices.Sort(s.custom)
	return s, nil
}

// podName draws <cluster>-<type>-<5 random characters>, shortened to fit a
// label value (the name is the shoal.io/instance label too).
func (p *Provider) podName(nodeType string) string {
	prefix := dnsSafe(p.cfg.Cluster) + "-" + dnsSafe(nodeType)
	if limit := maxNameLen - suffixLen - 1; len(prefix) > limit {
		prefix = strings.TrimRight(prefix[:limit], "-")
	}
	b := make([]byte, suffixLen)
	for i := range b {
		b[i] = suffixChars[rand.IntN(len(suffixChars))]
	}
	return prefix + "-" + string(b)
}

// dnsSafe maps a label value onto the characters a pod name may have.
func dnsSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, s)
	s = strings.Trim(s, "-")
	if s == "" {
		return "x"
	}
	return s
}

// buildPod is the pod for node name of spec: the template, with the shoal
// container filled in.
func (p *Provider) buildPod(name string, s *nodeSpec) *corev1.Pod {
	pod := &corev1.Pod{}
	if s.tmpl != nil {
		s.tmpl.ObjectMeta.DeepCopyInto(&pod.ObjectMeta)
		s.tmpl.Spec.DeepCopyInto(&pod.Spec)
	}
	pod.ObjectMeta.Name, pod.ObjectMeta.GenerateName = name, ""
	pod.ObjectMeta.Namespace = p.cfg.Namespace
	pod.ObjectMeta.ResourceVersion, pod.ObjectMeta.UID = "", ""

	nodeLabels := map[string]string{
		autoscaler.LabelCluster:  p.cfg.Cluster,
		autoscaler.LabelNodeType: s.typ.Name,
		autoscaler.LabelInstance: name,
	}
	for k, v := range s.typ.Labels {
		nodeLabels[k] = v
	}
	podLabels := map[string]string{
		"app.kubernetes.io/name":       "shoal",
		"app.kubernetes.io/component":  "node",
		"app.kubernetes.io/managed-by": FieldManager,
	}
	for k, v := range pod.Labels {
		podLabels[k] = v
	}
	for k, v := range nodeLabels {
		podLabels[k] = v
	}
	pod.Labels = podLabels

	spec := &pod.Spec
	if spec.RestartPolicy == "" {
		// The pod lives as long as its node: a node that exits is a failed
		// instance the autoscaler replaces, not a restart under the same
		// identity.
		spec.RestartPolicy = corev1.RestartPolicyNever
	}
	if spec.AutomountServiceAccountToken == nil {
		spec.AutomountServiceAccountToken = new(false) // nodes do not talk to the Kubernetes API
	}
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = new(false)
	}
	if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == WorkVolume }) {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: WorkVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	if p.cfg.TLSCASecret != "" {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: tlsVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: p.cfg.TLSCASecret, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}}})
	}

	if s.gpus > 0 && !slices.ContainsFunc(spec.Tolerations, func(t corev1.Toleration) bool { return t.Key == string(p.cfg.GPUResource) }) {
		// GPU machines are commonly tainted with the GPU resource's name
		// (what the ExtendedResourceToleration admission plugin tolerates).
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
			Key: string(p.cfg.GPUResource), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}

	i := slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == ContainerName })
	if i < 0 {
		spec.Containers = append([]corev1.Container{{Name: ContainerName}}, spec.Containers...)
		i = 0
	}
	p.fillContainer(&spec.Containers[i], s, nodeLabels)
	return pod
}

// fillContainer sets the shoal container's image, command, args, env,
// resources, port, mounts and readiness probe.
func (p *Provider) fillContainer(c *corev1.Container, s *nodeSpec, nodeLabels map[string]string) {
	if p.cfg.Image != "" {
		c.Image = p.cfg.Image
	}
	c.Command = slices.Clone(p.cfg.Command)
	c.Args = p.nodeArgs(s, nodeLabels)

	env := []corev1.EnvVar{
		{Name: envToken, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: p.cfg.TokenSecret}, Key: p.cfg.TokenSecretKey}}},
		{Name: envPodIP, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == envTmpDir }) {
		env = append(env, corev1.EnvVar{Name: envTmpDir, Value: WorkDir})
	}
	for _, e := range c.Env {
		if e.Name != envToken && e.Name != envPodIP {
			env = append(env, e)
		}
	}
	c.Env = env

	if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.ContainerPort == DataPort }) {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: portName, ContainerPort: DataPort, Protocol: corev1.ProtocolTCP})
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == WorkVolume }) {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: WorkVolume, MountPath: WorkDir})
	}
	if p.cfg.TLSCASecret != "" {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: tlsVolume, MountPath: tlsDir, ReadOnly: true})
	}
	if c.ReadinessProbe == nil {
		// Ready once the data plane listens, that is once the node has
		// started; joining the head is reported by the head.
		c.ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(DataPort)}},
			PeriodSeconds: 5,
		}
	}

	// Requests equal limits (Guaranteed QoS when the type declares memory
	// and the template's other containers do the same): the node's
	// resources are what Shoal's scheduler hands out to tasks, so the
	// kubelet should neither evict the pod first under pressure nor let it
	// take more.
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	set := func(name corev1.ResourceName, q resource.Quantity) {
		c.Resources.Requests[name] = q
		c.Resources.Limits[name] = q
	}
	set(corev1.ResourceCPU, *resource.NewMilliQuantity(int64(math.Round(s.cpu*1000)), resource.DecimalSI))
	if s.memory > 0 {
		set(corev1.ResourceMemory, *resource.NewQuantity(s.memory, resource.BinarySI))
	}
	if s.gpus > 0 {
		set(p.cfg.GPUResource, *resource.NewQuantity(s.gpus, resource.DecimalSI))
	}
}

// nodeArgs are the container's args: `node` and its flags.
func (p *Provider) nodeArgs(s *nodeSpec, nodeLabels map[string]string) []string {
	args := []string{"node", "--head", p.cfg.HeadAddress, "--cpus", formatFloat(s.cpu)}
	if s.gpus > 0 {
		args = append(args, "--gpus", strconv.FormatInt(s.gpus, 10))
	}
	if s.memory > 0 {
		args = append(args, "--memory", strconv.FormatInt(s.memory, 10))
	}
	if len(s.custom) > 0 {
		args = append(args, "--resources", strings.Join(s.custom, ","))
	}
	pairs := make([]string, 0, len(nodeLabels))
	for k, v := range nodeLabels {
		pairs = append(pairs, k+"="+v)
	}
	slices.Sort(pairs)
	args = append(args, "--labels", strings.Join(pairs, ","))
	// The kubelet expands $(SHOAL_POD_IP); the brackets make the address
	// valid for IPv6 pod IPs too, and the node advertises what it listens
	// on, so peers reach it at the pod IP.
	args = append(args, "--data-listen", fmt.Sprintf("[$(%s)]:%d", envPodIP, DataPort))
	if p.cfg.TLSCASecret != "" {
		args = append(args, "--tls-ca", tlsDir+"/ca.crt")
	}
	return args
}

// templateImage is the image of tmpl's shoal container, if it names one.
func templateImage(tmpl *corev1.PodTemplateSpec) string {
	if tmpl == nil {
		return ""
	}
	for _, c := range tmpl.Spec.Containers {
		if c.Name == ContainerName {
			return c.Image
		}
	}
	return ""
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
