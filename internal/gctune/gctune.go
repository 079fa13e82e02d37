// Package gctune sets the Go garbage collector of Shoal's own long-running
// processes (executors, `shoal head`, `shoal node`) for throughput: a
// control plane allocates many small, short-lived messages, and at Go's
// default GOGC=100 the collector took 20-30% of the CPU of the head and the
// executors in `shoal bench` profiles. Measured on 2026-11-22 on the
// development machine (medians of 4 alternated `shoal bench` runs, tuning
// in the executors only, the embedded head in the driver untouched): n:n
// actor calls 85k/s against 67k/s, multi-client tasks 57k/s against 50k/s,
// async tasks 60k/s against 56k/s; with every process at GOGC=400 the
// gains were 20-60%, but the driver's large Puts got slower (fresh memory
// instead of reused), so drivers keep Go's defaults.
//
// A larger GOGC lets the heap grow to five times what is live, so a soft
// memory limit (a quarter of the machine's or cgroup's memory) makes the
// collector work harder before a process with a large live heap (a task
// holding big values) outgrows the machine. GOGC or GOMEMLIMIT set in the
// environment win: Apply leaves the setting the person chose.
//
// A driver (and so an embedded cluster) is the user's program: Shoal does
// not change its collector; it can set GOGC itself.
package gctune

import (
	"os"
	"runtime/debug"

	"github.com/shoal-dev/shoal/internal/objstore"
)

// Defaults applied by Apply.
const (
	Percent             = 400
	MemoryLimitFraction = 4 // the soft limit is 1/MemoryLimitFraction of the memory
)

// Settings is what Apply set (zero where it left the runtime's setting).
type Settings struct {
	Percent     int
	MemoryLimit int64
}

// Apply sets GOGC and the soft memory limit unless the environment sets
// them, and returns what it set.
func Apply() Settings {
	var s Settings
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(Percent)
		s.Percent = Percent
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		if mem, ok := objstore.MachineMemory(); ok && mem > 0 {
			s.MemoryLimit = mem / MemoryLimitFraction
			debug.SetMemoryLimit(s.MemoryLimit)
		}
	}
	return s
}
