// Package hashagg implements hash aggregation (single-phase, partial and final)
// over typed per-group states, spilling partitions to disk past a memory budget.
package hashagg
