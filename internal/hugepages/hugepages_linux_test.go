//go:build linux && (amd64 || arm64)

package hugepages

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestAnonRW(t *testing.T) {
	for _, tc := range []struct {
		line       string
		start, end uintptr
		ok         bool
	}{
		{"32458b000000-324591800000 rw-p 00000000 00:00 0 ", 0x32458b000000, 0x324591800000, true},
		{"7fe451000000-7fe453000000 rw-p 00000000 00:00 0\n", 0x7fe451000000, 0x7fe453000000, true},
		{"c000000000-c000400000 rw-p 00000000 00:00 0        [anon: Go: heap]", 0xc000000000, 0xc000400000, true},
		{"324588000000-32458b000000 ---p 00000000 00:00 0 ", 0, 0, false},                               // reserved, not mapped
		{"0058e000-00599000 rw-p 0018e000 fe:00 9978561    /tmp/exe", 0, 0, false},                      // a file's data
		{"7fff3d975000-7fff3d996000 rw-p 00000000 00:00 0                        [stack]", 0, 0, false}, // the kernel's
		{"7fe497af0000-7fe497af4000 r--p 00000000 00:00 0", 0, 0, false},                                // read-only
		{"7fe497af0000-7fe497af4000 rw-s 00000000 00:01 12 /dev/shm/x", 0, 0, false},                    // shared
		{"7fe4-7fe3 rw-p 00000000 00:00 0", 0, 0, false},                                                // empty
		{"zz-7fe3 rw-p 00000000 00:00 0", 0, 0, false},
		{"", 0, 0, false},
	} {
		start, end, ok := anonRW([]byte(tc.line))
		if ok != tc.ok || start != tc.start || end != tc.end {
			t.Errorf("anonRW(%q) = %#x, %#x, %v; want %#x, %#x, %v", tc.line, start, end, ok, tc.start, tc.end, tc.ok)
		}
	}
}

// smapsEntry is one mapping of /proc/self/smaps.
type smapsEntry struct {
	start, end uintptr
	hugeBytes  int64 // AnonHugePages
	flags      []string
}

func readSmaps(t *testing.T) []smapsEntry {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var out []smapsEntry
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping's first line: its range
			lo, hi, _ := strings.Cut(f[0], "-")
			s, _ := strconv.ParseUint(lo, 16, 64)
			e, _ := strconv.ParseUint(hi, 16, 64)
			out = append(out, smapsEntry{start: uintptr(s), end: uintptr(e)})
			continue
		}
		if len(out) == 0 {
			continue
		}
		last := &out[len(out)-1]
		switch {
		case f[0] == "AnonHugePages:" && len(f) > 1:
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			last.hugeBytes = kb << 10
		case f[0] == "VmFlags:":
			last.flags = f[1:]
		}
	}
	return out
}

// hugeIn sums AnonHugePages over the mappings that overlap [lo, hi).
func hugeIn(t *testing.T, lo, hi uintptr) int64 {
	var n int64
	for _, m := range readSmaps(t) {
		if m.start < hi && lo < m.end {
			n += m.hugeBytes
		}
	}
	return n
}

// noHuge lists the mappings the runtime asked to keep in small pages.
func noHuge(t *testing.T) [][2]uintptr {
	var out [][2]uintptr
	for _, m := range readSmaps(t) {
		if slices.Contains(m.flags, "nh") {
			out = append(out, [2]uintptr{m.start, m.end})
		}
	}
	return out
}

func offered(t *testing.T) {
	t.Helper()
	if !Offered() {
		t.Skip("this kernel gives no transparent huge pages (THP \"never\"), or a Go memory limit is set: Keep does nothing")
	}
}

// thpFallbacks is the kernel's count of huge page faults it served with
// small pages (no huge page free).
func thpFallbacks(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "thp_fault_fallback "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

func touch(b []byte) {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
}

// TestReserveInHugePages: memory the heap hands out from the reserve comes
// in huge pages, and the runtime's own small-page mappings stay so.
func TestReserveInHugePages(t *testing.T) {
	offered(t)
	if reservable() < 256<<20 {
		t.Skip("no room for a reserve here (vm.overcommit_memory=2, ulimit -v or -d, or little memory available)")
	}
	before := noHuge(t)
	fallbacks := thpFallbacks(t)
	h, err := start(256 << 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range readSmaps(t) {
		for _, nh := range before {
			if slices.Contains(m.flags, "hg") && m.start < nh[1] && nh[0] < m.end {
				t.Errorf("mapping %#x-%#x, which the runtime kept in small pages, was advised", m.start, m.end)
			}
		}
	}
	// A buffer of memory not resident yet (an earlier test's fill may have
	// made free heap memory resident: those buffers are set aside).
	var b []byte
	var aside [][]byte
	for range 64 {
		b = make([]byte, 16<<20)
		q := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		if residentIn(t, q&^4095, (q+uintptr(len(b)))&^4095) < 2<<20 {
			break
		}
		aside = append(aside, b)
	}
	runtime.KeepAlive(aside)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if !slices.ContainsFunc(heapMappings(mustMaps(t), h.seed), func(m [2]uintptr) bool { return m[0] <= p && p < m[1] }) {
		t.Fatalf("a 16 MiB buffer at %#x is outside the heap Keep found (seed %#x)", p, h.seed)
	}
	was := hugeIn(t, p, p+uintptr(len(b)))
	touch(b)
	got := hugeIn(t, p, p+uintptr(len(b))) - was
	if thpFallbacks(t) > fallbacks {
		t.Skip("the kernel had no huge page free for some faults (fragmented memory): nothing to measure")
	}
	if got < 14<<20 {
		t.Errorf("a 16 MiB buffer from the reserve: %d bytes more in huge pages, want at least 14 MiB", got)
	}
	runtime.KeepAlive(b)
}

// TestGrowthAdvised: without a reserve, the mappings the runtime adds as the
// heap grows in small steps are advised at the next scan.
func TestGrowthAdvised(t *testing.T) {
	offered(t)
	h, err := start(0)
	if err != nil {
		t.Fatal(err)
	}
	var keep [][]byte
	for range 32 { // 32 MiB in 1 MiB objects: several of the runtime's 4 MiB steps
		b := make([]byte, 1<<20)
		touch(b)
		keep = append(keep, b)
	}
	if err := h.advise(); err != nil {
		t.Fatal(err)
	}
	heapNow := heapMappings(mustMaps(t), h.seed)
	for _, b := range keep {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		if !slices.ContainsFunc(heapNow, func(m [2]uintptr) bool { return m[0] <= p && p < m[1] }) {
			t.Fatalf("an object at %#x is outside the heap Keep found: %#x", p, heapNow)
		}
	}
	for _, m := range readSmaps(t) {
		if slices.Contains(heapNow, [2]uintptr{m.start, m.end}) && !slices.Contains(m.flags, "hg") {
			t.Errorf("heap mapping %#x-%#x not advised (flags %v)", m.start, m.end, m.flags)
		}
	}
	runtime.KeepAlive(keep)
}

// TestNoReserveUnderLimit: a Go memory limit turns Keep off.
func TestNoReserveUnderLimit(t *testing.T) {
	old := debug.SetMemoryLimit(1 << 40)
	defer debug.SetMemoryLimit(old)
	if Enabled() {
		t.Fatal("Enabled() under a memory limit")
	}
}

func mustMaps(t *testing.T) [][2]uintptr {
	t.Helper()
	maps, err := readMaps()
	if err != nil {
		t.Fatal(err)
	}
	return maps
}

// residentIn counts the resident bytes of [lo, hi) (page aligned).
func residentIn(t *testing.T, lo, hi uintptr) uint64 {
	t.Helper()
	page := uintptr(os.Getpagesize())
	vec := make([]byte, (hi-lo)/page)
	if err := residency(lo, hi, vec); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, v := range vec {
		n += uint64(v & 1)
	}
	return n * uint64(page)
}

func residentHeap(t *testing.T, h *heap) uint64 {
	t.Helper()
	var n uint64
	for _, m := range heapMappings(mustMaps(t), h.seed) {
		n += residentIn(t, m[0], m[1])
	}
	return n
}

// roomInHeap leaves n bytes of the heap's mappings free and not resident:
// the runtime maps n bytes for an object, which is dropped, and the free
// memory is returned to the system.
func roomInHeap(n int) {
	b := make([]byte, n)
	touch(b)
	runtime.KeepAlive(b)
	b = nil
	debug.FreeOSMemory()
}

// TestFill: fill makes the heap's pages resident up to its target, no
// further, and changes no byte of the memory in use.
func TestFill(t *testing.T) {
	offered(t)
	h, err := start(0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8<<20)
	for i := range b {
		b[i] = byte(i%251 + 1)
	}
	roomInHeap(96 << 20)
	if err := h.advise(); err != nil {
		t.Fatal(err)
	}
	before := residentHeap(t, h)
	const more = 48 << 20
	if err := h.fill(t.Context(), before+more); err != nil {
		t.Fatal(err)
	}
	after := residentHeap(t, h)
	if after < before+more || after > before+more+4<<20 {
		t.Errorf("fill to %d MiB resident (from %d MiB): %d MiB resident, want %d MiB (up to 4 MiB over: huge pages)",
			(before+more)>>20, before>>20, after>>20, (before+more)>>20)
	}
	if err := h.fill(t.Context(), before+more); err != nil {
		t.Fatal(err)
	}
	if again := residentHeap(t, h); again > after+1<<20 {
		t.Errorf("a second fill to the same target made %d MiB more resident", (again-after)>>20)
	}
	for i, c := range b {
		if c != byte(i%251+1) {
			t.Fatalf("byte %d is %d after fill, want %d", i, c, byte(i%251+1))
		}
	}
}

// TestFillAheadAfterGC: Keep with FillAhead fills the heap's headroom after
// a collection, up to the heap's goal.
func TestFillAheadAfterGC(t *testing.T) {
	offered(t)
	h, err := start(0)
	if err != nil {
		t.Fatal(err)
	}
	h.fillAhead = true
	b := make([]byte, 64<<20) // live: the goal is at least twice that
	roomInHeap(256 << 20)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); h.watch(ctx) }()
	defer func() { cancel(); <-done }()
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(sample)
	goal := sample[0].Value.Uint64()
	deadline := time.Now().Add(10 * time.Second)
	for residentHeap(t, h) < goal {
		if time.Now().After(deadline) {
			t.Fatalf("after a collection the heap holds %d MiB resident; want its goal, %d MiB, filled within 10 s",
				residentHeap(t, h)>>20, goal>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(b)
}
