// Package colexecop defines the vectorized operator contract (Init / Next / Close),
// error propagation by typed panics, and the simple operators: filter, project,
// limit and in-memory batch sources.
package colexecop
