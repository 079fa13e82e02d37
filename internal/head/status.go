package head

import (
	"time"

	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Status reports nodes, resources, tasks by state and objects.
func (h *Head) Status() *pb.StatusReply {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.statusLocked()
}

func (h *Head) statusLocked() *pb.StatusReply {
	now := time.Now()
	r := &pb.StatusReply{TasksByState: map[string]int64{}, TasksFinished: h.counts.finished, TasksFailed: h.counts.failed, DashboardUrl: h.cfg.DashboardURL}
	for _, j := range h.jobs {
		if j.root == nil { // (derived jobs are parts of their root's)
			r.Jobs++
		}
	}
	byNode := make(map[*nodeState]*pb.NodeStatus, len(h.nodes))
	for _, n := range h.nodes {
		ns := &pb.NodeStatus{
			NodeId: n.id.Bytes(), DataAddr: n.dataAddr, Hostname: n.hostname, Alive: n.alive,
			Total: resourcesToPB(n.total), Available: resourcesToPB(n.total.Sub(n.committed)),
			RunningTasks: int64(n.running), LastHeartbeatMsAgo: now.Sub(n.lastSeen).Milliseconds(),
			Executors: int32(len(n.execs)), Labels: n.labels, MetricsUrl: n.metricsURL,
		}
		if hb := n.heartbeat; hb != nil {
			ns.StoreBytes, ns.StoreObjects, ns.Store = hb.StoreBytes, hb.StoreObjects, hb.Store
		}
		r.Nodes = append(r.Nodes, ns)
		byNode[n] = ns
	}
	for _, l := range h.leases {
		ns := byNode[l.node]
		if ns == nil {
			continue
		}
		if l.slot != nil {
			ns.SharedLeases++
		} else {
			ns.Leases++
		}
	}
	for state, n := range h.tally.byState.n {
		if n != 0 {
			r.TasksByState[taskStateNames[taskState(state)]] = n
		}
	}
	r.TasksByState["finished"] = h.counts.finished
	r.TasksByState["failed"] = h.counts.failed
	r.TasksByState["retried"] = h.counts.retried
	r.TasksByState["rebuilt"] = h.counts.rebuilt
	r.TasksByState["refused"] = h.counts.refused
	r.TasksByState["actor_restarts"] = h.counts.actorRestarts
	r.Events = append(r.Events, h.events...)
	r.Waiting = h.waitingStatus(now)
	for _, pn := range h.pins {
		ps := &pb.PinStatus{LeaseId: pn.id.Bytes(), Reason: pn.reason}
		for _, n := range pn.nodes {
			ps.NodeIds = append(ps.NodeIds, n.Bytes())
		}
		if pn.owner != nil {
			ps.Owner = pn.owner.job.info.GetName()
		}
		r.Pins = append(r.Pins, ps)
	}
	for _, a := range h.actors {
		if a.state != actorDead {
			r.Actors++
		}
	}
	r.Objects, r.ObjectBytes = int64(len(h.objects)), h.objectBytes
	return r
}

// SetDashboardURL records where the head's dashboard is served, for
// status (an embedded cluster's is started after its head).
func (h *Head) SetDashboardURL(url string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cfg.DashboardURL = url
}
