// Package gctune sets the Go garbage collector of Shoal's control-plane
// processes (executors and `shoal head`) for throughput. They allocate many
// small, short-lived messages while what they keep live is often only a few
// megabytes; Go then collects every 4 MB or so of allocation (its minimum
// heap), and the collector took 20-30% of the CPU of the head and the
// executors in `shoal bench` profiles.
//
// Apply raises the minimum heap with a ballast: a large allocation that is
// never written, so it costs address space but no resident memory (its
// pages are never touched) and no marking (it holds no pointers). The
// collector paces on live heap plus ballast, so a small heap is collected
// every ~2×Ballast of allocation instead of every 4 MB, while a large heap
// (a task holding gigabytes) is collected as at GOGC=100: the ballast is
// then a rounding error. A higher GOGC would have bought the same for small
// heaps but let large ones grow to several times their size, and a soft
// memory limit against that makes the collector thrash once the live heap
// passes it.
//
// Measured on 2026-11-22 on the development machine, medians of three
// alternated `shoal bench` runs with the tuning in the executors only (the
// embedded head lives in the driver), untuned / GOGC=400 with a soft limit
// / this ballast: 1:1 async actor calls 52k / 76k / 94k per second, n:n
// calls 62k / 77k / 70k, multi-client tasks 35k / 50k / 42k, async tasks
// 48k / 51k / 52k. The price is memory: up to Ballast bytes of garbage
// wait for the next collection, so a process settles up to ~64 MiB higher
// (TestNoMemoryGrowthAcrossCycles: head, node and executor settle at
// ~220 MB, ~125 MB without the ballast). GOGC in the environment wins:
// Apply then changes nothing.
//
// Node agents are left alone: they hold the object store's large buffers,
// where reusing memory quickly matters more than collecting less often;
// a node given a small store budget (short of memory) collects sooner, and
// so do its executors (ExecutorEnv, ShortOfMemory). A
// driver (and so an embedded cluster) is the user's program: Shoal does not
// change its collector.
package gctune

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/hugepages"
)

// Ballast is the size of the ballast Apply allocates, unless EnvBallast
// says otherwise.
const Ballast = 64 << 20

// EnvBallast and EnvGCPercent, in an executor's environment, are the
// ballast in bytes (0: none) and the GOGC its node chose for it
// (ExecutorEnv).
const (
	EnvBallast   = "SHOAL_GC_BALLAST"
	EnvGCPercent = "SHOAL_GC_PERCENT"
)

// shortBudget is the store budget under which a node counts as short of
// memory: its executors collect sooner (a ballast of an eighth of the
// budget, shortGCPercent) and so does the node (ShortOfMemory).
const (
	shortBudget    = 512 << 20
	shortGCPercent = 50
)

// ActorBallast is the ballast of an actor's own executor (ActorEnv), where
// its heap gets huge pages (hugepages.Offered), and
// ActorBallastSmallPages where it does not. A process per actor (as in Ray)
// multiplies whatever each one holds, and a new process pays a page fault
// for each page of heap it first touches: with 4 KiB pages each actor's
// process went through up to 128 MiB of fresh memory before its first
// collection with the default ballast, and those faults (11 µs each on the
// development VM) were most of the cost of actor calls on a busy node.
// Measured on 2 cores (`shoal bench`, 4 callers and 4 targets, each in a
// process of its own), in small pages: n:n calls 137-146k/s with 64 MiB
// against 159-205k/s with 4, 8 or 16 MiB (3 alternated rounds); then 8
// MiB against 4 MiB alone (6 rounds): n:n 154k against 148k, 1:1 async
// calls 235k against 205k. In huge pages, where first touch costs 1/45 of
// that (2026-12-07, 5 alternated rounds): n:n 214k/s with 8 MiB, 271k with
// 32 MiB, 254k with 64 MiB; 1:1 async 261k, 272k, 269k (ActorBallast). An
// actor that keeps a large heap is collected as at GOGC=100 whatever its
// ballast.
const (
	ActorBallast           = 32 << 20
	ActorBallastSmallPages = 8 << 20
)

// ActorEnv is the environment of an actor's own executor: an actor's
// ballast, which the executor resolves itself (resolveBallast): whether
// its heap gets huge pages is a matter of its machine and its environment.
func ActorEnv() []string { return []string{EnvBallast + "=" + actorBallast} }

// actorBallast is the EnvBallast value of an actor's executor.
const actorBallast = "actor"

// ExecutorEnv is the environment that sets the collector of the executors
// of a node whose object store holds budget bytes in memory: the default
// ballast, or for a budget under 512 MiB a ballast of an eighth of it and
// GOGC=50. The garbage an executor keeps between collections is up to its
// ballast plus its live heap: with 64 MiB each, the executors of a node
// with a 128 MiB budget held as much garbage as the store held objects (an
// 8x-budget shuffle peaked at 3.2x the budget; 2.9x with the smaller
// ballast, 2.6x with GOGC=50 as well). A ballast jobEnv (the executor's
// job's environment) names is kept when it is the smaller (ActorEnv).
func ExecutorEnv(budget int64, jobEnv []string) []string {
	size := int64(Ballast)
	short := budget > 0 && budget < shortBudget
	if short {
		size = budget / 8
	}
	actor := false
	for _, kv := range jobEnv {
		if v, ok := strings.CutPrefix(kv, EnvBallast+"="); ok {
			if v == actorBallast {
				actor = true
			} else if n, ok := ballastOf(v); ok {
				size = min(size, n)
			}
		}
	}
	value := strconv.FormatInt(size, 10)
	switch {
	case actor && short:
		value = strconv.FormatInt(min(size, ActorBallastSmallPages), 10)
	case actor && size >= ActorBallast:
		value = actorBallast
	}
	env := []string{EnvBallast + "=" + value}
	if short {
		env = append(env, fmt.Sprintf("%s=%d", EnvGCPercent, shortGCPercent))
	}
	return env
}

// ballastOf reads a number of bytes from 0 to Ballast (an EnvBallast value).
func ballastOf(v string) (int64, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0 && n <= Ballast
}

// resolveBallast is the ballast an EnvBallast value v gives a process
// whose heap has huge pages or not: an actor's (ActorBallast or
// ActorBallastSmallPages), a number of bytes, or the default.
func resolveBallast(v string, huge bool) int64 {
	switch n, ok := ballastOf(v); {
	case v == actorBallast && huge:
		return ActorBallast
	case v == actorBallast:
		return ActorBallastSmallPages
	case ok:
		return n
	}
	return Ballast
}

// ShortOfMemory sets this process's GOGC to 50 when its node's store holds
// budget bytes, under 512 MiB (unless GOGC is set in the environment), and
// reports whether it did: the node's own buffers then stay closer to what
// it holds live.
func ShortOfMemory(budget int64) bool {
	if _, set := os.LookupEnv("GOGC"); set || budget <= 0 || budget >= shortBudget {
		return false
	}
	debug.SetGCPercent(shortGCPercent)
	return true
}

var (
	once    sync.Once
	ballast []byte // held for the life of the process; never read or written
)

// Applied is the size of the ballast Apply allocated (0: none).
func Applied() int64 { return int64(len(ballast)) }

// Apply allocates the ballast once (and sets the GOGC of EnvGCPercent),
// unless GOGC is set in the environment, and reports whether it did.
func Apply() bool {
	if _, set := os.LookupEnv("GOGC"); set {
		return false
	}
	size := resolveBallast(os.Getenv(EnvBallast), hugepages.Offered())
	once.Do(func() {
		if size > 0 {
			ballast = make([]byte, size)
		}
		if v, err := strconv.Atoi(os.Getenv(EnvGCPercent)); err == nil && v > 0 {
			debug.SetGCPercent(v)
		}
	})
	return true
}

// A head holds a record of every object its drivers hold (a million, for a
// driver holding a million futures): its live heap, not its CPU, is what
// grows with the cluster's work, and at GOGC=100 it peaks at twice that.
// Past largeHeap of live heap, TightenLargeHeap collects at largeHeapGOGC
// (a peak of 1.5× the live heap, for a collection twice as often); under
// half of it, at the default again.
//
// Measured on 2026-12-06, `SHOAL_MILLION=held go test -run
// TestMillionTasksHeadMemory .` (a driver holding 1,000,000 finished
// futures): the head's peak RSS 591 MB without it.
const (
	largeHeap     = 192 << 20
	largeHeapGOGC = 50
)

// TightenLargeHeap checks the live heap every second until ctx ends and
// sets GOGC as gcPercentFor says, unless GOGC is set in the environment.
func TightenLargeHeap(ctx context.Context) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := 100
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return // (a Go without the metric)
		}
		if next := gcPercentFor(int64(sample[0].Value.Uint64()), current); next != current {
			debug.SetGCPercent(next)
			current = next
		}
	}
}

// gcPercentFor is the GOGC for a live heap of live bytes when it is
// current now: largeHeapGOGC past largeHeap, the default again under half
// of it (between the two it stays, so that it does not flip at the edge).
func gcPercentFor(live int64, current int) int {
	switch {
	case live > largeHeap:
		return largeHeapGOGC
	case live < largeHeap/2:
		return 100
	}
	return current
}
