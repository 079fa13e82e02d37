// Package eval compiles resolved expressions into vectorized evaluators (values)
// and selectors (filters producing selection vectors) over coldata batches.
// Evaluation errors (division by zero, text that does not parse) are raised as
// *expr.EvalError with colexecerror.Throw, only for live rows whose operands
// are not null, and reach the caller through the pipeline's Catch.
package eval
