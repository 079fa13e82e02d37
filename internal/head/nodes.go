package head

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// nodeState is the head's record of one node.
type nodeState struct {
	id        ids.ID
	dataAddr  string
	hostname  string
	labels    map[string]string
	total     scheduler.Resources
	committed scheduler.Resources
	running   int
	backlog   int
	// leased is the CPU its unblocked leases hold, as of the last lease
	// request while tasks waited (Head.countLeased).
	leased   int64
	alive    bool
	lastSeen time.Time
	idx      int
	out      *rpc.Outbox[pb.HeadToNode]
	kill     context.CancelFunc
	execs    map[ids.ID]*session   // job -> its executor here
	starting map[ids.ID]*execStart // job -> tasks waiting for its executor
	// draining: no new work is placed here.
	draining bool
	// idleSince is when the node was last seen with nothing running (zero:
	// busy), for the autoscaler.
	idleSince time.Time
	// joined holds the pids of executors that registered here, so that their
	// exit is not taken for a failure to start their replacement.
	joined map[int32]bool
	// exiting and exitReports pair executors whose connection closed with
	// the node's reports of their exit (exits.go), by pid.
	exiting     map[int32]*exitingExecutor
	exitReports map[int32]exitReport
	exitWaiters map[int32][]chan struct{} // ExecutorExit calls waiting for a report
	objects     map[ids.ID]*object        // objects with a copy here
	heartbeat   *pb.Heartbeat
	// packageAddr serves the runtime-environment packages in packages
	// (hashes) to peers; empty: the node serves none.
	packageAddr string
	metricsURL  string // its Prometheus metrics ("": none)
	packages    map[string]bool
}

type execStart struct {
	tasks []*task
}

func resourcesFromPB(r *pb.Resources) scheduler.Resources {
	if r == nil {
		return scheduler.Resources{}
	}
	out := scheduler.Resources{CPU: r.Cpu, GPU: r.Gpu, Memory: r.Memory}
	if len(r.Custom) > 0 {
		out.Custom = make(map[string]int64, len(r.Custom))
		for k, v := range r.Custom {
			out.Custom[k] = v
		}
	}
	return out
}

func resourcesToPB(r scheduler.Resources) *pb.Resources {
	return &pb.Resources{Cpu: r.CPU, Gpu: r.GPU, Memory: r.Memory, Custom: r.Custom}
}

func (h *Head) serveNode(stream rpc.ServerStream[pb.NodeMessage, pb.HeadToNode]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.Hello == nil {
		return errs.ToStatus(fmt.Errorf("%w: the first message of a node stream must carry a hello", errs.ErrMalformed))
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	out := rpc.NewOutbox(h.cfg.MaxMessageBytes/2, func() *pb.HeadToNode { return &pb.HeadToNode{} })

	h.mu.Lock()
	n, err := h.addNode(first.Hello, out, cancel)
	h.mu.Unlock()
	if err != nil {
		return errs.ToStatus(err)
	}
	out.Add(64, func(m *pb.HeadToNode) {
		m.Welcome = &pb.NodeWelcome{NodeId: n.id.Bytes(), HeartbeatIntervalMs: h.cfg.HeartbeatInterval.Milliseconds()}
	})
	// The first message may list the objects a node kept across a head
	// restart.
	first.Hello = nil
	graceful, result := pump(h, ctx, cancel, stream, out, first, func(m *pb.NodeMessage) error { return h.handleNode(n, m) })
	reason := "its connection to the head closed"
	if graceful {
		reason = "it left the cluster"
	}
	h.mu.Lock()
	declared := !n.alive
	h.nodeGone(n, reason, graceful)
	h.mu.Unlock()
	if declared && result == nil {
		result = fmt.Errorf("%w: node %s missed its heartbeat deadline; register again as a new node", errs.ErrDeclaredDead, n.id.Abbrev())
	}
	return errs.ToStatus(result)
}

func (h *Head) addNode(hello *pb.NodeHello, out *rpc.Outbox[pb.HeadToNode], kill context.CancelFunc) (*nodeState, error) {
	if h.closed {
		return nil, fmt.Errorf("%w: the head is shutting down", errs.ErrClosed)
	}
	id, err := ids.FromBytes("node id", hello.NodeId)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.ErrMalformed, err)
	}
	if h.deadIDs[id] {
		return nil, fmt.Errorf("%w: node %s was declared dead; register again with a new node id", errs.ErrDeclaredDead, id.Abbrev())
	}
	if old := h.nodes[id]; old != nil {
		if !old.alive {
			return nil, fmt.Errorf("%w: node %s was declared dead; register again with a new node id", errs.ErrDeclaredDead, id.Abbrev())
		}
		return nil, fmt.Errorf("node %s is already registered", id.Abbrev())
	}
	total := resourcesFromPB(hello.Resources)
	if total.CPU < 0 || total.GPU < 0 || total.Memory < 0 {
		return nil, fmt.Errorf("%w: node %s reports negative resources", errs.ErrMalformed, id.Abbrev())
	}
	n := &nodeState{
		id: id, dataAddr: hello.DataAddr, hostname: hello.Hostname, labels: hello.Labels,
		total: total, alive: true, lastSeen: time.Now(), out: out, kill: kill,
		execs: make(map[ids.ID]*session), starting: make(map[ids.ID]*execStart), objects: make(map[ids.ID]*object), joined: make(map[int32]bool),
		exiting: make(map[int32]*exitingExecutor), exitReports: make(map[int32]exitReport),
		exitWaiters: make(map[int32][]chan struct{}),
		packageAddr: hello.PackageAddr, packages: make(map[string]bool), metricsURL: hello.MetricsUrl,
	}
	for _, p := range hello.Packages {
		n.packages[p] = true
	}
	h.nodes[id] = n
	n.idx = len(h.alive)
	h.alive = append(h.alive, n)
	h.log.Info("node joined", "node", id.Abbrev(), "host", hello.Hostname, "data", hello.DataAddr, "resources", total.String())
	h.schedule()
	return n, nil
}

// maxPackagePeers bounds the peers a node is offered for one package.
const maxPackagePeers = 3

// packageSource names the live nodes, other than target, that hold
// package hash and serve it to peers (at most maxPackagePeers, in random
// order to spread the load), or nil.
func (h *Head) packageSource(hash string, target *nodeState) *pb.PackageSource {
	if hash == "" {
		return nil
	}
	var addrs []string
	for _, n := range h.alive {
		if n != target && n.packageAddr != "" && n.packages[hash] {
			addrs = append(addrs, n.packageAddr)
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	return &pb.PackageSource{Hash: hash, Addrs: addrs[:min(len(addrs), maxPackagePeers)]}
}

func (h *Head) handleNode(n *nodeState, m *pb.NodeMessage) error {
	if !n.alive {
		// A late message from a node declared dead is never applied.
		h.counts.stale++
		return nil
	}
	n.lastSeen = time.Now()
	if m.Heartbeat != nil {
		n.heartbeat = m.Heartbeat
	}
	for _, c := range m.Objects {
		id, err := ids.FromBytes("object copy id", c.Id)
		if err != nil {
			return fmt.Errorf("%w: %v", errs.ErrMalformed, err)
		}
		o := h.objects[id]
		if !c.Added {
			if o != nil {
				h.removeLocation(o, n)
			}
			continue
		}
		if o == nil {
			if h.recovering() {
				// After a restart, owners declare their objects again: keep
				// the copy until the recovery window ends.
				h.unclaimed[id] = append(h.unclaimed[id], n)
				continue
			}
			// A copy of an object nobody references any more: drop it.
			n.out.Add(32, func(m *pb.HeadToNode) { m.FreeObjects = append(m.FreeObjects, c.Id) })
			continue
		}
		h.addLocation(o, n)
	}
	for _, e := range m.Drivers {
		h.driverEvent(n, e)
	}
	h.logReplies(m.LogReplies)
	for _, p := range m.PackagesHeld {
		n.packages[p.Hash] = true
		h.eventLocked("package", fmt.Sprintf("package %s on node %s, fetched from %s", shortHash(p.Hash), n.id.Abbrev(), p.Source))
	}
	for _, e := range m.Executors {
		jobID, err := ids.FromBytes("executor job id", e.JobId)
		if err != nil {
			return fmt.Errorf("%w: %v", errs.ErrMalformed, err)
		}
		if e.Exited {
			if n.joined[e.Pid] {
				// An executor that ran here has gone: its work fails with
				// the reason (exits.go).
				delete(n.joined, e.Pid)
				h.executorExited(n, e.Pid, e.Error)
				continue
			}
			if j := h.jobs[jobID]; j != nil && n.execs[jobID] == nil && n.starting[jobID] != nil {
				h.executorFailed(n, j, fmt.Sprintf("the executor process on node %s could not start: %s", n.id.Abbrev(), e.Error), true)
			}
		}
	}
	h.schedule()
	return nil
}

// executorFailed fails or retries the tasks that were waiting for an
// executor of job j on node n that will not come.
func (h *Head) executorFailed(n *nodeState, j *job, msg string, retry bool) {
	st := n.starting[j.id]
	delete(n.starting, j.id)
	if st == nil {
		return
	}
	h.log.Warn("executor failed", "node", n.id.Abbrev(), "job", j.id.Abbrev(), "error", msg)
	for _, t := range st.tasks {
		if t.state != taskAssigned || t.node != n {
			continue
		}
		h.unassign(t)
		t.exclude(n.id)
		h.taskFailed(t, &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_EXECUTOR, Message: msg, NodeId: n.id.Bytes()}, retry)
	}
}

// nodeDied removes a node from the cluster: its executors' tasks are
// retried elsewhere, its object copies are forgotten, and objects whose only
// copy it held are lost. It is idempotent.
func (h *Head) nodeDied(n *nodeState, reason string) { h.nodeGone(n, reason, false) }

// nodeGone is nodeDied for a node that may have left on purpose (logged
// quietly then).
func (h *Head) nodeGone(n *nodeState, reason string, graceful bool) {
	if !n.alive {
		return
	}
	n.alive = false
	if graceful {
		h.log.Info("node left", "node", n.id.Abbrev(), "running_tasks", n.running)
	} else {
		if h.state != nil {
			if err := h.state.markDead(n.id); err != nil {
				h.log.Error("storing a dead node", "node", n.id.Abbrev(), "error", err)
			}
		}
		h.log.Warn("node died", "node", n.id.Abbrev(), "reason", reason, "running_tasks", n.running)
	}
	last := len(h.alive) - 1
	h.alive[n.idx] = h.alive[last]
	h.alive[n.idx].idx = n.idx
	h.alive = h.alive[:last]
	n.kill()
	h.driversLost(n, reason)
	for _, s := range n.execs {
		h.closeSession(s, fmt.Sprintf("node %s died: %s", n.id.Abbrev(), reason))
	}
	h.executorsLost(n, fmt.Sprintf("node %s died: %s", n.id.Abbrev(), reason))
	for jobID := range n.starting {
		if j := h.jobs[jobID]; j != nil {
			h.executorFailed(n, j, fmt.Sprintf("node %s died before the executor started: %s", n.id.Abbrev(), reason), true)
		}
	}
	for _, o := range n.objects {
		h.removeLocation(o, n)
		switch {
		case len(o.locs) == 0 && o.value == nil && o.state == objectReady:
			h.objectGone(o, n, reason)
		case o.state == objectReady && o.value == nil:
			// Readers fetching the copy that died move to the others now
			// rather than after the dead node's timeouts.
			h.notifyOwner(o)
		}
	}
	h.schedule()
}

func (h *Head) monitorHeartbeats() {
	defer h.wg.Done()
	tick := time.NewTicker(h.cfg.HeartbeatInterval / 2)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case now := <-tick.C:
			h.mu.Lock()
			h.endRecovery()
			h.expirePins(now)
			h.expireExits(now)
			h.sampleLocked(now)
			for _, n := range append([]*nodeState(nil), h.alive...) {
				if silent := now.Sub(n.lastSeen); silent > h.cfg.HeartbeatTimeout {
					h.nodeDied(n, fmt.Sprintf("no heartbeat for %v (timeout %v)", silent.Round(time.Millisecond), h.cfg.HeartbeatTimeout))
				}
			}
			if h.infeasible > 0 && h.cfg.InfeasibleTimeout > 0 || h.localityWaits > 0 {
				h.schedule() // (fails work that waited out InfeasibleTimeout; runs elsewhere work that waited for its node long enough)
			}
			h.mu.Unlock()
		}
	}
}

// Locate picks the node that stores a client's large Puts: a live node on
// the client's host if there is one, else the one with the least stored.
func (h *Head) Locate(req *pb.LocateRequest) *pb.LocateReply {
	h.mu.Lock()
	defer h.mu.Unlock()
	var best *nodeState
	for _, n := range h.alive {
		if best == nil || (n.hostname == req.Hostname) != (best.hostname == req.Hostname) && n.hostname == req.Hostname ||
			(n.hostname == req.Hostname) == (best.hostname == req.Hostname) && len(n.objects) < len(best.objects) {
			best = n
		}
	}
	if best == nil {
		return &pb.LocateReply{}
	}
	return &pb.LocateReply{NodeId: best.id.Bytes(), DataAddr: best.dataAddr}
}
