// Package objstore is a node's object store: immutable encoded values keyed
// by object ID, held in memory up to a budget and spilled to local disk past
// it, so that a node holds more objects than it has memory for.
//
// # Tiers
//
//	Put ──▶ memory (LRU, MemoryBytes) ──spill coldest──▶ spill files (DiskBytes) in SpillDir
//	Get ◀── memory ◀──────────restore (cached if it fits)──────────┘
//
// Every object is in memory, on disk, or both (a restored object keeps its
// disk copy, so evicting it again costs no write). In-memory objects are kept
// in two LRU lists, dirty (memory only) and clean (with a disk copy), and a
// victim is the colder of their two tails. A Put that does not fit in memory
// spills the least recently used objects until it does, plus a little more
// (1/16 of the budget, at most 4 MiB) so that spills go to disk in batches
// rather than one small object per Put; an object
// larger than the whole memory budget, or one that arrives while memory
// cannot be freed, goes straight to disk. When neither tier can take an
// object, Put fails at once with an error wrapping ErrFull that says what
// each tier holds and which flags to raise. Put never waits for space.
//
// # Spill files
//
// Small objects are fused: they are appended one after another to the open
// segment file (Config.SegmentBytes, 64 MiB by default) so that spilling ten
// thousand 4 KiB objects makes one file, not ten thousand, as Ray fuses
// spilled objects. Objects of a quarter segment or more get a file of their
// own. Each file keeps a count of its live objects: Delete marks an object
// dead in its file, and a file whose objects are all dead is removed at once,
// so once every object is deleted no spill file is left. Dead objects inside
// a file still hold disk (and count against DiskBytes, which bounds what the
// files really take). When the dead bytes exceed a quarter of DiskBytes,
// full segments that are more than half dead are compacted by a background
// goroutine: their live objects are copied to the open segment and the old
// file is removed. Below that threshold dead space is left alone, because
// objects tend to be deleted in about the order they were spilled and their
// segments die whole without any copying. The goroutine runs only while
// there is compaction work. Each spilled object's CRC-32C is kept in memory
// and checked when it is read back or copied.
//
// # Who writes, and the lock
//
// Spilling is synchronous and done by the Put that needs the room: under the
// store's lock it picks its victims, reserves their place in the spill files
// and marks them as being spilled; then, without the lock, it writes them
// (pwrite at disjoint offsets, so concurrent spills share a segment); then it
// retakes the lock to drop their memory copies. We chose this over a writer
// goroutine because it is back-pressure for free (a producer cannot outrun
// the disk, and no queue needs a bound), the error of a failed write goes to
// the Put that caused it, and there is no goroutine to start and stop. While
// an object is being spilled it is still read from memory, so Get never
// waits for a write and never sees a half-written copy.
//
// Reading a spilled object (Get) also happens outside the lock, into a fresh
// buffer. The object is then kept in memory if the budget allows, evicting
// other objects that have a disk copy (which costs no I/O); otherwise the
// bytes are handed back without being cached. Get never writes.
//
// Without shared memory, slices returned by Get are read-only and stay
// valid forever: the store never reuses a buffer it has handed out, and
// dropping an object only drops the store's reference to it; Put keeps the
// caller's slice without copying it (the caller must not modify it
// afterwards).
//
// # Shared memory
//
// With Config.SharedMemory (every node's store) the memory copies live in
// one shared-memory arena of the store's own (internal/arena): written in
// place by their writer (Reserve, then Seal: a Put, a data-plane PUT, a
// pull from a peer), reused without zeroing once their object is gone, and
// mapped read-only by the node's executors (internal/localstore), which
// read objects without a copy. Because the memory is reused, readers pin
// what they read (Acquire, released once); an object spilled, evicted or
// deleted while pinned keeps its memory until its last reader let go, and
// spills pin what they write. Get copies out of the arena. The arena is
// the budget and an eighth (ArenaSize): pinned memory of objects that left
// the budget, and fragmentation, may leave it short of a span the budget
// has room for, and such a copy goes on the Go heap instead (never
// refused for that). Memory free for ten minutes goes back to the kernel
// (TrimIdle, from the node's heartbeat loop). Measured on this 2-core VM:
// copying 256 MiB into reused arena memory runs at 11-18 GB/s, into fresh
// memory at 0.1-0.6 GB/s (first-touch faults), into reused Go heap memory
// (which Go zeroes first) at 5-6.5 GB/s; `shoal bench` put_gigabytes went
// from 3-9 to 16-31 GB/s (two cores copy).
//
// Objects being written leave the memory budget when their spill starts, so
// the memory actually held can exceed MemoryBytes by the objects in flight
// to disk at that moment (bounded by the number of concurrent Puts).
//
// The only other lock is dirMu, which guards creating and removing the spill
// directory; it is never held together with mu. A spill file's handle is
// opened, outside mu, by the first writer that needs it; files are created
// lazily this way so that no file system call runs under mu.
//
// # Crash safety
//
// Spill files are a cache for this process only. They are not fsynced and
// not recovered after a restart: each store spills into a fresh directory
// under SpillDir (shoal-objstore-*), created on the first spill and removed
// by Close. A node that crashes leaves that directory behind; its objects are
// lost with the node, as they would be from memory, and the head rebuilds or
// reports them.
//
// # Defaults
//
// MemoryBytes defaults to 30% of the memory available when the store opens
// (MemAvailable in /proc/meminfo, capped by the cgroup's memory limit, at
// most 200 GiB), as Ray sizes its object store. DiskBytes defaults to the
// free space of SpillDir's file system minus a margin of 5% of that file
// system (at least 1 GiB). SpillDir defaults to os.TempDir().
package objstore
