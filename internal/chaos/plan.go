package chaos

import (
	"math/bits"
	"math/rand/v2"
	"time"
)

// Target is a place in the cluster the killer may hit: a node slot. A slot
// keeps its name when its process is replaced, so a plan can name its
// victims before any of them exists.
type Target struct {
	Name string
	// Protected slots are never hit (the node that hosts the actors
	// workload's receivers).
	Protected bool
}

// Event is one planned fault: hit the node in slot Node at At after the
// workload started. Interval is the index of the interval it falls in.
type Event struct {
	At       time.Duration `json:"at_ns"`
	Node     string        `json:"node"`
	Interval int           `json:"interval"`
}

// Plan returns the faults of a run: one in each interval, at a uniformly
// random moment of it, on a uniformly random unprotected slot, up to
// maxKills. It never plans a fault in a cluster of fewer than two slots
// (that would leave no node). It is a pure function of its arguments: the
// same seed always gives the same plan, on every platform and Go release
// (it draws raw 64-bit words from PCG, whose output is specified, and maps
// them to ranges itself).
func Plan(seed int64, interval time.Duration, maxKills int, nodes []Target) []Event {
	if interval <= 0 || maxKills <= 0 || len(nodes) < 2 {
		return nil
	}
	var killable []string
	for _, n := range nodes {
		if !n.Protected {
			killable = append(killable, n.Name)
		}
	}
	if len(killable) == 0 {
		return nil
	}
	rng := rand.NewPCG(uint64(seed), 0x6368616f73) // "chaos"
	events := make([]Event, 0, maxKills)
	for i := range maxKills {
		at := time.Duration(i)*interval + time.Duration(below(rng, uint64(interval)))
		victim := killable[below(rng, uint64(len(killable)))]
		events = append(events, Event{At: at, Node: victim, Interval: i})
	}
	return events
}

// below maps the next word of rng into [0, n) by multiplying (Lemire's
// method without the rejection step: the bias, under n/2^64, is immaterial
// here and the mapping stays a fixed function of the word).
func below(rng *rand.PCG, n uint64) uint64 {
	hi, _ := bits.Mul64(rng.Uint64(), n)
	return hi
}
