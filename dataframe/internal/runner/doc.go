// Package runner executes a physical plan on one node: stages in dependency
// order, each stage's partitions in parallel on all cores, exchanges in memory.
package runner
