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
	asMap := func(c *stateCounts) map[taskState]int64 {
		out := map[taskState]int64{}
		for s, n := range c.n {
			out[taskState(s)] = n
		}
		return nonzero(out)
	}
	if got := asMap(&h.tally.byState); !maps.Equal(got, byState) {
		return fmt.Errorf("tasks by state: tally %v, walk %v", got, byState)
	}
	if got := h.tally.byFuncState(); !maps.Equal(got, byFunc) {
		return fmt.Errorf("tasks by function: tally %v, walk %v", got, byFunc)
	}
	for fn, c := range h.tally.byFunc {
		if c.total == 0 {
			return fmt.Errorf("function %s kept in the tally with no task in flight", fn)
		}
	}
	if len(h.tally.jobs) != len(byJob) {
		return fmt.Errorf("tasks by job: tally has %d jobs, walk %d", len(h.tally.jobs), len(byJob))
	}
	for j, m := range byJob {
		if _, ok := h.tally.jobs[j]; !ok || !maps.Equal(asMap(&j.tally), m) {
			return fmt.Errorf("tasks of job %s: tally %v (listed %v), walk %v", j.id.Short(), asMap(&j.tally), ok, m)
		}
	}
	if h.objectBytes != bytes {
		return fmt.Errorf("object bytes: tally %d, walk %d", h.objectBytes, bytes)
	}
	return nil
}
