package dbgen

import (
	"syscall"
	"unsafe"
)

// hugePageSize is the size of a transparent huge page on amd64 and arm64.
const hugePageSize = 2 << 20

// allocLarge returns n zeroed bytes outside the Go heap, advised to use
// transparent huge pages: the text pool is read at random offsets, and 4 KiB
// pages would cost a TLB miss (and building it a page fault) every few
// sentences. free returns the memory to the OS; the slice must not be used
// after it. If the mapping fails, the memory comes from the Go heap.
func allocLarge(n int) (b []byte, free func()) {
	m, err := syscall.Mmap(-1, 0, n+hugePageSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]byte, n), func() {}
	}
	// Start at a huge page boundary so the kernel can back the whole slice
	// with huge pages.
	off := 0
	if rem := int(uintptr(unsafe.Pointer(unsafe.SliceData(m))) % hugePageSize); rem != 0 {
		off = hugePageSize - rem
	}
	b = m[off : off+n : off+n]
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
	return b, func() { _ = syscall.Munmap(m) }
}
