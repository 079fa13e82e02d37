// Package hugepages lets a process's Go heap grow in transparent huge pages
// on a machine that gives them only on request (THP "madvise", as Debian
// and Ubuntu ship the kernel): Keep asks for them, with
// madvise(MADV_HUGEPAGE), on the heap's mappings. The Go runtime itself
// does not ask for its heap (only for some of its metadata).
//
// Why: every page of fresh memory costs a page fault, and the processes
// that do Shoal's data work go through a lot of fresh memory (loading TPC-H
// SF1 builds 2 GB of heap; an actor's new process faults in its whole heap
// on its first calls). Measured on the development machine (a VM, 2 cores,
// whose host takes back the memory its guest leaves free for a few
// seconds): touching fresh memory cost 14 µs per 4 KiB page in small
// pages; in huge pages, 0.28 µs per 4 KiB where the host still backed the
// memory and 7-9 µs (0.5 GB/s) where it had taken it back. Loading SF1
// (`shoalbench --sql`) went from 535k page faults and 6.4-7.3 s to 10k
// faults and 4.7-4.9 s.
//
// Where memory the host took back is that dear, a process that allocates
// fast still stalls whenever its heap grows into memory it never touched:
// the TPC-H queries that follow a load ran 2-4 times slower (Q3 150 ms
// instead of 50, Q9 600 instead of 170) while the heap grew towards the
// goal the collector set it. Options.FillAhead has Keep fault that
// headroom in on its own goroutine after each collection, ahead of the
// allocations that would stall on it: the 22 queries' total, 1.58-1.88 s
// in three runs, became 1.41-1.60 s.
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

// Options says what Keep does.
type Options struct {
	// Reserve is how much heap address space Keep maps ahead (less where
	// the machine or the process's limits leave less room: see
	// reservable).
	Reserve int64
	// FillAhead has Keep fault in the heap's headroom before the runtime
	// uses it: after each collection, the pages the heap will grow into
	// until its goal (and an eighth more, the runtime's own slack) are
	// made resident on Keep's goroutine, so that the work that allocates
	// them does not wait for the faults. For a process whose heap goal is
	// close to what it touches: not one with a GC ballast (its goal counts
	// memory never touched).
	FillAhead bool
}

// Tool is what the `shoal` command's data commands and the TPC-H
// benchmark keep: a reserve enough for TPC-H SF1 in memory, filled ahead.
func Tool() Options { return Options{Reserve: 4 << 30, FillAhead: true} }

// Keep maps a reserve of heap ahead and advises the heap's mappings, and
// then the ones the runtime adds, until ctx ends; with opts.FillAhead it
// also faults in the heap's headroom ahead of the runtime. It works on a
// goroutine of its own, so that a process does not start later for it
// (mapping and returning a 1 GiB reserve took 12 ms). It does nothing when
// huge pages are not Offered.
func Keep(ctx context.Context, opts Options) {
	if !Offered() {
		return
	}
	go func() {
		h, err := start(opts.Reserve)
		if err != nil {
			slog.Debug("heap left in small pages", "error", err)
			return
		}
		h.fillAhead = opts.FillAhead
		h.watch(ctx)
	}()
}

// heap is what Keep knows of the heap's mappings.
type heap struct {
	seed      uintptr             // an address inside the heap
	advised   map[[2]uintptr]bool // the mappings advised, as of the last scan
	mappings  [][2]uintptr        // the heap's mappings, as of the last scan
	fillAhead bool                // Options.FillAhead
	fillMax   uint64              // the largest target filled: a share of the machine's memory
	vec       []byte              // fill's residency vector, kept between calls
}

// start maps the reserve and advises the heap's mappings.
func start(reserve int64) (*heap, error) {
	n := min(reserve, reservable())
	if n < minReserve {
		n = 1 << 20 // no reserve: a probe, as large objects live in the heap's arenas too
	}
	// The heap's mappings outlive the object: its address stays a seed.
	b := make([]byte, n)
	h := &heap{seed: uintptr(unsafe.Pointer(unsafe.SliceData(b))), advised: map[[2]uintptr]bool{},
		fillMax: uint64(max(physical(), 0)) / fillMaxShare}
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
	sample := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/goal:bytes"},
	}
	metrics.Read(sample)
	last, cycles := sample[0].Value.Uint64(), uint64(0)
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
		wait = min(2*wait, pollMax)
		if now := sample[0].Value.Uint64(); now > last {
			last = now
			if err := h.advise(); err != nil {
				slog.Debug("heap growth left in small pages", "error", err)
				return
			}
			wait = pollMin
		}
		if now := sample[1].Value.Uint64(); h.fillAhead && now != cycles {
			cycles = now
			goal := sample[2].Value.Uint64()
			// A heap large relative to the machine is left to the runtime:
			// TPC-H SF10 in memory on 24 GiB peaked at 23.2 GB resident
			// with the fill, 22.0 without, and loaded in 85 s against 71.
			if target := goal + goal/8; target <= h.fillMax {
				if err := h.fill(ctx, target); err != nil {
					slog.Debug("heap no longer filled ahead", "error", err)
					h.fillAhead = false
				}
			}
			wait = pollMin
		}
		t.Reset(wait)
	}
}

// fillChunk is how much fill faults in per call to the kernel, between
// which it checks whether to stop.
const fillChunk = 16 << 20

// fillMaxShare: the heap is filled ahead only while its target is at most
// this share (1/fillMaxShare) of the machine's memory.
const fillMaxShare = 4

// fill faults in the heap's pages that are not resident, lowest address
// first (where the runtime's page allocator takes free pages from), until
// the heap's mappings hold target bytes resident, and never more than half
// of the memory the machine has available: a heap whose goal the machine
// cannot hold is left to the runtime (which may collect before it gets
// there). The faults change no page's contents (MADV_POPULATE_WRITE), so
// the pages the runtime took in the meantime are safe.
func (h *heap) fill(ctx context.Context, target uint64) error {
	page := uintptr(os.Getpagesize())
	var resident uint64
	var holes [][2]uintptr
	for _, m := range h.mappings {
		n := int((m[1] - m[0]) / page)
		if cap(h.vec) < n {
			h.vec = make([]byte, n)
		}
		vec := h.vec[:n]
		if err := residency(m[0], m[1], vec); err != nil {
			continue // (a mapping gone since the scan)
		}
		for i := 0; i < n; {
			j := i
			for j < n && vec[j]&1 == vec[i]&1 {
				j++
			}
			if vec[i]&1 != 0 {
				resident += uint64(j-i) * uint64(page)
			} else {
				holes = append(holes, [2]uintptr{m[0] + uintptr(i)*page, m[0] + uintptr(j)*page})
			}
			i = j
		}
	}
	target = min(target, resident+uint64(max(available(), 0))/2)
	for _, hole := range holes {
		for lo := hole[0]; lo < hole[1]; lo += fillChunk {
			if resident >= target || ctx.Err() != nil {
				return nil
			}
			hi := min(hole[1], lo+fillChunk, lo+uintptr(target-resident+uint64(page)-1)/page*page)
			if err := populate(lo, hi); err != nil {
				return err
			}
			resident += uint64(hi - lo)
		}
	}
	return nil
}

// advise asks for huge pages in the heap's mappings not advised yet.
func (h *heap) advise() error {
	maps, err := readMaps()
	if err != nil {
		return err
	}
	now := map[[2]uintptr]bool{}
	h.mappings = heapMappings(maps, h.seed)
	for _, m := range h.mappings {
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
