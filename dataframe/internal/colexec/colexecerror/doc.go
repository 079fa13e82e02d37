// Package colexecerror carries errors out of vectorized code by panic, so that
// kernels and operators need no error return in their hot loops; Catch, at the
// edge of a pipeline, turns the panic back into the error.
package colexecerror
