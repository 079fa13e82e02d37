package objstore

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/internal/bytesize"
)

// Default sizing. Ray gives its object store 30% of the memory available
// when a node starts, at least 75 MB and at most 200 GB; we do the same in
// binary units.
const (
	defaultMemoryFraction = 0.30
	minDefaultMemory      = 64 << 20
	maxDefaultMemory      = 200 << 30
	fallbackMemory        = 1 << 30 // when the machine's memory is unknown
	diskMarginFraction    = 0.05    // of the file system, left free for others
	minDiskMargin         = 1 << 30
	fallbackDisk          = 10 << 30 // when free space cannot be measured
)

// memorySources are the files the memory default is read from (tests point
// them elsewhere).
type memorySources struct {
	meminfo       string // MemAvailable, MemTotal
	cgroupV2Max   string // "max" or bytes
	cgroupV1Limit string // bytes; huge when unlimited
}

func systemMemorySources() memorySources {
	return memorySources{
		meminfo:       "/proc/meminfo",
		cgroupV2Max:   "/sys/fs/cgroup/memory.max",
		cgroupV1Limit: "/sys/fs/cgroup/memory/memory.limit_in_bytes",
	}
}

// defaultMemoryBytes returns the default memory budget and how it was
// found, for the log.
func defaultMemoryBytes(src memorySources) (int64, string) {
	avail, total, err := readMeminfo(src.meminfo)
	if err != nil {
		return fallbackMemory, fmt.Sprintf("a fixed default, the machine's memory is unknown (%v)", err)
	}
	base, what := avail, "available"
	if base <= 0 {
		base, what = total, "total"
	}
	if lim, ok := cgroupMemoryLimit(src); ok && lim < base {
		base, what = lim, "the cgroup's limit of"
	}
	b := int64(float64(base) * defaultMemoryFraction)
	b = min(max(b, minDefaultMemory), maxDefaultMemory)
	return b, fmt.Sprintf("30%% of %s %s memory", what, bytesize.Format(base))
}

// readMeminfo returns MemAvailable (0 if the kernel does not report it) and
// MemTotal in bytes.
func readMeminfo(path string) (avail, total int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "MemAvailable" && key != "MemTotal") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		if len(fields) > 1 && strings.EqualFold(fields[1], "kB") {
			v <<= 10
		}
		if key == "MemTotal" {
			total = v
		} else {
			avail = v
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	if total <= 0 {
		return 0, 0, fmt.Errorf("%s has no MemTotal", path)
	}
	return avail, total, nil
}

// cgroupMemoryLimit returns the memory limit of the process's cgroup, if it
// has one.
func cgroupMemoryLimit(src memorySources) (int64, bool) {
	for _, p := range []string{src.cgroupV2Max, src.cgroupV1Limit} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 || v >= 1<<60 { // cgroup v1 says "no limit" with a huge number
			continue
		}
		return v, true
	}
	return 0, false
}

// defaultDiskBytes returns the default disk budget for spilling under dir
// and how it was found.
func defaultDiskBytes(dir string) (int64, string, error) {
	p, err := existingAncestor(dir)
	if err != nil {
		return 0, "", err
	}
	avail, total, err := fsSpace(p)
	if errors.Is(err, errors.ErrUnsupported) {
		return fallbackDisk, "a fixed default, free space cannot be measured on this system", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("measuring free space under %s: %w", p, err)
	}
	margin := max(int64(float64(total)*diskMarginFraction), minDiskMargin)
	b := max(avail-margin, 0)
	return b, fmt.Sprintf("%s free under %s less a margin of %s", bytesize.Format(avail), p, bytesize.Format(margin)), nil
}

// existingAncestor returns dir or its nearest ancestor that exists.
func existingAncestor(dir string) (string, error) {
	p, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("spill directory %s: %w", dir, err)
	}
	for {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", fmt.Errorf("spill directory %s: no part of the path exists", dir)
		}
		p = parent
	}
}

// defaultBufferLimit is half the memory available to this process (the
// cgroup's limit when lower), or fallbackBuffer when unknown.
func defaultBufferLimit(src memorySources) int64 {
	avail, total, err := readMeminfo(src.meminfo)
	if err != nil {
		return fallbackBuffer
	}
	base := avail
	if base <= 0 {
		base = total
	}
	if lim, ok := cgroupMemoryLimit(src); ok && lim < base {
		base = lim
	}
	return max(base/2, 64<<20)
}

// fallbackBuffer is the buffer limit when the machine's memory is unknown.
const fallbackBuffer = 8 << 30
