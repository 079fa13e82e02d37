// Package optimize rewrites logical plans: constant folding, predicate pushdown
// (into joins and scans, with filters derived from disjunctions), join side
// selection by estimated cardinality, top-k, and projection pruning.
package optimize
