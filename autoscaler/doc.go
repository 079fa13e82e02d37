// Package autoscaler grows and shrinks a Shoal cluster with its work: a
// reconcile loop over declared demand (pending tasks and actors with their
// resource shapes, and explicit requests) decides, as a pure function of a
// snapshot, which node types to launch and which idle nodes to remove, and
// node providers (local processes, Kubernetes pods) carry the decisions
// out.
package autoscaler
