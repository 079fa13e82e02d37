package head

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/shoal-dev/shoal/autoscaler"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// What the autoscaler reads from the head and what it leaves there: pins,
// explicit resource requests, a snapshot of nodes and demand, and events.

// pin keeps nodes from being removed while an operation depends on them.
type pin struct {
	id      ids.ID
	nodes   []ids.ID
	owner   *session
	reason  string
	expires time.Time // zero: until unpinned or the owner's session ends
}

// maxEvents bounds the events kept for status.
const maxEvents = 200

// Event records a decision (the autoscaler's, a drain's) for status.
func (h *Head) Event(msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.eventLocked("autoscaler", msg)
}

// eventLocked records a decision of a kind (a fixed word: the metrics'
// label) for status.
func (h *Head) eventLocked(kind, msg string) {
	h.eventCounts[kind]++
	h.events = append(h.events, time.Now().UTC().Format("15:04:05.000")+" "+msg)
	if len(h.events) > maxEvents {
		h.events = slices.Delete(h.events, 0, len(h.events)-maxEvents)
	}
	h.log.Info("event", "message", msg)
}

func (h *Head) addPin(s *session, p *pb.PinRequest) {
	id, err := ids.FromBytes("pin lease id", p.LeaseId)
	if err != nil {
		return
	}
	pn := &pin{id: id, owner: s, reason: p.Reason}
	if p.TtlMs > 0 {
		pn.expires = time.Now().Add(time.Duration(p.TtlMs) * time.Millisecond)
	}
	for _, b := range p.NodeIds {
		if n, err := ids.FromBytes("pinned node id", b); err == nil {
			pn.nodes = append(pn.nodes, n)
		}
	}
	h.pins[id] = pn
	h.eventLocked("pin", fmt.Sprintf("pin %s: %d nodes pinned (%s)", id.Short(), len(pn.nodes), pn.reason))
}

func (h *Head) removePin(id ids.ID, why string) {
	if pn := h.pins[id]; pn != nil {
		delete(h.pins, id)
		h.eventLocked("pin", fmt.Sprintf("pin %s released: %s", id.Short(), why))
	}
}

// expirePins drops pins whose lease ran out. Called with h.mu held.
func (h *Head) expirePins(now time.Time) {
	for id, pn := range h.pins {
		if !pn.expires.IsZero() && now.After(pn.expires) {
			h.removePin(id, "its lease expired")
		}
	}
}

// pinnedBy returns why node id is pinned ("" if it is not).
func (h *Head) pinnedBy(id ids.ID) string {
	for _, pn := range h.pins {
		if slices.Contains(pn.nodes, id) {
			return pn.reason
		}
	}
	return ""
}

// RequestResources replaces the explicit demand.
func (h *Head) RequestResources(bundles []*pb.Resources) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requested = h.requested[:0]
	for _, b := range bundles {
		h.requested = append(h.requested, resourcesFromPB(b))
	}
	h.eventLocked("resources_requested", fmt.Sprintf("resources requested: %d bundles", len(bundles)))
}

func toAutoscaler(r scheduler.Resources) autoscaler.Resources {
	out := autoscaler.Resources{}
	if r.CPU != 0 {
		out["CPU"] = float64(r.CPU) / scheduler.Unit
	}
	if r.GPU != 0 {
		out["GPU"] = float64(r.GPU) / scheduler.Unit
	}
	if r.Memory != 0 {
		out["memory"] = float64(r.Memory)
	}
	for k, v := range r.Custom {
		out[k] = float64(v) / scheduler.Unit
	}
	return out
}

// fromAutoscaler is the inverse of toAutoscaler.
func fromAutoscaler(r autoscaler.Resources) scheduler.Resources {
	var out scheduler.Resources
	for k, v := range r {
		switch k {
		case "CPU":
			out.CPU = int64(v * scheduler.Unit)
		case "GPU":
			out.GPU = int64(v * scheduler.Unit)
		case "memory":
			out.Memory = int64(v)
		default:
			if out.Custom == nil {
				out.Custom = map[string]int64{}
			}
			out.Custom[k] = int64(v * scheduler.Unit)
		}
	}
	return out
}

// AutoscalerSnapshot returns the nodes and the demand for a decision (the
// provider's instances are the caller's to add).
func (h *Head) AutoscalerSnapshot() autoscaler.Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	h.expirePins(now)
	snap := autoscaler.Snapshot{Now: now}
	for _, n := range h.alive {
		busy := n.running > 0 || n.holdsActors()
		if busy {
			n.idleSince = time.Time{}
		} else if n.idleSince.IsZero() {
			n.idleSince = now
		}
		sole := 0
		for _, o := range n.objects {
			if h.onlyCopyHere(o, n) {
				sole++
			}
		}
		snap.Nodes = append(snap.Nodes, autoscaler.Node{
			ID: n.id.String(), Instance: n.labels[autoscaler.LabelInstance], Type: n.labels[autoscaler.LabelNodeType],
			Total: toAutoscaler(n.total), Available: toAutoscaler(n.total.Sub(n.committed)),
			Running: n.running, IdleSince: n.idleSince, PinnedBy: h.pinnedBy(n.id), SoleCopies: sole, Draining: n.draining,
		})
	}
	// Demand: tasks (and actor constructors) ready to run but waiting for
	// resources, by shape, plus the explicit request.
	shapes := map[string]*autoscaler.Demand{}
	for _, c := range h.classes {
		for _, t := range c.queue[c.head:] {
			if t == nil || t.state != taskReady {
				continue
			}
			k := t.req.Key()
			d := shapes[k]
			if d == nil {
				d = &autoscaler.Demand{Resources: toAutoscaler(t.req)}
				shapes[k] = d
			}
			d.Count++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(shapes)) {
		snap.Demand = append(snap.Demand, *shapes[k])
	}
	for _, r := range h.requested {
		snap.Demand = append(snap.Demand, autoscaler.Demand{Resources: toAutoscaler(r), Count: 1})
	}
	return snap
}

// holdsActors reports whether live actors hold resources on n.
func (n *nodeState) holdsActors() bool {
	for _, s := range n.execs {
		if len(s.actors) > 0 {
			return true
		}
	}
	return false
}
