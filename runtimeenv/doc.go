// Package runtimeenv ships a job's code to the cluster: it packs the job's
// binary, working directory and environment into a content-addressed,
// compressed package, uploads it to the head in resumable chunks, and
// fetches, verifies and caches it on the nodes that run the job.
//
//	client                         head                        node
//	Pack(spec) ─▶ archive ──Upload──▶ Store ◀──Download── Cache.Acquire(hash, job)
//	  walk, limit check,   (skipped if    <hash>.partial     fetch once (peers first),
//	  tar + zstd, BLAKE3    Stat says     → verify, rename   verify, unpack, refcount,
//	  (pack cache: an       complete)     <hash>.tar.zst     LRU eviction past budget
//	  unchanged Spec is                                       │
//	  not read again)                                         └─▶ Layout: bin/<binary>,
//	                                                              wd/, Env
//
// Vocabulary:
//
//   - Spec: what a job ships: Binary, WorkingDir (with Excludes, the default
//     excludes and .gitignore files), ExtraFiles and Env.
//   - Package: a tar archive compressed with zstd, named by the BLAKE3 hash of its
//     bytes (Hash). The archive is deterministic (sorted entries, no times or
//     owners, only the execute bit of modes), so the same inputs give the
//     same hash on any machine running the same Shoal release, and a second
//     submission of unchanged code uploads nothing.
//   - Manifest: the archive's first entry: binary, environment and every
//     file with its size. Unpacking checks each entry against it.
//   - Content size: the sum of the file sizes. One limit (DefaultLimit,
//     2 GiB) applies to it on every path: Pack refuses before reading a
//     file (a LimitError names the ten largest files and how to exclude them
//     or raise the limit), the Store refuses the upload and the Cache the
//     download.
//   - Store: the head's packages on disk, with partial uploads that resume.
//   - Cache: a node's unpacked packages, shared by executors, referenced per
//     job, evicted least recently used past a budget when no job uses them.
//   - Packages service (pb/runtimeenv.proto): Stat, Upload and Download, in
//     chunks of 1 MiB each carrying a CRC-32C; Server serves a Store (head)
//     or a Cache (peers); Upload, Download and Fetcher are the client side.
package runtimeenv
