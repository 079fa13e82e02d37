// Package arena is a node's object memory: one region of shared memory,
// allocated in place for large objects and reused without zeroing, that
// executors on the same machine map read-only to read objects without a
// copy (as Ray's plasma store does).
//
// # Pieces
//
//	node:      New ──▶ Arena ── Alloc/Free/Bytes (spans) ── Trim (give idle pages back)
//	                     │
//	                   File() (read-only descriptor) ── SendFile ──▶ unix socket
//	executor:  RecvFile ──▶ Map ──▶ View ── Bytes(off, n) (read-only, zero copy)
//
// Vocabulary: a span is an allocated range (Off, Len); its capacity is Len
// rounded up to the page. A free extent is a maximal run of free pages.
// Trimming releases the pages of a free extent to the kernel; the extent
// stays free and faults in zeroed pages when it is used again.
//
// # Memory
//
// The arena is a memfd (memfd_create, MFD_CLOEXEC), sized with ftruncate
// and mapped shared and read-write; where memfd_create is missing, an
// unlinked file in /dev/shm or else os.TempDir() (a disk file system:
// correct, but its dirty pages are written back; a directory without room
// for the whole arena is skipped, since a write to a page tmpfs cannot back
// kills the process with SIGBUS). Pages are taken from the kernel when
// first written. The mapping is advised MADV_HUGEPAGE, which is advice
// only: shared memory gets huge pages only where
// /sys/kernel/mm/transparent_hugepage/shmem_enabled allows it ("never" on
// the development machine).
//
// File returns a second descriptor, reopened read-only through /proc, to
// hand to executors: with it a process can neither write(2) to the memory
// nor map it writable (EACCES), and a View maps it PROT_READ, so a stray
// write in an executor faults instead of corrupting an object
// (TestMapInAnotherProcess). This guards against bugs, not malice: the
// memory is chmod 0400, so reopening it writable through /proc/<pid>/fd is
// refused to a non-root process, but one of the same user can chmod it
// back first, and root does not have to. Sealing (F_SEAL_FUTURE_WRITE) would
// close that, but a sealed memfd refuses hole punching (EPERM; both
// checked on Linux 6.18), and Trim needs it.
//
// # Allocator
//
// Address-ordered best fit over page-granular extents, coalesced at once:
// Alloc takes the smallest free extent that holds the request (the lowest
// one among equals) and leaves the rest free; Free joins the extent with
// its free neighbours. Free extents are indexed by (length, offset) in a
// treap, for the best-fit search in O(log n), and by start and end in hash
// maps, which find a freed extent's neighbours in O(1). Allocated spans are
// in a hash map with a generation, so that a double free, or a free of a
// stale span whose memory went to another span since, panics without
// touching the arena. Alloc never blocks and never zeroes: it returns
// false when no extent fits, and callers overwrite what they allocate. One
// mutex guards the allocator; Bytes takes no lock.
//
// We measured two refinements and left them out (BenchmarkChurn, 200k
// operations of random log-uniform sizes holding the requested bytes at a
// fill level, a refused allocation freeing a random span as a store
// spills; a 16 GiB arena for 4 KiB-64 MiB, 4 GiB for a shuffle's
// 8 KiB-8 MiB; 2-core development VM, six runs; only ns/op varies):
//
//	                         ns/op    fragmentation     refused at 95%  lost to rounding
//	                                  at 80% full       full            at 95% full
//	best fit (chosen)        380-464  0.74 / 0.49       17.1% / 13.3%   0.13% / 0.36%
//	+ 2 MiB-aligned spans    402-557  0.81 / 0.88       26.6% / 15.7%   0.28% / 0.42%
//	+ size classes ≤ 32 KiB  343-396  0.79 / 0.49       16.2% / 13.6%   0.10% / 0.35%
//	+ size classes ≤ 256 KiB 272-356  0.66 / 0.44       15.2% / 44.2%   0.20% / 1.60%
//
// (first figure: 4 KiB-64 MiB, second: shuffle; fragmentation is
// 1 - LargestFree/Free, the mean over the run.) At 80% full no policy
// refused a single allocation. At 95% every refusal was of a request
// smaller than the free memory: fragmentation, not a full arena.
// Aligning spans of 2 MiB or more to huge pages leaves unaligned holes
// that fail more requests, and buys nothing here (shmem huge pages are
// off; where they are on, the kernel places them by file offset whatever
// the spans). Size
// classes in 2 MiB slabs are 10-25% faster, a difference of 100 ns against
// the microseconds of writing even a 64 KiB object, but a slab stays
// allocated while any of its slots lives, which more than tripled the
// refusals of the shuffle sizes. Both remain in the code as policies that
// the benchmark compares (policy); New uses neither.
//
// # Why own the memory: the cost of fresh pages
//
// BenchmarkWrite copies 256 MiB into a span (GB/s over nine runs; the
// machine was shared, so ranges):
//
//	span of a new arena (every page faults)          0.11-0.35
//	new arena, Populate the span first (timed)       0.47-0.63
//	new arena with Options.Prefault (New timed)      0.54-0.69
//	span reused from a freed one                     11.3-18.0
//	Go make([]byte), memory fresh from the kernel    0.76-0.97
//	Go make([]byte), heap memory reused (memclr)     4.9-6.5
//	bigbuf.Alloc (the store today)                   0.6-7.4 (the two cases above)
//
// Fresh memory is slow in this microVM whatever is done about it: after
// MADV_POPULATE_WRITE has taken the guest's page faults (65,536 for
// 256 MiB, 65-110 ms), the first copy still takes 350-490 ms without a
// single guest fault (the host, it seems, backs the pages only then), and
// the second 16-22 ms. So the arena's gain is reuse: a span freed and
// allocated again is written 16-70× faster than fresh pages, however they
// are faulted in, and 2-3× faster than reused Go heap memory, which Go
// zeroes first. For the same reason Trim should only release memory that
// stayed free for long (a minute or more, as the store proposal says): a
// trimmed extent costs fresh pages again.
//
// # Trim
//
// Trim releases free extents of at least 2 MiB whose memory has been
// idle for the given time, with fallocate(FALLOC_FL_PUNCH_HOLE) on the
// file (MADV_REMOVE where that is unsupported), and counts what it
// released with SEEK_DATA/SEEK_HOLE, so never-written or already released
// pages do not count (TestTrimReleasesMemory: 70 MiB written, freed and
// trimmed: the file's blocks and the process's Rss both drop by 70 MiB).
// Each free extent remembers the range that may hold memory and since
// when; joined extents keep the hull of their ranges and the newer time.
// Trim takes at most 64 MiB at a time out of the free extents and punches
// it without the lock, so Alloc and Free never wait for the kernel;
// meanwhile that piece is not available to Alloc.
//
// # Locks
//
// Arena.trimMu (Trim, Close) is taken before Arena.mu (the allocator);
// nothing else is held with either. Bytes reads only the mapping, which
// is fixed from New to Close. Spans must not be used after Close; a View
// (another process's mapping) keeps the memory alive after Close until it
// is unmapped.
package arena
