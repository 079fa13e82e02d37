package head

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// classKey groups tasks that every node sees alike: same resource shape,
// strategy and affinity. Tasks of a class are placed in submission order,
// but for those waiting for the node that holds their arguments (delay
// scheduling), which the tasks behind them pass.
type classKey struct {
	cpu, gpu, memory int64
	custom           string // canonical custom resources; "" for none
	strategy         pb.Strategy
	affinity         ids.ID
	soft             bool
}

type class struct {
	queue []*task
	head  int
	live  bool // in Head.active
	// since is when its first waiting task became ready (Head.readySeq),
	// as of the last pass: the order of service, oldest first.
	since uint64
	// waiting is set while the class's first task fits no live node
	// (infeasible.go).
	waiting *waiting
}

func (h *Head) classOf(t *task) *class {
	k := classKey{cpu: t.req.CPU, gpu: t.req.GPU, memory: t.req.Memory, strategy: t.spec.Strategy, affinity: t.affinity, soft: t.spec.AffinitySoft}
	if len(t.req.Custom) > 0 {
		k.custom = t.req.Key()
	}
	c := h.classes[k]
	if c == nil {
		c = &class{}
		h.classes[k] = c
	}
	return c
}

func (h *Head) enqueue(t *task) {
	h.setTaskState(t, taskReady)
	t.readyAt = time.Now()
	h.readySeq++
	t.readySeq = h.readySeq
	if t.kind == pb.RunKind_RUN_KIND_ACTOR_CALL {
		if t.actor != nil {
			h.pumpActor(t.actor)
		}
		return
	}
	if t.queued {
		return
	}
	c := t.class
	c.queue = append(c.queue, t)
	t.queued = true
	if c.waiting != nil {
		h.warnOwner(c, t.owner, 1)
	}
	if !c.live {
		c.live = true
		h.active = append(h.active, c)
	}
}

// dequeue takes a ready task out of line; its queue entry is skipped later.
func (h *Head) dequeue(t *task) {
	if t.state == taskReady {
		h.setTaskState(t, taskIdle)
	}
}

// schedule places every queued task it can. Each class is served in order
// until its first task that must wait, and the classes oldest first (by
// their first waiting task), so that a class that always has a task
// waiting does not take every slot as it frees from the classes behind it.
// The node a class's first task waits for is held (scheduler.Node.Held)
// for the rest of the pass: younger short tasks do not queue on its
// executor, where they would take its slots before the head saw them
// free. (Younger tasks may still take what frees when the older task needs
// more than that, as in Ray: holding it back could idle a node for as long
// as its longest task runs.)
func (h *Head) schedule() {
	if len(h.active) == 0 || len(h.alive) == 0 {
		return
	}
	defer h.timings.schedule.Since(time.Now())
	h.view = h.view[:0]
	for _, n := range h.alive {
		h.view = append(h.view, scheduler.Node{Total: n.total, Committed: n.committed, Running: n.running, Backlog: n.backlog, Alive: !n.draining})
	}
	classes := h.active
	h.active = nil
	for _, c := range classes {
		c.live = false
		c.since = 0
		if t := c.first(); t != nil {
			c.since = t.readySeq
		}
	}
	slices.SortFunc(classes, func(a, b *class) int { return cmp.Compare(a.since, b.since) })
	h.localityWaits = 0
	for _, c := range classes {
		for i := c.head; i < len(c.queue) && i-c.head < maxLocalityScan; i++ {
			t := c.queue[i]
			atHead := i == c.head
			if t.state != taskReady {
				if atHead {
					c.pop()
				}
				continue // (placed past a task waiting for its node: popped when the line reaches it)
			}
			d := h.place(t)
			if d.Outcome == scheduler.LocalityWait {
				h.localityWaits++
				continue
			}
			if !atHead && d.Outcome != scheduler.Placed && d.Outcome != scheduler.Backlogged {
				break
			}
			switch d.Outcome {
			case scheduler.Placed, scheduler.Backlogged:
				if atHead {
					c.pop()
				}
				h.classRuns(c, true)
				h.assign(t, h.alive[d.Node], d.Outcome == scheduler.Backlogged)
				continue
			case scheduler.AffinityUnavailable:
				c.pop()
				h.completeTask(t, nil, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_NODE_DIED,
					Message: fmt.Sprintf("the node it must run on (%s) is not in the cluster; use a soft node affinity to let it run elsewhere", t.affinity.Abbrev())})
				continue
			case scheduler.Wait:
				if atHead && d.Node >= 0 {
					h.view[d.Node].Held = true
				}
			case scheduler.Infeasible:
				if len(t.excluded) > 0 && t.lastErr != nil {
					c.pop()
					h.completeTask(t, nil, t.lastErr)
					continue
				}
				if h.classWaits(c, t) {
					c.pop()
					continue
				}
			}
			break
		}
		if c.head == len(c.queue) {
			h.classRuns(c, false) // nothing waits in it any more
			clear(c.queue)
			c.queue, c.head = c.queue[:0], 0
			continue
		}
		if c.head > 1024 && c.head*2 > len(c.queue) {
			n := copy(c.queue, c.queue[c.head:])
			clear(c.queue[n:])
			c.queue, c.head = c.queue[:n], 0
		}
		if !c.live {
			c.live = true
			h.active = append(h.active, c)
		}
	}
}

// maxLocalityScan bounds how far past its first task a class's line is
// looked at in one pass, when tasks wait for their nodes.
const maxLocalityScan = 256

// first is the first task waiting in c's line, past those that left it
// (popped), or nil.
func (c *class) first() *task {
	for c.head < len(c.queue) {
		if t := c.queue[c.head]; t.state == taskReady {
			return t
		}
		c.pop()
	}
	return nil
}

func (c *class) pop() {
	c.queue[c.head].queued = false
	c.queue[c.head] = nil
	c.head++
}

func (h *Head) place(t *task) scheduler.Decision {
	req := scheduler.Request{Resources: t.req, Affinity: -1, AffinitySoft: t.spec.AffinitySoft}
	switch t.spec.Strategy {
	case pb.Strategy_STRATEGY_SPREAD:
		req.Strategy = scheduler.Spread
	case pb.Strategy_STRATEGY_PACK:
		req.Strategy = scheduler.Pack
	}
	if !t.affinity.IsNil() {
		req.Affinity = len(h.view) // out of range: the node is gone
		if n := h.nodes[t.affinity]; n != nil && n.alive {
			req.Affinity = n.idx
		}
	}
	if d := t.runTime; d.under(h.cfg.ShortTask) && t.kind != pb.RunKind_RUN_KIND_ACTOR_CREATE {
		// (An actor holds its resources for its life: its constructor
		// never queues beyond them.)
		req.MaxBacklog = min(256, max(1, int(h.cfg.BacklogWindow/max(d.mean, 1000))))
	}
	touched := false
	var local int64 // the most argument bytes one node holds
	// Locality counts the objects a task names inside its arguments too
	// (held): a dataframe partition task reads the map outputs and source
	// partitions it carries as futures, so it runs best where they are.
	for _, objs := range [2][]*object{t.args, t.held} {
		for _, a := range objs {
			if a == nil || a.value != nil {
				continue
			}
			for _, n := range a.locs {
				if n.alive {
					h.view[n.idx].ArgBytes += a.size
					local = max(local, h.view[n.idx].ArgBytes)
					touched = true
				}
			}
		}
	}
	for _, x := range t.excluded {
		if n := h.nodes[x]; n != nil && n.alive {
			h.view[n.idx].Excluded = true
			touched = true
		}
	}
	// Delay scheduling: wait for the node holding the arguments while
	// moving them would take longer than the wait so far.
	if local > 0 && h.cfg.LocalityWait > 0 && req.Strategy != scheduler.Spread && req.Affinity < 0 {
		worth := min(h.cfg.LocalityWait, time.Duration(float64(local)/h.cfg.LocalityBandwidth*float64(time.Second)))
		req.WaitForLocal = time.Since(t.readyAt) < worth
	}
	d := scheduler.Place(req, h.view)
	if touched {
		for i := range h.view {
			h.view[i].ArgBytes, h.view[i].Excluded = 0, false
		}
	}
	return d
}
