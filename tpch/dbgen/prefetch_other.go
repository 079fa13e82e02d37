//go:build !amd64 && !arm64

package dbgen

// prefetch is a hint only; on other architectures it does nothing and the
// comments are fetched when they are copied.
func prefetch(base *byte, offsets []int64) {}
