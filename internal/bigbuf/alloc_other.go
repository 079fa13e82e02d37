//go:build !linux

package bigbuf

func Alloc(n uint64) []byte { return make([]byte, n) }
