package runtimeenv

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// racyWindow: a file modified this close to the start of packing may be
// modified again without its modification time moving (file times are
// coarse), so a pack that saw one is not indexed (git's "racy clean"
// problem).
const racyWindow = 2 * time.Second

// fingerprint digests everything packing reads: the Spec and, per entry,
// its path, kind, link target, source and stamp. Equal fingerprints mean
// the archive would come out the same.
func (w *walked) fingerprint() string {
	h := sha256.New()
	io.WriteString(h, w.specKey)
	var b []byte
	for _, e := range w.entries {
		b = b[:0]
		b = append(b, e.Path...)
		b = append(b, 0)
		b = append(b, e.Type...)
		b = append(b, 0)
		b = append(b, e.Link...)
		b = append(b, 0)
		b = append(b, e.src...)
		b = append(b, 0)
		b = strconv.AppendBool(b, e.Exec)
		for _, v := range []int64{e.Size, e.stamp.size, e.stamp.mtime, e.stamp.ctime, int64(e.stamp.ino), int64(e.stamp.dev), int64(e.stamp.mode)} {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// racy reports whether a file was modified within racyWindow of start (or
// after it).
func (w *walked) racy(start time.Time) bool {
	edge := start.Add(-racyWindow).UnixNano()
	for _, e := range w.entries {
		if e.src != "" && e.stamp.mtime >= edge {
			return true
		}
	}
	return false
}

// packCache keeps archives by hash and an index from input fingerprints to
// hashes:
//
//	dir/archives/<hash>.tar.zst   the archive (its modification time is its last use)
//	dir/index/<fingerprint>       "<hash> <size>"
//	dir/tmp/                      archives being written
type packCache struct {
	dir    string
	budget int64
	log    *slog.Logger
}

func (c *packCache) archivePath(hash string) string {
	return filepath.Join(c.dir, "archives", hash+".tar.zst")
}

// lookup returns the cached package of fingerprint fp, or nil.
func (c *packCache) lookup(fp string, w *walked) *Package {
	data, err := os.ReadFile(filepath.Join(c.dir, "index", fp))
	if err != nil {
		return nil
	}
	hashStr, sizeStr, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if err != nil || checkHash(hashStr) != nil {
		return nil
	}
	p := c.archivePath(hashStr)
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != size {
		return nil
	}
	now := time.Now()
	os.Chtimes(p, now, now)
	return &Package{Hash: hashStr, Size: size, Path: p, Manifest: *w.manifest(), Reused: true}
}

// store moves a freshly written archive into the cache, indexes it unless
// racy, and trims the cache to its budget.
func (c *packCache) store(fp string, pkg *Package, racy bool) error {
	for _, d := range []string{"archives", "index"} {
		if err := mkdirPrivate(filepath.Join(c.dir, d)); err != nil {
			return fmt.Errorf("pack cache: %w", err)
		}
	}
	final := c.archivePath(pkg.Hash)
	if err := os.Rename(pkg.Path, final); err != nil {
		return fmt.Errorf("pack cache: %w", err)
	}
	pkg.Path, pkg.temp = final, false
	if !racy {
		idx := filepath.Join(c.dir, "index", fp)
		tmp := idx + ".tmp" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := os.WriteFile(tmp, fmt.Appendf(nil, "%s %d\n", pkg.Hash, pkg.Size), privateFile); err != nil {
			return fmt.Errorf("pack cache: %w", err)
		}
		if err := os.Rename(tmp, idx); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("pack cache: %w", err)
		}
	}
	c.prune(pkg.Hash)
	return nil
}

// prune deletes the least recently used archives beyond the budget (never
// keep), index entries that point at deleted archives, and leftovers of
// interrupted packs.
func (c *packCache) prune(keep string) {
	des, err := os.ReadDir(filepath.Join(c.dir, "archives"))
	if err != nil {
		return
	}
	type arch struct {
		hash string
		size int64
		used time.Time
	}
	var all []arch
	for _, de := range des {
		h, ok := strings.CutSuffix(de.Name(), ".tar.zst")
		if !ok {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		all = append(all, arch{h, fi.Size(), fi.ModTime()})
	}
	slices.SortFunc(all, func(a, b arch) int { return b.used.Compare(a.used) })
	var total int64
	removed := make(map[string]bool)
	for _, a := range all {
		total += a.size
		if total > c.budget && a.hash != keep {
			if err := os.Remove(c.archivePath(a.hash)); err == nil || errors.Is(err, os.ErrNotExist) {
				removed[a.hash] = true
				total -= a.size
			}
		}
	}
	if idx, err := os.ReadDir(filepath.Join(c.dir, "index")); err == nil && len(removed) > 0 {
		for _, de := range idx {
			p := filepath.Join(c.dir, "index", de.Name())
			data, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			h, _, _ := strings.Cut(string(data), " ")
			if removed[h] {
				os.Remove(p)
			}
		}
	}
	if tmps, err := os.ReadDir(filepath.Join(c.dir, "tmp")); err == nil {
		for _, de := range tmps {
			if fi, err := de.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
				os.Remove(filepath.Join(c.dir, "tmp", de.Name()))
			}
		}
	}
	if len(removed) > 0 {
		c.log.Debug("pack cache trimmed", "dir", c.dir, "removed", len(removed), "bytes", total)
	}
}

// checkHash accepts a package hash: 64 lowercase hex digits.
func checkHash(h string) error {
	if len(h) != 64 {
		return fmt.Errorf("%w: package hash %q is not 64 hex digits", ErrBadSpec, h)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: package hash %q is not lowercase hex", ErrBadSpec, h)
		}
	}
	return nil
}
