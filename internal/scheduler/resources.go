package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shoal-dev/shoal/internal/bytesize"
)

// Unit is the fixed-point scale of CPU, GPU and custom amounts: 1 CPU is
// 10000 units, so 0.0001 CPU is the smallest fraction.
const Unit = 10000

// Resources is an amount of each resource. Memory is in bytes.
type Resources struct {
	CPU    int64
	GPU    int64
	Memory int64
	Custom map[string]int64
}

// Fits reports whether r is covered by avail.
func (r Resources) Fits(avail Resources) bool {
	if r.CPU > avail.CPU || r.GPU > avail.GPU || r.Memory > avail.Memory {
		return false
	}
	for k, v := range r.Custom {
		if v > avail.Custom[k] {
			return false
		}
	}
	return true
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	out := Resources{CPU: r.CPU + o.CPU, GPU: r.GPU + o.GPU, Memory: r.Memory + o.Memory}
	if len(r.Custom) > 0 || len(o.Custom) > 0 {
		out.Custom = make(map[string]int64, len(r.Custom)+len(o.Custom))
		for k, v := range r.Custom {
			out.Custom[k] = v
		}
		for k, v := range o.Custom {
			out.Custom[k] += v
		}
	}
	return out
}

// Sub returns r - o.
func (r Resources) Sub(o Resources) Resources {
	neg := Resources{CPU: -o.CPU, GPU: -o.GPU, Memory: -o.Memory}
	if len(o.Custom) > 0 {
		neg.Custom = make(map[string]int64, len(o.Custom))
		for k, v := range o.Custom {
			neg.Custom[k] = -v
		}
	}
	return r.Add(neg)
}

// Negative reports whether any amount in r is below zero.
func (r Resources) Negative() bool {
	if r.CPU < 0 || r.GPU < 0 || r.Memory < 0 {
		return true
	}
	for _, v := range r.Custom {
		if v < 0 {
			return true
		}
	}
	return false
}

// OnlyCPU reports whether r asks for nothing but CPU.
func (r Resources) OnlyCPU() bool {
	if r.GPU != 0 || r.Memory != 0 {
		return false
	}
	for _, v := range r.Custom {
		if v != 0 {
			return false
		}
	}
	return true
}

// Key is a canonical string of r, for grouping tasks of one shape.
func (r Resources) Key() string {
	if len(r.Custom) == 0 {
		return fmt.Sprintf("%d/%d/%d", r.CPU, r.GPU, r.Memory)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d/%d", r.CPU, r.GPU, r.Memory)
	for _, k := range slices.Sorted(maps.Keys(r.Custom)) {
		fmt.Fprintf(&b, "/%s=%d", k, r.Custom[k])
	}
	return b.String()
}

// String formats r for people: "CPU 1.5, GPU 1, memory 2.0 GiB, disk 2".
func (r Resources) String() string {
	var parts []string
	frac := func(v int64) string {
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", float64(v)/Unit), "0"), ".")
	}
	if r.CPU != 0 {
		parts = append(parts, "CPU "+frac(r.CPU))
	}
	if r.GPU != 0 {
		parts = append(parts, "GPU "+frac(r.GPU))
	}
	if r.Memory != 0 {
		parts = append(parts, "memory "+bytesize.Format(r.Memory))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Custom)) {
		parts = append(parts, k+" "+frac(r.Custom[k]))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}
