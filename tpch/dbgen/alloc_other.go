//go:build !linux

package dbgen

// allocLarge returns n zeroed bytes; free is a no-op (the Go heap owns them).
func allocLarge(n int) (b []byte, free func()) {
	return make([]byte, n), func() {}
}
