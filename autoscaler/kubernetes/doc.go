// Package kubernetes is the autoscaler's node provider that runs Shoal nodes
// as pods, created and deleted through client-go from a pod template.
//
// Every pod it launches is named <cluster>-<type>-<random>, carries the
// labels shoal.io/cluster, shoal.io/node-type and shoal.io/instance (the pod
// name) plus the node type's own labels, and runs
//
//	shoal node --head ADDR --cpus N [--gpus N] [--memory B] [--resources k=v,...]
//	           --labels shoal.io/cluster=C,shoal.io/instance=POD,shoal.io/node-type=T
//	           --data-listen [$(SHOAL_POD_IP)]:7390
//
// with the cluster token from a Secret in $SHOAL_TOKEN. List selects pods by
// the cluster label, so a restarted head finds the pods an earlier head
// launched.
//
// Failures: every API call is retried inside the provider with
// context-bounded exponential backoff while the error is transient (429,
// 5xx, timeouts, conflicts, broken connections); what is left is returned as
// an *Error that says what was being done, to which pod or node type, what
// the person running the cluster should change (the RBAC verb that is
// missing, the field the API server rejected), and whether trying again
// later may help (IsRetryable). The package never panics and never exits.
// Retry is exported for callers that want the same policy around their own
// calls.
//
// `shoal head --autoscale FILE` with "provider": "kubernetes" builds the
// provider with NewFromSettings from the file's "kubernetes" object. The
// deployment manifests (RBAC, the head, its Service and state volume) and
// their documentation are in deploy/kubernetes.
package kubernetes
