package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Sentinel errors for the conditions a caller acts on; an *Error matches one
// of them with errors.Is.
var (
	// ErrForbidden: the API server refused the call (RBAC, a ResourceQuota,
	// an admission policy such as PodSecurity). Retrying does not help until
	// someone changes the cluster's configuration.
	ErrForbidden = errors.New("forbidden by the Kubernetes API server")
	// ErrInvalid: the pod (or the provider's configuration, or a node type)
	// is not valid. Retrying the same request does not help.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: the API server was overloaded, unreachable or timed
	// out, or kept reporting conflicts, for every attempt. Trying again
	// later may work.
	ErrUnavailable = errors.New("API server unavailable")
	// ErrNotOurs: Terminate was asked to delete a pod that is not a node of
	// this cluster; it is left alone.
	ErrNotOurs = errors.New("not a node of this cluster")
)

// Error is a failed provider operation: what was being done, to which pod or
// node type, in which namespace, after how many attempts, and why.
type Error struct {
	// Op is what was being done: "creating pod", "listing pods",
	// "deleting pod", "building pod".
	Op        string
	Namespace string
	// Pod and NodeType name the object concerned, when there is one.
	Pod      string
	NodeType string
	// Attempts is how many API calls were made (0: refused before any).
	Attempts int
	// Hint tells the person running the cluster what to change.
	Hint string
	// Kind is one of the sentinels above (nil for an unclassified error).
	Kind error
	// Err is the last underlying error, often a *apierrors.StatusError.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("kubernetes provider: ")
	b.WriteString(e.Op)
	if e.Pod != "" {
		fmt.Fprintf(&b, " %s", e.Pod)
	}
	if e.NodeType != "" {
		fmt.Fprintf(&b, " (node type %q)", e.NodeType)
	}
	if e.Namespace != "" {
		fmt.Fprintf(&b, " in namespace %q", e.Namespace)
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (gave up after %d attempts)", e.Attempts)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is match the sentinel kind and errors.As reach the API
// server's status (apierrors.IsForbidden and friends work on an *Error).
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// Retryable reports whether the same operation may succeed when tried again
// later (the API server was overloaded or unreachable), as opposed to needing
// a change to the cluster or the configuration first.
func (e *Error) Retryable() bool { return errors.Is(e.Kind, ErrUnavailable) }

// IsRetryable reports whether err is worth retrying: an error that says so
// through a Retryable() bool method (as *Error does), or a transient
// Kubernetes API or network error. A cancelled context is not retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return transient(err)
}

// transient classifies an error from one API call: true for what the next
// attempt may not meet (throttling, server errors, timeouts, optimistic
// concurrency conflicts, expired list continuations, broken connections).
func transient(err error) bool {
	switch {
	case err == nil:
		return false
	case apierrors.IsTooManyRequests(err),
		apierrors.IsServerTimeout(err),
		apierrors.IsTimeout(err),
		apierrors.IsInternalError(err),
		apierrors.IsServiceUnavailable(err),
		apierrors.IsUnexpectedServerError(err),
		apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err),
		apierrors.IsResourceExpired(err),
		apierrors.IsGone(err):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		// One attempt's own deadline; the caller checks its context first.
		return true
	case errors.Is(err, context.Canceled):
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code == 429 || code >= 500
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// Anything else that is not an API status came from the transport (a
	// reset connection, an EOF while the API server restarts).
	return true
}

// classify fills e's Kind and Hint from its underlying error.
func (e *Error) classify(verb string) *Error {
	err := e.Err
	switch {
	case apierrors.IsForbidden(err):
		e.Kind = ErrForbidden
		e.Hint = forbiddenHint(err, verb, e.Namespace)
	case apierrors.IsUnauthorized(err):
		e.Kind = ErrForbidden
		e.Hint = "the API server did not accept the provider's credentials (an expired or revoked service account token, or a kubeconfig for another cluster)"
	case apierrors.IsInvalid(err):
		e.Kind = ErrInvalid
		e.Hint = invalidHint(err)
	case apierrors.IsBadRequest(err):
		e.Kind = ErrInvalid
		e.Hint = "the API server rejected the request as malformed"
	case apierrors.IsNotFound(err) && verb == "create":
		e.Kind = ErrInvalid
		e.Hint = fmt.Sprintf("namespace %q does not exist (create it, or point --namespace at the head's namespace)", e.Namespace)
	case transient(err):
		e.Kind = ErrUnavailable
		e.Hint = "the Kubernetes API server was overloaded, unreachable or kept reporting conflicts; trying again later may work"
	}
	return e
}

// forbiddenHint says which permission is missing. Three things answer 403:
// RBAC, an exhausted ResourceQuota and admission (PodSecurity, policy
// webhooks); each needs a different fix.
func forbiddenHint(err error, verb, namespace string) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "exceeded quota"):
		return fmt.Sprintf("a ResourceQuota in namespace %q is exhausted; raise it or lower the node types' max", namespace)
	case strings.Contains(msg, "violates PodSecurity"):
		return fmt.Sprintf("the pod violates namespace %q's Pod Security level; set the securityContext it asks for in the pod template", namespace)
	case strings.Contains(msg, "admission webhook"):
		return "an admission webhook refused the pod; change the pod template to satisfy it"
	}
	return fmt.Sprintf("RBAC: the head's service account may not %q resource \"pods\" in namespace %q; grant the verb in the Role bound to it (deploy/kubernetes/rbac.yaml grants %s)",
		verb, namespace, strings.Join(PodVerbs, ", "))
}

// invalidHint lists the fields the API server rejected and why.
func invalidHint(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil || len(status.Status().Details.Causes) == 0 {
		return "the API server rejected the pod as invalid"
	}
	var fields []string
	for _, c := range status.Status().Details.Causes {
		if c.Field != "" {
			fields = append(fields, fmt.Sprintf("field %s: %s", c.Field, c.Message))
		} else {
			fields = append(fields, c.Message)
		}
	}
	return "the API server rejected the pod: " + strings.Join(fields, "; ") + " (check the pod template and the node type)"
}

// invalidConfig is an *Error for a problem found before any API call.
func invalidConfig(op, namespace, nodeType, format string, args ...any) *Error {
	return &Error{Op: op, Namespace: namespace, NodeType: nodeType, Kind: ErrInvalid, Hint: fmt.Sprintf(format, args...)}
}
