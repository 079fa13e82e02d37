// Package coldata holds the in-memory columnar batch the operators exchange: typed
// Go slices laid out like Arrow buffers (zero-copy to and from Arrow arrays), with a
// selection vector instead of copies.
package coldata
