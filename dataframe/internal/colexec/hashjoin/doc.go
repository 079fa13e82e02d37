// Package hashjoin implements the hash join (inner, left outer, semi, anti, with
// an optional residual predicate) over a build table that probes share
// read-only, and a grace hash join that spills both sides past a memory budget.
package hashjoin
