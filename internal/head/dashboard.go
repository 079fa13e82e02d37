package head

import (
	"cmp"
	"container/heap"
	"slices"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// What the web dashboard (internal/dashboard) reads beyond Status, Metrics
// and Timeline: 15 minutes of samples of every node, the recent failures,
// the tasks of each job, actors by class, the largest objects and a job's
// last lines of output. Each call holds the lock briefly and copies a
// bounded amount; the dashboard renders from the copy.

const (
	// SampleEvery is how often the head samples its nodes' use, and
	// historyLen how many samples it keeps of each (15 minutes).
	SampleEvery = 5 * time.Second
	historyLen  = int(15 * time.Minute / SampleEvery)
	// maxFailures bounds the failures kept, maxFailureBytes each one's
	// message (a panic's stack included).
	maxFailures     = 200
	maxFailureBytes = 16 << 10
)

// Sample is a node's use at one moment (CPU and GPU in units, bytes
// otherwise). float32 keeps 15 minutes of a thousand nodes under 6 MB.
type Sample struct {
	UnixMs           int64
	CPU, GPU, Memory float32 // committed to running work
	Store, Spilled   float32 // object store bytes in memory, spilled to disk
	Running          float32 // tasks running (leases count one each)
}

// ClusterSample is the sum of the live nodes' samples, with their
// capacity and the cluster's tasks.
type ClusterSample struct {
	Sample
	CPUTotal, GPUTotal, MemoryTotal float32
	// Waiting counts the tasks waiting for arguments or resources;
	// Finished and Failed the tasks ended so far.
	Waiting          int64
	Finished, Failed int64
}

// history is the samples the head keeps.
type history struct {
	last    time.Time
	cluster ring[ClusterSample]
	nodes   map[ids.ID]*ring[Sample]
}

// sampleLocked records a sample of every live node (and their sum) when
// SampleEvery has passed since the last.
func (h *Head) sampleLocked(now time.Time) {
	hs := &h.history
	if now.Sub(hs.last) < SampleEvery {
		return
	}
	hs.last = now
	if hs.nodes == nil {
		hs.nodes, hs.cluster = map[ids.ID]*ring[Sample]{}, newRing[ClusterSample](historyLen)
	}
	sum := ClusterSample{Sample: Sample{UnixMs: now.UnixMilli()}, Finished: h.counts.finished, Failed: h.counts.failed}
	sum.Waiting = h.tally.byState.n[taskWaitingArgs] + h.tally.byState.n[taskReady]
	for id := range hs.nodes {
		if n := h.nodes[id]; n == nil || !n.alive {
			delete(hs.nodes, id)
		}
	}
	for _, n := range h.alive {
		s := Sample{UnixMs: sum.UnixMs, CPU: units(n.committed.CPU), GPU: units(n.committed.GPU), Memory: float32(n.committed.Memory),
			Running: float32(n.running)}
		if st := n.heartbeat.GetStore(); st != nil {
			s.Store, s.Spilled = float32(st.MemoryBytes), float32(st.SpilledBytes)
		} else {
			s.Store = float32(n.heartbeat.GetStoreBytes())
		}
		r := hs.nodes[n.id]
		if r == nil {
			nr := newRing[Sample](historyLen)
			r = &nr
			hs.nodes[n.id] = r
		}
		r.add(s)
		sum.CPU += s.CPU
		sum.GPU += s.GPU
		sum.Memory += s.Memory
		sum.Store += s.Store
		sum.Spilled += s.Spilled
		sum.Running += s.Running
		sum.CPUTotal += units(n.total.CPU)
		sum.GPUTotal += units(n.total.GPU)
		sum.MemoryTotal += float32(n.total.Memory)
	}
	hs.cluster.add(sum)
}

func units(v int64) float32 { return float32(v) / scheduler.Unit }

// History returns the kept samples of the cluster and of the given nodes
// (those still alive), oldest first.
func (h *Head) History(nodes []ids.ID) (cluster []ClusterSample, byNode map[ids.ID][]Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	byNode = make(map[ids.ID][]Sample, len(nodes))
	for _, id := range nodes {
		if r := h.history.nodes[id]; r != nil {
			byNode[id] = r.ordered()
		}
	}
	return h.history.cluster.ordered(), byNode
}

// Failure is a task that failed for good (after its retries).
type Failure struct {
	UnixMs   int64
	TaskID   ids.ID
	Function string
	// Kind is the error's kind ("application", "panic", "node_died", ...).
	Kind string
	// Message is the error, a panic's stack included, cut at 16 KiB.
	Message string
	NodeID  []byte
	Job     string // its job's name
	Attempt int32
}

// recordFailure keeps t's failure for the dashboard. Cancellations (a
// stopped job cancels all its tasks) are not failures to look into, and a
// failed dependency's failure is in the list already.
func (h *Head) recordFailure(t *task, info *pb.ErrorInfo) {
	if k := info.Kind; k == pb.ErrorKind_ERROR_KIND_DEPENDENCY || k == pb.ErrorKind_ERROR_KIND_CANCELLED {
		return
	}
	if h.failures.max == 0 {
		h.failures = newRing[Failure](maxFailures)
	}
	msg := info.Message
	if len(msg) > maxFailureBytes {
		msg = msg[:maxFailureBytes] + "… (cut)"
	}
	f := Failure{UnixMs: time.Now().UnixMilli(), TaskID: t.id, Function: t.spec.GetFunction(), Message: msg, NodeID: info.NodeId,
		Kind: strings.ToLower(strings.TrimPrefix(info.Kind.String(), "ERROR_KIND_")), Attempt: t.attempt}
	if f.Function == "" && t.actor != nil {
		f.Function = t.actor.spec.GetClass() + " (actor)"
	}
	if j := t.job; j != nil {
		if j.root != nil {
			j = j.root
		}
		f.Job = j.info.GetName()
	}
	h.failures.add(f)
}

// Failures returns the kept failures, newest first.
func (h *Head) Failures() []Failure {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.failures.ordered()
	slices.Reverse(out)
	return out
}

// JobTasks is a job's unfinished tasks by state.
type JobTasks struct {
	ID      ids.ID
	Name    string
	Drivers int
	Tasks   map[string]int64
}

// maxJobTasks bounds the jobs JobTasks reports.
const maxJobTasks = 1000

// JobTasks returns the unfinished tasks of each live job (a job's derived
// jobs counted in it), jobs with most tasks first.
func (h *Head) JobTasks() []JobTasks {
	h.mu.Lock()
	defer h.mu.Unlock()
	byJob := map[*job]*JobTasks{}
	get := func(j *job) *JobTasks {
		if j.root != nil {
			j = j.root
		}
		jt := byJob[j]
		if jt == nil {
			jt = &JobTasks{ID: j.id, Name: j.info.GetName(), Drivers: j.drivers, Tasks: map[string]int64{}}
			byJob[j] = jt
		}
		return jt
	}
	for _, j := range h.jobs {
		if j.root == nil && !j.ended {
			get(j)
		}
	}
	for j := range h.tally.jobs {
		jt := get(j)
		for state, n := range j.tally.n {
			if n != 0 {
				jt.Tasks[taskStateNames[taskState(state)]] += n
			}
		}
	}
	out := make([]JobTasks, 0, len(byJob))
	for _, jt := range byJob {
		out = append(out, *jt)
	}
	total := func(jt JobTasks) (n int64) {
		for _, v := range jt.Tasks {
			n += v
		}
		return n
	}
	slices.SortFunc(out, func(a, b JobTasks) int {
		return cmp.Or(cmp.Compare(total(b), total(a)), strings.Compare(a.Name, b.Name), slices.Compare(a.ID[:], b.ID[:]))
	})
	if len(out) > maxJobTasks {
		out = out[:maxJobTasks]
	}
	return out
}

// ActorCount counts the actors of a class in a state.
type ActorCount struct {
	Class, State string
	Count        int
}

var actorStateNames = map[actorState]string{actorCreating: "creating", actorAlive: "alive", actorDead: "dead"}

// ActorCounts counts the actors the head knows by class and state.
func (h *Head) ActorCounts() []ActorCount {
	h.mu.Lock()
	counts := map[[2]string]int{}
	for _, a := range h.actors {
		counts[[2]string{a.spec.GetClass(), actorStateNames[a.state]}]++
	}
	h.mu.Unlock()
	out := make([]ActorCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, ActorCount{Class: k[0], State: k[1], Count: n})
	}
	slices.SortFunc(out, func(a, b ActorCount) int {
		return cmp.Or(strings.Compare(a.Class, b.Class), strings.Compare(a.State, b.State))
	})
	return out
}

// ObjectInfo describes one object of the directory.
type ObjectInfo struct {
	ID     ids.ID
	Size   int64
	State  string // pending, ready, failed, evicted
	Inline bool   // its value is kept by the head
	Nodes  [][]byte
	Job    string // its owner's job
	Refs   int32
}

var objectStateNames = map[objectState]string{objectPending: "pending", objectReady: "ready", objectFailed: "failed", objectEvicted: "evicted"}

// LargestObjects returns the n largest objects, largest first.
func (h *Head) LargestObjects(n int) []ObjectInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	top := &objectHeap{}
	for _, o := range h.objects {
		if top.Len() < n {
			heap.Push(top, o)
		} else if n > 0 && o.size > (*top)[0].size {
			(*top)[0] = o
			heap.Fix(top, 0)
		}
	}
	out := make([]ObjectInfo, top.Len())
	for i := len(out) - 1; i >= 0; i-- {
		o := heap.Pop(top).(*object)
		info := ObjectInfo{ID: o.id, Size: o.size, State: objectStateNames[o.state], Inline: o.value != nil, Refs: o.refs}
		for _, l := range o.locs {
			info.Nodes = append(info.Nodes, l.id.Bytes())
		}
		if o.owner != nil && o.owner.job != nil {
			info.Job = o.owner.job.info.GetName()
		}
		out[i] = info
	}
	return out
}

// objectHeap is a min-heap of objects by size.
type objectHeap []*object

func (x objectHeap) Len() int           { return len(x) }
func (x objectHeap) Less(i, j int) bool { return x[i].size < x[j].size }
func (x objectHeap) Swap(i, j int)      { x[i], x[j] = x[j], x[i] }
func (x *objectHeap) Push(v any)        { *x = append(*x, v.(*object)) }
func (x *objectHeap) Pop() any {
	old := *x
	v := old[len(old)-1]
	*x = old[:len(old)-1]
	return v
}

// JobLogTail returns the last n lines a submitted job's driver printed,
// and how many it printed in all.
func (h *Head) JobLogTail(id ids.ID, n int) (lines []string, total int64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	j, err := h.submittedJob(id.Bytes())
	if err != nil {
		return nil, 0, err
	}
	from := max(0, len(j.lines)-n)
	return slices.Clone(j.lines[from:]), j.base + int64(len(j.lines)), nil
}
