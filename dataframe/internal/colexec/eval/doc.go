// Package eval compiles resolved expressions into vectorized evaluators (values)
// and selectors (filters producing selection vectors) over coldata batches.
package eval
