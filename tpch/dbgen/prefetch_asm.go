//go:build amd64

package dbgen

// prefetch asks the processor to bring base[off] into the cache for every
// off in offsets, without waiting for it. The offsets must lie inside the
// memory base points to (a prefetch of a bad address is harmless, but the
// callers never pass one).
//
//go:noescape
func prefetch(base *byte, offsets []int64)
