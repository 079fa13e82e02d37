package dashboard

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// fakeState is a cluster of any size in memory. Like the head, it
// aggregates its tasks on every call (the cost a page pays).
type fakeState struct {
	mu       sync.Mutex
	nodes    []*pb.NodeStatus
	draining map[string]bool
	tasks    []fakeTask
	spans    []*pb.TimelineSpan
	jobs     []*pb.SubmittedJob
	logs     map[ids.ID][]string
	failures []head.Failure
	queries  []head.Query
	largest  []head.ObjectInfo // (what the head finds with a heap: BenchmarkDashboardReads)
	events   []string
	stopped  []ids.ID
	drained  []ids.ID
	drainErr error
}

type fakeTask struct {
	fn, state string
	job       int
}

// fakeID makes the i-th ID of a kind (as the head's generator would).
func fakeID(kind byte, i int) ids.ID {
	var id ids.ID
	id[0] = kind
	binary.BigEndian.PutUint64(id[8:], uint64(i))
	return id
}

// newFake makes a cluster of nodes nodes, tasks unfinished tasks over 30
// functions and spans runs in the last 5 minutes.
func newFake(nodes, tasks, spans int) *fakeState {
	now := time.Now()
	f := &fakeState{draining: map[string]bool{}, logs: map[ids.ID][]string{}}
	for i := range nodes {
		id := fakeID('n', i)
		n := &pb.NodeStatus{NodeId: id.Bytes(), Hostname: fmt.Sprintf("host-%04d", i), Alive: i%97 != 5, DataAddr: fmt.Sprintf("10.0.%d.%d:7000", i/250, i%250),
			Total:        &pb.Resources{Cpu: 16 * scheduler.Unit, Memory: 64 << 30, Gpu: int64(i%4/3) * scheduler.Unit},
			Available:    &pb.Resources{Cpu: int64(i%17) * scheduler.Unit, Memory: int64(i%64) << 30},
			RunningTasks: int64(16 - i%17), Executors: 2, Leases: int64(i % 3), LastHeartbeatMsAgo: int64(i % 250),
			Store: &pb.StoreUsage{MemoryBytes: int64(i%100) << 26, MemoryLimit: 8 << 30, SpilledBytes: int64(i%7) << 28, SpilledObjects: int64(i % 7), Spills: int64(i % 11)}}
		n.Available.Gpu = n.Total.Gpu
		f.nodes = append(f.nodes, n)
		if i%50 == 7 {
			f.draining[string(n.NodeId)] = true
		}
	}
	states := []string{"waiting_for_args", "waiting_for_resources", "running", "idle"}
	for i := range tasks {
		f.tasks = append(f.tasks, fakeTask{fn: fmt.Sprintf("pkg.function%02d", i*i%30), state: states[i%7%4], job: i % 40})
	}
	for i := range 120 {
		id := fakeID('j', i)
		j := &pb.SubmittedJob{JobId: id.Bytes(), Name: fmt.Sprintf("job-%03d", i), State: pb.JobState(2 + i%4), NodeId: f.nodes[i%nodes].NodeId,
			StartedUnixMs: now.Add(-time.Duration(i) * time.Minute).UnixMilli(), LogLines: 5000}
		if j.State != pb.JobState_JOB_STATE_RUNNING {
			j.EndedUnixMs = now.Add(-time.Duration(i) * 30 * time.Second).UnixMilli()
		}
		f.jobs = append(f.jobs, j)
		for l := range 300 {
			f.logs[id] = append(f.logs[id], fmt.Sprintf("%s line %d: rows=%d", j.Name, l, l*l))
		}
	}
	start := now.Add(-5 * time.Minute).UnixNano()
	for i := range spans {
		node := i % max(1, nodes)
		sp := &pb.TaskSpan{TaskId: fakeID('t', i).Bytes(), Function: fmt.Sprintf("pkg.function%02d", i%30), Kind: pb.RunKind_RUN_KIND_TASK,
			StartUnixNs: start + int64(i)*(5*int64(time.Minute)/int64(max(1, spans))), DurationNs: int64(time.Duration(1+i%50) * time.Millisecond)}
		if i%1000 == 3 {
			sp.Failed, sp.Error = true, "pkg.function: input file missing"
		}
		f.spans = append(f.spans, &pb.TimelineSpan{Span: sp, NodeId: f.nodes[node].NodeId, ExecutorPid: int32(1000 + i%3)})
	}
	for i := range 200 {
		f.failures = append(f.failures, head.Failure{UnixMs: now.Add(-time.Duration(i) * time.Second).UnixMilli(), TaskID: fakeID('t', 1_000_000+i),
			Function: "pkg.flaky", Kind: "panic", Message: fmt.Sprintf("runtime error: index out of range [%d]\n\ngoroutine 7 [running]:\nmain.flaky()\n\t/src/main.go:%d", i, 40+i),
			NodeID: f.nodes[i%nodes].NodeId, Job: "job-001"})
	}
	for i := range tasks {
		f.largest = append(f.largest, head.ObjectInfo{ID: fakeID('o', i), Size: int64(i*7919%100_000) << 10, State: "ready", Nodes: [][]byte{f.nodes[i%nodes].NodeId}, Job: "job-001", Refs: 1})
	}
	slices.SortFunc(f.largest, func(a, b head.ObjectInfo) int { return cmp.Compare(b.Size, a.Size) })
	f.largest = f.largest[:min(1000, len(f.largest))]
	for i := range 100 { // (as many as the head keeps, latest first)
		q := head.Query{ID: fakeID('q', i).Bytes(), Label: fmt.Sprintf("Sort [revenue] ← lineitem-%03d.parquet, orders.parquet", i), Job: "0123456789ab",
			Stages: 10, Started: now.Add(-time.Duration(i) * time.Minute)}
		for st := range 10 {
			done := i > 0 || st < 6
			q.Reported = append(q.Reported, &pb.QueryStage{Stage: int32(st), Inputs: []int32{int32(max(st-1, 0))}, Partitions: 4, Output: []string{"hash", "broadcast", "single"}[st%3],
				Done: done, StartedUnixNs: q.Started.Add(time.Duration(st) * time.Second).UnixNano(), DurationNs: int64(time.Second), Rows: int64(1000 * (st + 1)),
				Bytes: int64(1<<20) * int64(st+1), RowsIn: 5000, LocalBytes: 3 << 20, RemoteBytes: 1 << 20, Split: int32(st % 2), Reruns: int32(st / 9)})
		}
		if i > 0 {
			q.Ended = q.Started.Add(10 * time.Second)
		}
		if i == 1 {
			q.Error = "stage 3 failed 4 times, the most allowed (partition 2 could not read its input each time)"
		}
		f.queries = append(f.queries, q)
	}
	for i := range 200 {
		f.events = append(f.events, fmt.Sprintf("12:00:%02d.000 autoscaler: launching 1 node of type cpu-16 (demand: %d tasks of 1 CPU)", i%60, i))
	}
	return f
}

func (f *fakeState) Metrics() head.Metrics {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := &pb.StatusReply{Nodes: f.nodes, TasksByState: map[string]int64{}, TasksFinished: 123456, TasksFailed: 789, Jobs: 40, Actors: 12,
		Objects: int64(len(f.tasks)), ObjectBytes: int64(len(f.tasks)) << 20, Events: f.events,
		Waiting: []*pb.WaitingDemand{{Resources: &pb.Resources{Gpu: 8 * scheduler.Unit}, Count: 3, Reason: "no node type has 8 GPUs", Infeasible: true, SinceMsAgo: 61_000}},
		Pins:    []*pb.PinStatus{{LeaseId: fakeID('p', 1).Bytes(), Reason: "shuffle 3", Owner: "job-001", NodeIds: [][]byte{f.nodes[0].NodeId}}}}
	perFunc := map[string]map[string]int64{}
	for _, t := range f.tasks {
		st.TasksByState[t.state]++
		if perFunc[t.fn] == nil {
			perFunc[t.fn] = map[string]int64{}
		}
		perFunc[t.fn][t.state]++
	}
	m := head.Metrics{Status: st, Draining: f.draining, ByFunction: map[[2]string]int64{}, Events: map[string]int64{"autoscaler": 150, "pin": 50}}
	for i, fn := range slices.Sorted(maps.Keys(perFunc)) {
		label := fn
		if i >= head.MetricsTopFunctions {
			label = "other"
		}
		for s, n := range perFunc[fn] {
			m.ByFunction[[2]string{label, s}] += n
		}
	}
	return m
}

func (f *fakeState) History(nodes []ids.ID) ([]head.ClusterSample, map[ids.ID][]head.Sample) {
	now := time.Now()
	var cluster []head.ClusterSample
	byNode := map[ids.ID][]head.Sample{}
	for i := range 180 {
		at := now.Add(-time.Duration(180-i) * head.SampleEvery).UnixMilli()
		s := head.Sample{UnixMs: at, CPU: float32(8 + 8*((i/10)%2)), Store: float32(i) * (1 << 24), Running: float32(i % 16)}
		cluster = append(cluster, head.ClusterSample{Sample: s, CPUTotal: 16000, Finished: int64(i * 1000), Waiting: int64(i * 10)})
		for _, id := range nodes {
			byNode[id] = append(byNode[id], s)
		}
	}
	return cluster, byNode
}

func (f *fakeState) Timeline(since time.Duration) *pb.TimelineReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	cutoff := time.Now().Add(-since).UnixNano()
	r := &pb.TimelineReply{Dropped: 42}
	for _, s := range f.spans {
		if s.Span.StartUnixNs+s.Span.DurationNs >= cutoff {
			r.Spans = append(r.Spans, s)
		}
	}
	return r
}

func (f *fakeState) Failures() []head.Failure {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.failures)
}

func (f *fakeState) Queries() []head.Query {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queries)
}

func (f *fakeState) JobTasks() []head.JobTasks {
	f.mu.Lock()
	defer f.mu.Unlock()
	byJob := map[int]map[string]int64{}
	for _, t := range f.tasks {
		if byJob[t.job] == nil {
			byJob[t.job] = map[string]int64{}
		}
		byJob[t.job][t.state]++
	}
	var out []head.JobTasks
	for j, tasks := range byJob {
		name := fmt.Sprintf("job-%03d", j)
		if j < len(f.jobs) {
			name = f.jobs[j].Name
		}
		out = append(out, head.JobTasks{ID: fakeID('j', j), Name: name, Drivers: 1, Tasks: tasks})
	}
	slices.SortFunc(out, func(a, b head.JobTasks) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (f *fakeState) ActorCounts() []head.ActorCount {
	return []head.ActorCount{{Class: "pkg.Counter", State: "alive", Count: 10}, {Class: "pkg.Counter", State: "dead", Count: 2}, {Class: "pkg.Cache", State: "creating", Count: 1}}
}

func (f *fakeState) LargestObjects(n int) []head.ObjectInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.largest[:min(n, len(f.largest))])
}

func (f *fakeState) ListJobs() *pb.ListJobsReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &pb.ListJobsReply{Jobs: slices.Clone(f.jobs)}
}

func (f *fakeState) JobLogTail(id ids.ID, n int) ([]string, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, ok := f.logs[id]
	if !ok {
		return nil, 0, fmt.Errorf("no submitted job %s", id.Short())
	}
	return slices.Clone(lines[max(0, len(lines)-n):]), int64(len(lines)), nil
}

func (f *fakeState) StopJob(req *pb.GetJobRequest) (*pb.SubmittedJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range f.jobs {
		if string(j.JobId) == string(req.JobId) {
			id, _ := ids.FromBytes("job id", j.JobId)
			f.stopped = append(f.stopped, id)
			j.State = pb.JobState_JOB_STATE_STOPPED
			return j, nil
		}
	}
	return nil, fmt.Errorf("no submitted job")
}

func (f *fakeState) Drain(ctx context.Context, id ids.ID, deadline time.Duration) (*pb.DrainReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drainErr != nil {
		return nil, f.drainErr
	}
	f.drained = append(f.drained, id)
	return &pb.DrainReply{Seconds: 0.1}, nil
}
