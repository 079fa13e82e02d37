// Package hugepages lets a process's Go heap grow in transparent huge pages
// on a machine that gives them only on request (THP "madvise", as Debian
// and Ubuntu ship the kernel): Keep asks for them, with
// madvise(MADV_HUGEPAGE), on the heap's mappings. The Go runtime itself
// does not ask for its heap (only for some of its metadata).
//
// Why: every page of fresh memory costs a page fault, and the processes
// that do Shoal's data work go through a lot of fresh memory (loading TPC-H
// SF1 builds 2 GB of heap; an actor's new process faults in its whole heap
// on its first calls). Measured on the development machine (a VM, 2 cores):
// touching fresh memory cost 11.3 µs per 4 KiB page in small pages and
// 0.25 µs per 4 KiB in huge pages; loading SF1 (`shoalbench --sql`) went
// from 535k page faults and 6.4-7.3 s to 10k faults and 4.7-4.9 s.
//
// The runtime maps its heap in steps as it grows (4 MiB and up) and uses
// each step at once, before any advice could reach it; so Keep first makes
// the heap map a reserve of address space ahead (a large allocation, never
// written, freed and returned to the system at once: it never becomes
// resident), advises the heap's mappings, and then advises the new ones as
// the runtime adds them. The heap is found from the reserve's address (or
// a probe allocation's): the runtime grows it in contiguous address space,
// apart from its metadata, whose mappings are left as the runtime set them.
//
// The costs, and why the Go runtime stopped advising its heap itself
// (golang/go#61718, #64332): memory rounded up to 2 MiB where the heap
// touches a little of a huge page; the kernel's khugepaged may fill huge
// pages back in around the 64 KiB pieces the runtime returns to the system,
// so the process may hold more than the runtime counts (Keep does nothing
// under a Go memory limit, which relies on that count); and where the
// kernel compacts memory on request (THP defrag "madvise") a fault may wait
// for compaction on a fragmented machine. SHOAL_HUGEPAGES=0 in the
// environment turns it off.
package hugepages

import (
	"context"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
	"unsafe"
)

// EnvOff, set to 0 in the environment, keeps the process in small pages.
const EnvOff = "SHOAL_HUGEPAGES"

// minReserve is the smallest reserve worth mapping.
const minReserve = 64 << 20

// ToolReserve is the reserve of the `shoal` command and the TPC-H
// benchmark (Keep): enough for TPC-H SF1 in memory.
const ToolReserve = 4 << 30

// pollMin and pollMax bound how often the watcher checks whether the
// runtime mapped more memory.
const (
	pollMin = 10 * time.Millisecond
	pollMax = time.Second
)

// Enabled reports whether Keep does anything in this process: huge pages
// are not turned off (EnvOff) and no Go memory limit is set.
func Enabled() bool {
	return supported && os.Getenv(EnvOff) != "0" && debug.SetMemoryLimit(-1) == math.MaxInt64
}

// Offered reports whether Keep gets this process huge pages: it is
// Enabled and the kernel gives them (THP "madvise" or "always").
func Offered() bool { return Enabled() && kernelOffers() }

// Keep maps reserve bytes of heap ahead (less where the machine or the
// process's limits leave less room: see reservable) and advises the heap's
// mappings, and then the ones the runtime adds, until ctx ends. It works
// on a goroutine of its own, so that a process does not start later for it
// (mapping and returning a 1 GiB reserve took 12 ms). It does nothing when
// huge pages are not Offered.
func Keep(ctx context.Context, reserve int64) {
	if !Offered() {
		return
	}
	go func() {
		h, err := start(reserve)
		if err != nil {
			slog.Debug("heap left in small pages", "error", err)
			return
		}
		h.watch(ctx)
	}()
}

// heap is what Keep knows of the heap's mappings.
type heap struct {
	seed    uintptr             // an address inside the heap
	advised map[[2]uintptr]bool // the mappings advised, as of the last scan
}

// start maps the reserve and advises the heap's mappings.
func start(reserve int64) (*heap, error) {
	n := min(reserve, reservable())
	if n < minReserve {
		n = 1 << 20 // no reserve: a probe, as large objects live in the heap's arenas too
	}
	// The heap's mappings outlive the object: its address stays a seed.
	b := make([]byte, n)
	h := &heap{seed: uintptr(unsafe.Pointer(unsafe.SliceData(b))), advised: map[[2]uintptr]bool{}}
	if n >= minReserve {
		debug.FreeOSMemory() // (never written: nothing was resident)
	}
	return h, h.advise()
}

// watch advises the mappings the runtime adds to the heap, until ctx ends:
// it checks whether the runtime mapped more every pollMin while memory
// grows, less often (up to pollMax) while it does not, so that an idle
// process wakes once a second.
func (h *heap) watch(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(sample)
	last := sample[0].Value.Uint64()
	wait := pollMin
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if now := sample[0].Value.Uint64(); now > last {
			last = now
			if err := h.advise(); err != nil {
				slog.Debug("heap growth left in small pages", "error", err)
				return
			}
			wait = pollMin
		} else {
			wait = min(2*wait, pollMax)
		}
		t.Reset(wait)
	}
}

// advise asks for huge pages in the heap's mappings not advised yet.
func (h *heap) advise() error {
	maps, err := readMaps()
	if err != nil {
		return err
	}
	now := map[[2]uintptr]bool{}
	for _, m := range heapMappings(maps, h.seed) {
		if !h.advised[m] {
			if err := adviseRange(m[0], m[1]); err != nil {
				continue // (a mapping gone since the read)
			}
		}
		now[m] = true
	}
	h.advised = now
	return nil
}

// heapMappings returns the heap's mappings among maps (in address order, as
// /proc/self/maps lists them): the private anonymous read-write mapping
// that holds seed, and those contiguous with it on either side. The runtime
// grows its heap upward from where it is, one mapping after the other; its
// metadata lies elsewhere, behind reservations or other mappings.
func heapMappings(maps [][2]uintptr, seed uintptr) [][2]uintptr {
	i := 0
	for i < len(maps) && maps[i][1] <= seed {
		i++
	}
	if i == len(maps) || maps[i][0] > seed {
		return nil
	}
	lo, hi := i, i+1
	for lo > 0 && maps[lo-1][1] == maps[lo][0] {
		lo--
	}
	for hi < len(maps) && maps[hi][0] == maps[hi-1][1] {
		hi++
	}
	return maps[lo:hi]
}
