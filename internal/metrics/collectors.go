package metrics

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/latency"
	"github.com/shoal-dev/shoal/internal/node"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// HeadCollector is the head's metrics (docs/observability.md lists them):
// read from its state when scraped, the same state `shoal status` shows,
// plus its latency histograms.
func HeadCollector(h *head.Head) prometheus.Collector { return headCollector{h} }

type headCollector struct{ h *head.Head }

var (
	descNodes          = prometheus.NewDesc("shoal_nodes", "Nodes the head knows, by state (alive, draining, dead).", []string{"state"}, nil)
	descResourcesTotal = prometheus.NewDesc("shoal_resources_total", "Resources of the live nodes, by kind (cpu, gpu, memory in bytes, custom names).", []string{"resource"}, nil)
	descResourcesUsed  = prometheus.NewDesc("shoal_resources_used", "Resources of the live nodes held by running tasks, actors and leases.", []string{"resource"}, nil)
	descTasks          = prometheus.NewDesc("shoal_tasks", "Unfinished tasks and actor calls, by state.", []string{"state"}, nil)
	descTasksTotal     = prometheus.NewDesc("shoal_tasks_total", "Tasks ended or run again since the head started, by outcome (finished, failed, retried, rebuilt, actor_restarts, refused).", []string{"outcome"}, nil)
	descTasksByFunc    = prometheus.NewDesc("shoal_tasks_by_function", "Unfinished tasks by function (the 20 functions with most, the rest as \"other\") and state.", []string{"function", "state"}, nil)
	descActors         = prometheus.NewDesc("shoal_actors", "Actors by state (creating, alive).", []string{"state"}, nil)
	descObjects        = prometheus.NewDesc("shoal_objects", "Objects the head tracks.", nil, nil)
	descObjectBytes    = prometheus.NewDesc("shoal_object_bytes", "Bytes of the objects the head tracks.", nil, nil)
	descStoreBytes     = prometheus.NewDesc("shoal_object_store_bytes", "Bytes in the nodes' object stores, by location (memory, spilled), as of their last heartbeats.", []string{"location"}, nil)
	descJobs           = prometheus.NewDesc("shoal_jobs", "Jobs with a live driver.", nil, nil)
	descSubmittedJobs  = prometheus.NewDesc("shoal_submitted_jobs", "Jobs submitted with `shoal job submit`, by state.", []string{"state"}, nil)
	descLeases         = prometheus.NewDesc("shoal_leases", "Worker leases, by kind (own: holding resources; shared: sharing another's slot).", []string{"kind"}, nil)
	descPins           = prometheus.NewDesc("shoal_pins", "Pins keeping nodes from being removed.", nil, nil)
	descWaiting        = prometheus.NewDesc("shoal_waiting_work", "Tasks and actors no live node can run, by whether an autoscaler node type could (feasible) or nothing could (infeasible).", []string{"kind"}, nil)
	descEvents         = prometheus.NewDesc("shoal_events_total", "Decisions the head and its autoscaler recorded (status shows the recent ones), by kind.", []string{"kind"}, nil)
	descMessageSeconds = prometheus.NewDesc("shoal_head_message_seconds", "Time the head spends applying one batch of a client's messages (under its lock).", nil, nil)
	descScheduleSecs   = prometheus.NewDesc("shoal_head_schedule_seconds", "Time of one scheduling pass over the queued tasks.", nil, nil)
	descRPCSeconds     = prometheus.NewDesc("shoal_head_rpc_seconds", "Time the head takes to handle one unary gRPC call, by method (the streams of sessions are not timed).", []string{"method"}, nil)
	descQueries        = prometheus.NewDesc("shoal_dataframe_queries_total", "Dataframe queries run on the cluster that ended, by outcome (finished, failed), as their drivers reported.", []string{"outcome"}, nil)
	descQueryStages    = prometheus.NewDesc("shoal_dataframe_stages_total", "Stages of dataframe queries that finished.", nil, nil)
	descQueryRows      = prometheus.NewDesc("shoal_dataframe_rows_total", "Rows the finished stages of dataframe queries wrote.", nil, nil)
	descShuffleBytes   = prometheus.NewDesc("shoal_dataframe_shuffle_bytes_total", "Bytes of the shuffle (hash exchange) outputs the finished stages wrote.", nil, nil)
	descShuffleRead    = prometheus.NewDesc("shoal_dataframe_shuffle_read_bytes_total", "Map output bytes the stages' tasks read, by where (local: in place on their node; remote: fetched from another).", []string{"where"}, nil)
	descQueryEvents    = prometheus.NewDesc("shoal_dataframe_stage_events_total", "What the finished stages did beyond the plan, by kind (spills, reruns after fetch failures, skewed partitions split).", []string{"kind"}, nil)
)

func (c headCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodes, descResourcesTotal, descResourcesUsed, descTasks, descTasksTotal, descTasksByFunc,
		descActors, descObjects, descObjectBytes, descStoreBytes, descJobs, descSubmittedJobs, descLeases, descPins, descWaiting, descEvents,
		descMessageSeconds, descScheduleSecs, descRPCSeconds, descQueries, descQueryStages, descQueryRows, descShuffleBytes, descShuffleRead, descQueryEvents} {
		ch <- d
	}
}

func (c headCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Metrics()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	alive, draining, dead := 0, 0, 0
	total := map[string]float64{"cpu": 0, "gpu": 0, "memory": 0}
	used := map[string]float64{"cpu": 0, "gpu": 0, "memory": 0}
	var memory, spilled, own, shared float64
	for _, n := range s.Status.Nodes {
		switch {
		case !n.Alive:
			dead++
			continue
		case s.Draining[string(n.NodeId)]:
			draining++
		default:
			alive++
		}
		addResources(total, n.Total, 1)
		addResources(used, n.Total, 1)
		addResources(used, n.Available, -1)
		memory += float64(n.GetStore().GetMemoryBytes())
		spilled += float64(n.GetStore().GetSpilledBytes())
		own += float64(n.Leases)
		shared += float64(n.SharedLeases)
	}
	gauge(descNodes, float64(alive), "alive")
	gauge(descNodes, float64(draining), "draining")
	gauge(descNodes, float64(dead), "dead")
	for k, v := range total {
		gauge(descResourcesTotal, v, k)
		gauge(descResourcesUsed, used[k], k)
	}
	for _, st := range []string{"idle", "waiting_for_args", "waiting_for_resources", "running"} {
		gauge(descTasks, float64(s.Status.TasksByState[st]), st)
	}
	for _, outcome := range []string{"finished", "failed", "retried", "rebuilt", "actor_restarts", "refused"} {
		counter(descTasksTotal, float64(s.Status.TasksByState[outcome]), outcome)
	}
	for k, v := range s.ByFunction {
		gauge(descTasksByFunc, float64(v), k[0], k[1])
	}
	gauge(descActors, float64(s.ActorsCreating), "creating")
	gauge(descActors, float64(s.ActorsAlive), "alive")
	gauge(descObjects, float64(s.Status.Objects))
	gauge(descObjectBytes, float64(s.Status.ObjectBytes))
	gauge(descStoreBytes, memory, "memory")
	gauge(descStoreBytes, spilled, "spilled")
	gauge(descJobs, float64(s.Status.Jobs))
	for st, n := range s.Submitted {
		gauge(descSubmittedJobs, float64(n), st)
	}
	gauge(descLeases, own, "own")
	gauge(descLeases, shared, "shared")
	gauge(descPins, float64(len(s.Status.Pins)))
	var feasible, infeasible float64
	for _, w := range s.Status.Waiting {
		if w.Infeasible {
			infeasible += float64(w.Count)
		} else {
			feasible += float64(w.Count)
		}
	}
	gauge(descWaiting, feasible, "feasible")
	gauge(descWaiting, infeasible, "infeasible")
	for kind, n := range s.Events {
		counter(descEvents, float64(n), kind)
	}
	ch <- histogram(descMessageSeconds, s.Message)
	ch <- histogram(descScheduleSecs, s.Schedule)
	for method, snap := range s.RPCs {
		ch <- histogram(descRPCSeconds, snap, method)
	}
	q := s.Queries
	counter(descQueries, float64(q.Queries-q.Failed), "finished")
	counter(descQueries, float64(q.Failed), "failed")
	counter(descQueryStages, float64(q.Stages))
	counter(descQueryRows, float64(q.Rows))
	counter(descShuffleBytes, float64(q.ShuffleBytes))
	counter(descShuffleRead, float64(q.LocalBytes), "local")
	counter(descShuffleRead, float64(q.RemoteBytes), "remote")
	counter(descQueryEvents, float64(q.Spills), "spills")
	counter(descQueryEvents, float64(q.Reruns), "reruns")
	counter(descQueryEvents, float64(q.SplitPartitions), "splits")
}

func histogram(d *prometheus.Desc, s latency.Snapshot, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstHistogram(d, s.Count, s.Sum, s.Buckets, labels...)
}

// addResources adds sign × r to m, by kind (CPUs and GPUs in units).
func addResources(m map[string]float64, r *pb.Resources, sign float64) {
	if r == nil {
		return
	}
	m["cpu"] += sign * float64(r.Cpu) / scheduler.Unit
	m["gpu"] += sign * float64(r.Gpu) / scheduler.Unit
	m["memory"] += sign * float64(r.Memory)
	for k, v := range r.Custom {
		m[k] += sign * float64(v) / scheduler.Unit
	}
}

// NodeCollector is a node's metrics (docs/observability.md lists them),
// read from its store, data plane and executors when scraped.
func NodeCollector(n *node.Node) prometheus.Collector { return nodeCollector{n} }

type nodeCollector struct{ n *node.Node }

var (
	descNodeObjects      = prometheus.NewDesc("shoal_node_objects", "Objects in the node's store, each once wherever it is (what status shows).", nil, nil)
	descNodeObjectBytes  = prometheus.NewDesc("shoal_node_object_bytes", "Bytes of the objects in the node's store, each once wherever it is.", nil, nil)
	descNodeStoreObjects = prometheus.NewDesc("shoal_node_store_objects", "Objects in the node's store, by location (memory, spilled: a copy on disk).", []string{"location"}, nil)
	descNodeStoreBytes   = prometheus.NewDesc("shoal_node_store_bytes", "Bytes of the objects in the node's store, by location (memory, spilled).", []string{"location"}, nil)
	descNodeStoreLimit   = prometheus.NewDesc("shoal_node_store_limit_bytes", "The store's budgets: memory, and disk for spill files (absent: no limit).", []string{"kind"}, nil)
	descNodeSpillFiles   = prometheus.NewDesc("shoal_node_spill_file_bytes", "Bytes of the store's spill files, deleted objects not yet reclaimed included.", nil, nil)
	descNodeShared       = prometheus.NewDesc("shoal_node_shared_memory_bytes", "The store's shared memory (arena): size, in use, and pinned by readers after it left the store.", []string{"kind"}, nil)
	descNodeSpills       = prometheus.NewDesc("shoal_node_spills_total", "Objects written to disk.", nil, nil)
	descNodeSpillBytes   = prometheus.NewDesc("shoal_node_spill_bytes_total", "Bytes written to disk for spilled objects.", nil, nil)
	descNodeRestores     = prometheus.NewDesc("shoal_node_restores_total", "Objects read back from disk.", nil, nil)
	descNodeRangeReads   = prometheus.NewDesc("shoal_node_range_reads_total", "Byte ranges read from disk without restoring their object.", nil, nil)
	descNodeStoreErrors  = prometheus.NewDesc("shoal_node_store_errors_total", "Disk errors of the store, by operation (spill, restore).", []string{"op"}, nil)
	descNodeTransfer     = prometheus.NewDesc("shoal_node_transfer_bytes_total", "Object bytes over the data plane: served to others (sent), stored by others (received), fetched from peers (pulled) and put on peers (pushed).", []string{"direction"}, nil)
	descNodeExecutors    = prometheus.NewDesc("shoal_node_executors", "Executor processes the node runs.", nil, nil)
)

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodeObjects, descNodeObjectBytes, descNodeStoreObjects, descNodeStoreBytes, descNodeStoreLimit, descNodeSpillFiles, descNodeShared,
		descNodeSpills, descNodeSpillBytes, descNodeRestores, descNodeRangeReads, descNodeStoreErrors, descNodeTransfer, descNodeExecutors} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.n.Metrics()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	u := m.Store
	gauge(descNodeObjects, float64(u.Objects))
	gauge(descNodeObjectBytes, float64(u.Bytes))
	gauge(descNodeStoreObjects, float64(u.MemoryObjects), "memory")
	gauge(descNodeStoreObjects, float64(u.SpilledObjects), "spilled")
	gauge(descNodeStoreBytes, float64(u.MemoryBytes), "memory")
	gauge(descNodeStoreBytes, float64(u.SpilledBytes), "spilled")
	if u.MemoryLimit > 0 && u.MemoryLimit != math.MaxInt64 {
		gauge(descNodeStoreLimit, float64(u.MemoryLimit), "memory")
	}
	if u.DiskLimit > 0 && u.DiskLimit != math.MaxInt64 {
		gauge(descNodeStoreLimit, float64(u.DiskLimit), "disk")
	}
	gauge(descNodeSpillFiles, float64(u.SpillFileBytes))
	gauge(descNodeShared, float64(u.SharedSize), "size")
	gauge(descNodeShared, float64(u.SharedBytes), "used")
	gauge(descNodeShared, float64(u.PinnedBytes), "pinned")
	counter(descNodeSpills, float64(u.Spills))
	counter(descNodeSpillBytes, float64(u.SpillWrites))
	counter(descNodeRestores, float64(u.Restores))
	counter(descNodeRangeReads, float64(u.RangeReads))
	counter(descNodeStoreErrors, float64(u.SpillFailures), "spill")
	counter(descNodeStoreErrors, float64(u.ReadFailures), "restore")
	counter(descNodeTransfer, float64(m.Sent), "sent")
	counter(descNodeTransfer, float64(m.Received), "received")
	counter(descNodeTransfer, float64(m.Pulled), "pulled")
	counter(descNodeTransfer, float64(m.Pushed), "pushed")
	gauge(descNodeExecutors, float64(m.Executors))
}
