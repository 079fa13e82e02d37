// Command gen writes kernels.eg.go: the per-type, per-operator loops of package
// eval (arithmetic, comparisons to selections and to booleans), in the manner of
// CockroachDB's execgen. Run `go generate ./dataframe/...` after editing.
package main
