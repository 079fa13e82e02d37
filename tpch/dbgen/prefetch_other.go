//go:build !amd64

package dbgen

// prefetch is a hint only; on other architectures it does nothing and the
// comments are fetched when they are copied (amd64 has the instruction in
// prefetch_amd64.s; other architectures were left out until they can be
// tested).
func prefetch(base *byte, offsets []int64) {}
