//go:build !linux

package transfer

func allocBuffer(n uint64) []byte { return make([]byte, n) }
