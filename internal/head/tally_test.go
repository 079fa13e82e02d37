package head

import (
	"fmt"
	"maps"
)

// checkTally compares the head's incremental counts with a walk of every
// object, as status computed them before the tally existed.
func (h *Head) checkTally() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	byState, byFunc, byJob := map[taskState]int64{}, map[tallyKey]int64{}, map[*job]map[taskState]int64{}
	var bytes int64
	for _, o := range h.objects {
		bytes += o.size
		t := o.producer
		if t == nil || t.state == taskDone {
			continue
		}
		byState[t.state]++
		byFunc[tallyKey{tallyFunction(t), t.state}]++
		if j := tallyJob(t); j != nil {
			if byJob[j] == nil {
				byJob[j] = map[taskState]int64{}
			}
			byJob[j][t.state]++
		}
	}
	nonzero := func(m map[taskState]int64) map[taskState]int64 {
		out := map[taskState]int64{}
		for k, v := range m {
			if v != 0 {
				out[k] = v
			}
		}
		return out
	}
	if got := nonzero(h.tally.byState); !maps.Equal(got, byState) {
		return fmt.Errorf("tasks by state: tally %v, walk %v", got, byState)
	}
	if !maps.Equal(h.tally.byFunc, byFunc) {
		return fmt.Errorf("tasks by function: tally %v, walk %v", h.tally.byFunc, byFunc)
	}
	if len(h.tally.byJob) != len(byJob) {
		return fmt.Errorf("tasks by job: tally has %d jobs, walk %d", len(h.tally.byJob), len(byJob))
	}
	for j, m := range byJob {
		if !maps.Equal(h.tally.byJob[j], m) {
			return fmt.Errorf("tasks of job %s: tally %v, walk %v", j.id.Short(), h.tally.byJob[j], m)
		}
	}
	if h.objectBytes != bytes {
		return fmt.Errorf("object bytes: tally %d, walk %d", h.objectBytes, bytes)
	}
	return nil
}
