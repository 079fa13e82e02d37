package kubernetes

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/shoal-dev/shoal/autoscaler"
)

// stuckReasons are container waiting reasons a pod does not get out of by
// itself: the image cannot be pulled, the container cannot be configured
// (a missing Secret or key), or it keeps crashing. Such a pod is reported
// failed so that the autoscaler replaces it instead of waiting forever.
// ErrImagePull and CreateContainerError are not here: the kubelet retries
// them and they are often transient; ImagePullBackOff follows when not.
var stuckReasons = map[string]bool{
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CreateContainerConfigError": true,
	"CrashLoopBackOff":           true,
	"RunContainerError":          true,
}

// instanceFromPod maps a pod to the autoscaler's view of it.
func instanceFromPod(pod *corev1.Pod) autoscaler.Instance {
	state, reason := podState(pod)
	return autoscaler.Instance{
		ID:         pod.Name,
		Type:       pod.Labels[autoscaler.LabelNodeType],
		State:      state,
		LaunchedAt: pod.CreationTimestamp.Time,
		Reason:     reason,
	}
}

// podState is the instance state of pod and, for a failed or pending one,
// why (a pending pod's reason says what it waits for: "Unschedulable: 0/3
// nodes are available: 3 Insufficient nvidia.com/gpu.").
func podState(pod *corev1.Pod) (autoscaler.InstanceState, string) {
	if pod.DeletionTimestamp != nil {
		return autoscaler.InstanceTerminating, ""
	}
	switch pod.Status.Phase {
	case corev1.PodFailed:
		return autoscaler.InstanceFailed, failedReason(pod)
	case corev1.PodSucceeded:
		return autoscaler.InstanceFailed, "the node exited on its own (pod Succeeded" + terminatedDetail(pod) + ")"
	}
	if r := stuckReason(pod); r != "" {
		return autoscaler.InstanceFailed, r
	}
	switch pod.Status.Phase {
	case corev1.PodRunning:
		return autoscaler.InstanceRunning, ""
	case corev1.PodUnknown:
		return autoscaler.InstancePending, "phase Unknown: the kubelet on " + orUnknown(pod.Spec.NodeName) + " stopped reporting"
	}
	return autoscaler.InstancePending, pendingReason(pod)
}

// failedReason explains a Failed pod: the pod's own reason (Evicted,
// DeadlineExceeded, NodeLost, ...) or its shoal container's termination
// (OOMKilled, Error with the exit code).
func failedReason(pod *corev1.Pod) string {
	var parts []string
	if pod.Status.Reason != "" {
		parts = append(parts, joinReason(pod.Status.Reason, pod.Status.Message))
	}
	if cs := nodeContainerStatus(pod); cs != nil {
		if t := cs.State.Terminated; t != nil {
			parts = append(parts, "container "+cs.Name+": "+terminatedText(t))
		} else if t := cs.LastTerminationState.Terminated; t != nil {
			parts = append(parts, "container "+cs.Name+" last exited: "+terminatedText(t))
		}
	}
	if len(parts) == 0 {
		return "pod Failed"
	}
	return strings.Join(parts, "; ")
}

// terminatedDetail is ", container X: <termination>" for a finished pod.
func terminatedDetail(pod *corev1.Pod) string {
	if cs := nodeContainerStatus(pod); cs != nil && cs.State.Terminated != nil {
		return ", container " + cs.Name + ": " + terminatedText(cs.State.Terminated)
	}
	return ""
}

func terminatedText(t *corev1.ContainerStateTerminated) string {
	reason := t.Reason
	if reason == "" {
		reason = "exited"
	}
	s := fmt.Sprintf("%s (exit code %d)", reason, t.ExitCode)
	if t.Signal != 0 {
		s = fmt.Sprintf("%s (exit code %d, signal %d)", reason, t.ExitCode, t.Signal)
	}
	if t.Message != "" {
		s += ": " + t.Message
	}
	return s
}

// stuckReason is why a pod that is not Failed will not become a node, or "".
func stuckReason(pod *corev1.Pod) string {
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range statuses {
			w := cs.State.Waiting
			if w == nil || !stuckReasons[w.Reason] {
				continue
			}
			s := "container " + cs.Name + ": " + joinReason(w.Reason, w.Message)
			if t := cs.LastTerminationState.Terminated; t != nil {
				s += " (last exit: " + terminatedText(t) + ")"
			}
			return s
		}
	}
	return ""
}

// pendingReason says what a pending pod waits for, or "" if nothing
// noteworthy (it is being created).
func pendingReason(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
			return joinReason(c.Reason, c.Message)
		}
	}
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range statuses {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
				return "container " + cs.Name + ": " + joinReason(w.Reason, w.Message)
			}
		}
	}
	return ""
}

// nodeContainerStatus is the status of the shoal container, or of the first
// container when no container has that name (a pod made by hand).
func nodeContainerStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == ContainerName {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	if len(pod.Status.ContainerStatuses) > 0 {
		return &pod.Status.ContainerStatuses[0]
	}
	return nil
}

func joinReason(reason, message string) string {
	if message == "" {
		return reason
	}
	return reason + ": " + message
}

func orUnknown(s string) string {
	if s == "" {
		return "its node"
	}
	return s
}
