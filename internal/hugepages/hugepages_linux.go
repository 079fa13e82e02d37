//go:build linux && (amd64 || arm64)

package hugepages

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// supported: a 64-bit Linux, where address space is plenty.
const supported = true

// readMaps returns the private anonymous read-write mappings of this
// process, in address order, from /proc/self/maps.
func readMaps() ([][2]uintptr, error) {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, fmt.Errorf("reading this process's mappings: %w", err)
	}
	var out [][2]uintptr
	for line := range bytes.Lines(data) {
		if start, end, ok := anonRW(line); ok {
			out = append(out, [2]uintptr{start, end})
		}
	}
	return out, nil
}

// anonRW parses one line of /proc/self/maps: the range of a private,
// anonymous, readable and writable mapping (no file; no name, or a name
// the process gave it, such as the runtime's "[anon: Go: heap]").
func anonRW(line []byte) (start, end uintptr, ok bool) {
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[1]) != "rw-p" || string(f[4]) != "0" ||
		len(f) > 5 && !bytes.HasPrefix(f[5], []byte("[anon:")) {
		return 0, 0, false
	}
	lo, hi, found := bytes.Cut(f[0], []byte("-"))
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(string(lo), 16, 64)
	e, err2 := strconv.ParseUint(string(hi), 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}

// adviseRange asks for huge pages in [start, end), a whole mapping (page
// aligned: madvise splits nothing).
func adviseRange(start, end uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, syscall.MADV_HUGEPAGE); errno != 0 {
		return fmt.Errorf("madvise(%#x, %d, MADV_HUGEPAGE): %w", start, end-start, errno)
	}
	return nil
}

// kernelOffers reports whether the kernel gives transparent huge pages on
// request (THP "madvise" or "always", not "never").
func kernelOffers() bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	return err == nil && (bytes.Contains(b, []byte("[madvise]")) || bytes.Contains(b, []byte("[always]")))
}

// reservable is how much address space Keep may map ahead: half of what
// the machine has available; nothing when the kernel does not overcommit
// (vm.overcommit_memory=2: the reserve would count against the commit
// limit) or the process's address space or data are limited (ulimit -v,
// -d: the reserve would count against them).
func reservable() int64 {
	if b, err := os.ReadFile("/proc/sys/vm/overcommit_memory"); err != nil || bytes.HasPrefix(bytes.TrimSpace(b), []byte("2")) {
		return 0
	}
	for _, res := range []int{syscall.RLIMIT_AS, syscall.RLIMIT_DATA} {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(res, &lim); err != nil || lim.Cur != math.MaxUint64 /* RLIM_INFINITY */ {
			return 0
		}
	}
	return available() / 2
}

// available is the memory the machine has available (MemAvailable of
// /proc/meminfo), 0 when unknown.
func available() int64 { return meminfo("MemAvailable:") }

// physical is the machine's memory (MemTotal of /proc/meminfo), 0 when
// unknown.
func physical() int64 { return meminfo("MemTotal:") }

// meminfo reads one field of /proc/meminfo, in bytes; 0 when unknown.
func meminfo(field string) int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte(field)); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14): fault pages in
// writable, as a write would, without writing.
const madvPopulateWrite = 23

// populate faults in [start, end) (page aligned) without changing its
// contents, so that it is safe on memory the runtime may be using.
func populate(start, end uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvPopulateWrite); errno != 0 {
		return fmt.Errorf("madvise(%#x, %d, MADV_POPULATE_WRITE): %w", start, end-start, errno)
	}
	return nil
}

// residency fills vec (one byte per page of [start, end)) with mincore's
// answer: bit 0 set where the page is resident.
func residency(start, end uintptr, vec []byte) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, start, end-start, uintptr(unsafe.Pointer(unsafe.SliceData(vec)))); errno != 0 {
		return fmt.Errorf("mincore(%#x, %d): %w", start, end-start, errno)
	}
	return nil
}
