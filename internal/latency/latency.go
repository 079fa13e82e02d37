// Package latency is a fixed-bucket histogram of durations, small enough
// for the head's and nodes' hot paths and free of dependencies (the
// packages that expose it as Prometheus metrics convert its snapshots).
// It is not safe for concurrent use: its owner observes under its lock.
package latency

import "time"

// Bounds are the histogram's bucket upper bounds in seconds: 1µs × 4^k up
// to ~4s.
var Bounds = func() []float64 {
	b := make([]float64, 12)
	v := 1e-6
	for i := range b {
		b[i] = v
		v *= 4
	}
	return b
}()

// Histogram counts durations by bucket.
type Histogram struct {
	counts [13]uint64 // len(Bounds)+1: the last is +Inf
	sum    float64
	n      uint64
}

// Observe adds one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(Bounds) && s > Bounds[i] {
		i++
	}
	h.counts[i]++
	h.sum += s
	h.n++
}

// Since observes the time since start.
func (h *Histogram) Since(start time.Time) { h.Observe(time.Since(start)) }

// Snapshot is a histogram's state: cumulative counts per upper bound
// (Bounds), as Prometheus wants them, the sum of the durations in seconds
// and their count.
type Snapshot struct {
	Buckets map[float64]uint64
	Sum     float64
	Count   uint64
}

// Snapshot returns h's state.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Buckets: make(map[float64]uint64, len(Bounds)), Sum: h.sum, Count: h.n}
	var cum uint64
	for i, b := range Bounds {
		cum += h.counts[i]
		s.Buckets[b] = cum
	}
	return s
}
