package scan

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// A file's identity names its content in plan tokens, so that a query cache
// never serves a result computed from other bytes. Path, size and mtime are not
// enough: cp -p, rsync -t and tar x put an old mtime on new content, and a
// same-size rewrite then looks unchanged.
//
// The files of one source are hashed in full with SHA-256 while their sizes
// add up to at most fullHashBudget (a budget per source, not per file, so that
// a directory of many files costs no more than one large file). Such a file's
// identity is its path, size and digest: exact, and kept across a touch or an
// identical copy over the file. Past the budget a file is sampled: the SHA-256
// of its size and sampleBlocks blocks of sampleBlockSize (the head; the tail,
// where Parquet keeps its footer; the rest evenly spaced), together with mtime,
// inode, device and ctime. Sampling misses a change between blocks; ctime does
// not, since user space cannot set it and every write, chmod or rename sets it
// to now. Where the OS reports no ctime (Windows, AIX) a sampled file rests on
// size, mtime and the samples alone.
//
// Cost (BenchmarkFileIdentity on a 2-vCPU AMD EPYC VM with SHA-NI, files in
// the page cache): SHA-256 alone runs at 1.6 GB/s, reading and hashing at
// 1.1-1.3 GB/s, so the budget bounds one source's hashing at about 55 ms; a
// sampled file of any size costs a 1 MiB read, 1-2 ms. Digests are kept
// in-process by path and reused while the file's (size, mtime, ctime, inode,
// device) is unchanged: reading an unchanged file again costs an open and an
// fstat, 30-45 us. SHA-256 (standard library, deterministic across processes,
// hardware-accelerated on amd64 and arm64) over hash/maphash, whose seeds
// differ per process, and CRC-32C, whose 32 bits are too few for a cache key.
//
// File timestamps come from a coarse clock (a kernel tick on Linux, a second on
// some file systems), so a file written twice within one tick keeps its ctime.
// Like git with its "racily clean" index entries, a file changed less than
// racyWindow before it is read is not vouched for by its stat: its digest is not
// kept, and if it is sampled its identity is unique (its queries miss the cache).
const (
	fullHashBudget  = 64 << 20
	sampleBlockSize = 64 << 10
	sampleBlocks    = 16
	racyWindow      = 2 * time.Second
	// maxKeptDigests bounds the paths whose digests are kept.
	maxKeptDigests = 1 << 14
)

// fileVersion is what the OS tells of a file's state; a kept digest is reused
// only while it is unchanged.
type fileVersion struct {
	size, mtime int64
	ctime       int64 // 0 where the OS does not report it
	ino, dev    uint64
}

func versionOf(fi os.FileInfo) fileVersion {
	v := fileVersion{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	v.ctime, v.ino, v.dev = changeInfo(fi)
	return v
}

type keptDigest struct {
	version fileVersion
	sampled bool
	sum     [sha256.Size]byte
}

// fileIdentities computes file identities and keeps their digests.
type fileIdentities struct {
	now    func() time.Time
	hashed atomic.Int64 // bytes hashed so far

	mu   sync.Mutex
	kept map[string]keptDigest // by absolute path
}

func newFileIdentities(now func() time.Time) *fileIdentities {
	return &fileIdentities{now: now, kept: map[string]keptDigest{}}
}

// fileIDs serves the sources of this process.
var fileIDs = newFileIdentities(time.Now)

// newHashBudget returns the bytes one source may hash in full.
func newHashBudget() int64 { return fullHashBudget }

// identify opens path and returns its stat and identity. budget is what is left
// of the source's full-hash budget; a file hashed in full is charged to it.
func (ids *fileIdentities) identify(path string, budget *int64) (os.FileInfo, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	unhashable := func(fi os.FileInfo) (os.FileInfo, string, error) {
		// Opening a pipe blocks until a writer comes, and hashing a pipe or a
		// device would consume what the query is to read.
		return fi, fmt.Sprintf("file:%s:unhashable:%s", abs, NewID()), nil
	}
	if !fi.Mode().IsRegular() {
		return unhashable(fi)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, "", err
	}
	if !fi.Mode().IsRegular() {
		return unhashable(fi)
	}
	v := versionOf(fi)
	sampled := v.size > max(*budget, sampleBlocks*sampleBlockSize)
	if !sampled {
		*budget -= v.size
	}
	racy := ids.now().UnixNano()-max(v.mtime, v.ctime) < int64(racyWindow)
	sum, ok := ids.lookup(abs, v, sampled)
	if !ok {
		if sum, err = ids.hash(f, v.size, sampled); err != nil {
			return nil, "", fmt.Errorf("hashing %s: %w", path, err)
		}
		// Keep the digest only if a later change must show in the stat, and
		// the file did not change while it was hashed.
		if v.ctime != 0 && !racy {
			if after, err := f.Stat(); err == nil && versionOf(after) == v {
				ids.keep(abs, keptDigest{version: v, sampled: sampled, sum: sum})
			}
		}
	}
	switch {
	case !sampled:
		return fi, fmt.Sprintf("file:%s:size=%d:sha256=%x", abs, v.size, sum), nil
	case racy:
		return fi, fmt.Sprintf("file:%s:changed-just-now:%s", abs, NewID()), nil
	default:
		return fi, fmt.Sprintf("file:%s:size=%d:mtime=%d:ctime=%d:ino=%d:dev=%d:sampled-sha256=%x",
			abs, v.size, v.mtime, v.ctime, v.ino, v.dev, sum), nil
	}
}

func (ids *fileIdentities) lookup(abs string, v fileVersion, sampled bool) ([sha256.Size]byte, bool) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	k, ok := ids.kept[abs]
	if !ok || k.version != v || k.sampled != sampled {
		return [sha256.Size]byte{}, false
	}
	return k.sum, true
}

func (ids *fileIdentities) keep(abs string, k keptDigest) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if _, ok := ids.kept[abs]; !ok && len(ids.kept) >= maxKeptDigests {
		for p := range ids.kept { // an arbitrary victim: map order is random
			delete(ids.kept, p)
			break
		}
	}
	ids.kept[abs] = k
}

// hash digests the first size bytes of f, or samples of them.
func (ids *fileIdentities) hash(f *os.File, size int64, sampled bool) ([sha256.Size]byte, error) {
	h := sha256.New()
	buf := make([]byte, sampleBlockSize)
	if !sampled {
		n, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, size), buf)
		ids.hashed.Add(n)
		if err != nil {
			return [sha256.Size]byte{}, err
		}
		return [sha256.Size]byte(h.Sum(nil)), nil
	}
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(size)))
	for i := range int64(sampleBlocks) {
		off := i * (size - sampleBlockSize) / (sampleBlocks - 1)
		n, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF { // EOF: the file shrank, so its digest is not kept
			return [sha256.Size]byte{}, err
		}
		h.Write(buf[:n])
		ids.hashed.Add(int64(n))
	}
	return [sha256.Size]byte(h.Sum(nil)), nil
}
