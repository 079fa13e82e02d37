package head

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// What the dashboard reads: samples every SampleEvery, the failures for
// good with their whole message, tasks by job, the largest objects.
func TestDashboardReads(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(2, scheduler.Resources{})
	d := hs.driver()
	done := hs.submit(d, "f")
	recv(t, n.starts, "executor start")
	ex := hs.executor(n)
	run := recv(t, ex.runs, "f")
	ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Value: append([]byte{2}, make([]byte, 1000)...)}}})
	recv(t, d.objects, "f's result")
	hs.submit(d, "slow")
	recv(t, ex.runs, "slow")
	boom := hs.submit(d, "boom")
	run = recv(t, ex.runs, "boom")
	stack := "boom!\n\ngoroutine 1 [running]:\nmain.boom()\n\t/src/main.go:12"
	ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_PANIC, Message: stack}}}})
	recv(t, d.objects, "boom's failure")

	f := hs.h.Failures()
	if len(f) != 1 || f[0].TaskID != boom || f[0].Function != "boom" || f[0].Kind != "panic" || f[0].Message != stack || f[0].Job != "test" {
		t.Errorf("failures: %+v", f)
	}
	jobs := hs.h.JobTasks()
	if len(jobs) != 1 || jobs[0].Name != "test" || jobs[0].Tasks["running"] != 1 || jobs[0].Drivers != 1 {
		t.Errorf("tasks by job: %+v", jobs)
	}
	largest := hs.h.LargestObjects(1)
	if len(largest) != 1 || largest[0].ID != done || largest[0].Size != 1001 || largest[0].State != "ready" || !largest[0].Inline {
		t.Errorf("largest objects: %+v", largest)
	}

	now := time.Now()
	for _, at := range []time.Duration{0, time.Second, SampleEvery + time.Second} {
		hs.h.mu.Lock()
		hs.h.sampleLocked(now.Add(at))
		hs.h.mu.Unlock()
	}
	cluster, byNode := hs.h.History([]ids.ID{n.id, ids.Random()})
	if len(cluster) != 2 || len(byNode) != 1 || len(byNode[n.id]) != 2 {
		t.Fatalf("history: %d cluster samples, %d nodes (%v)", len(cluster), len(byNode), byNode)
	}
	if s := byNode[n.id][1]; s.CPU != 1 || s.Running != 1 {
		t.Errorf("node sample: %+v (slow runs on 1 CPU)", s)
	}
	if c := cluster[1]; c.CPUTotal != 2 || c.Finished != 1 || c.Failed != 1 {
		t.Errorf("cluster sample: %+v", c)
	}
	for range historyLen {
		now = now.Add(SampleEvery)
		hs.h.mu.Lock()
		hs.h.sampleLocked(now.Add(time.Minute))
		hs.h.mu.Unlock()
	}
	if cluster, byNode := hs.h.History([]ids.ID{n.id}); len(cluster) != historyLen || len(byNode[n.id]) != historyLen {
		t.Errorf("history kept %d and %d samples, want %d", len(cluster), len(byNode[n.id]), historyLen)
	}
}

// BenchmarkDashboardReads is how long each read of the dashboard holds
// the head's lock with 1,000 nodes and 100,000 unfinished tasks (plus
// the 5-second sample, taken under the lock of the heartbeat loop).
func BenchmarkDashboardReads(b *testing.B) {
	h := New(Config{HeartbeatTimeout: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	defer h.Close()
	h.mu.Lock()
	j := &job{id: ids.Random(), info: &pb.JobInfo{Name: "bench"}, drivers: 1}
	h.jobs[j.id] = j
	for i := range 1000 {
		n := &nodeState{id: ids.Random(), alive: true, total: scheduler.Resources{CPU: 16 * scheduler.Unit}, objects: map[ids.ID]*object{},
			heartbeat: &pb.Heartbeat{Store: &pb.StoreUsage{MemoryBytes: int64(i) << 20}}, idx: i, lastSeen: time.Now()}
		h.nodes[n.id] = n
		h.alive = append(h.alive, n)
	}
	states := []taskState{taskWaitingArgs, taskReady, taskAssigned}
	for i := range 100_000 {
		t := &task{id: h.gen.Next(), spec: &pb.TaskSpec{Function: fmt.Sprintf("f%02d", i%30)}, job: j}
		h.setTaskState(t, states[i%3])
		h.objects[t.id] = &object{id: t.id, producer: t, size: int64(i), locs: []*nodeState{h.alive[i%1000]}}
		h.objectBytes += int64(i)
	}
	h.mu.Unlock()
	nodes := make([]ids.ID, 50)
	for i := range nodes {
		nodes[i] = h.alive[i].id
	}
	for _, r := range []struct {
		name string
		read func()
	}{
		{"Metrics", func() { h.Metrics() }},
		{"JobTasks", func() { h.JobTasks() }},
		{"LargestObjects", func() { h.LargestObjects(50) }},
		{"History", func() { h.History(nodes) }},
		{"sample", func() {
			h.mu.Lock()
			h.history.last = time.Time{}
			h.sampleLocked(time.Now())
			h.mu.Unlock()
		}},
	} {
		b.Run(r.name, func(b *testing.B) {
			for b.Loop() {
				r.read()
			}
		})
	}
}
