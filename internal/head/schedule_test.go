package head

import (
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
	"github.com/shoal-dev/shoal/internal/testwait"
)

// send submits a task of fn asking for cpus CPUs under strategy and
// returns its ID.
func (hs *harness) send(d *fakeSession, fn string, cpus int64, strategy pb.Strategy) ids.ID {
	id := hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: id.Bytes(), Function: fn, MaxRetries: 3, Strategy: strategy,
		Resources: &pb.Resources{Cpu: cpus * scheduler.Unit}}}})
	return id
}

// oneNode starts a head with one node of cpus CPUs and a driver, sends
// the driver's first task (of fn, 1 CPU) and returns the node's executor
// and that task's run.
func oneNode(t *testing.T, cpus float64, fn string) (*harness, *fakeSession, *fakeSession, *pb.RunTask) {
	hs := newHarness(t, Config{})
	n := hs.addNode(cpus, scheduler.Resources{})
	d := hs.driver()
	first := hs.send(d, fn, 1, pb.Strategy_STRATEGY_DEFAULT)
	recv(t, n.starts, "executor start")
	ex := hs.executor(n)
	return hs, d, ex, nextRun(t, ex, first, "the first task")
}

// finish reports run done after took.
func finish(ex *fakeSession, run *pb.RunTask, took time.Duration) {
	ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Value: []byte{2, 'v'}, DurationNs: int64(took)}}})
}

// nextRun is the next task ex is sent, which must be want.
func nextRun(t *testing.T, ex *fakeSession, want ids.ID, what string) *pb.RunTask {
	t.Helper()
	run := recv(t, ex.runs, what)
	if got, _ := ids.FromBytes("task id", run.TaskId); got != want {
		t.Fatalf("%s: dispatched %s (%s), want %s", what, run.Function, got, want)
	}
	return run
}

// noRun checks that ex is sent nothing for a while.
func noRun(t *testing.T, ex *fakeSession, why string) {
	t.Helper()
	select {
	case r := <-ex.runs:
		t.Fatalf("%s dispatched while %s", r.Function, why)
	case <-time.After(100 * time.Millisecond):
	}
}

// Tasks of different classes (here: the default placement and spread)
// are served oldest first: a class that always has a task waiting does
// not take every slot that frees from a class that came after it (a
// dataframe stage, spread, waited for minutes behind two jobs' stream of
// tasks in the dashboard's browser test).
func TestClassesAreServedOldestFirst(t *testing.T) {
	hs, d, ex, run := oneNode(t, 1, "a")
	a2 := hs.send(d, "a", 1, pb.Strategy_STRATEGY_DEFAULT)
	s := hs.send(d, "s", 1, pb.Strategy_STRATEGY_SPREAD)
	a3 := hs.send(d, "a", 1, pb.Strategy_STRATEGY_DEFAULT)
	noRun(t, ex, "the only CPU is busy")
	for _, next := range []ids.ID{a2, s, a3} {
		finish(ex, run, time.Second)
		run = nextRun(t, ex, next, "the next task in submission order")
	}
	finish(ex, run, time.Second)
}

// An older task that needs more than frees (2 CPUs of 2, one busy) does
// not hold back a younger one that fits what freed, as in Ray: the node
// would idle for as long as its other task runs.
func TestYoungerSmallerTaskUsesWhatFrees(t *testing.T) {
	hs, d, ex, run1 := oneNode(t, 2, "a")
	run2 := nextRun(t, ex, hs.send(d, "a", 1, pb.Strategy_STRATEGY_DEFAULT), "the second task")
	big := hs.send(d, "big", 2, pb.Strategy_STRATEGY_DEFAULT)
	a3 := hs.send(d, "a", 1, pb.Strategy_STRATEGY_DEFAULT)
	finish(ex, run1, time.Second)
	run3 := nextRun(t, ex, a3, "the younger 1-CPU task on the CPU that freed")
	finish(ex, run2, time.Second)
	finish(ex, run3, time.Second)
	finish(ex, nextRun(t, ex, big, "the 2-CPU task once both CPUs are free"), time.Second)
}

// Short tasks, which may queue on a busy node's executor (backlog), do not
// queue on the node an older task waits for: each would start there as a
// slot freed, before the head could give the slot to the older task.
func TestShortTasksDoNotQueueAheadOfAnOlderTask(t *testing.T) {
	hs, d, ex, first := oneNode(t, 1, "short")
	finish(ex, first, 100*time.Microsecond) // (its function is now known to be short)
	hold := hs.send(d, "short", 1, pb.Strategy_STRATEGY_DEFAULT)
	run := nextRun(t, ex, hold, "a short task holding the CPU")
	spread := hs.send(d, "s", 1, pb.Strategy_STRATEGY_SPREAD)
	younger := []ids.ID{hs.send(d, "short", 1, pb.Strategy_STRATEGY_DEFAULT), hs.send(d, "short", 1, pb.Strategy_STRATEGY_DEFAULT)}
	noRun(t, ex, "an older task waits for the node's only CPU")
	finish(ex, run, 100*time.Microsecond)
	finish(ex, nextRun(t, ex, spread, "the older task once the CPU freed"), time.Second)
	for _, id := range younger {
		finish(ex, nextRun(t, ex, id, "the younger short tasks after it"), 100*time.Microsecond)
	}
}

// A lease takes free CPUs no waiting task could use now (a task waiting
// for the busy GPU), and not those one could: leases go back within 500 ms
// (internal/client), so refusing every lease while any task waits sent
// every CPU task through the head for as long as a GPU stayed busy.
func TestLeasesLeaveWhatWaitingTasksNeed(t *testing.T) {
	hs, d, ex, _, _ := twoGPUTasks(t)
	noRun(t, ex, "the GPU is busy")
	g := hs.askLease(d, false)
	if !g.Granted {
		t.Fatalf("a lease of the CPU no waiting task can use was refused: %v", g)
	}
	// The CPUs are all taken now; a CPU task waits, and when the lease goes
	// back, a new lease does not take the CPU from it.
	cpu := hs.send(d, "cpu", 1, pb.Strategy_STRATEGY_SPREAD)
	noRun(t, ex, "no CPU is free")
	// (The return and the request in one message: the head frees the CPU
	// and answers the request before its next scheduling pass.)
	id := hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{LeaseReturns: [][]byte{g.Id},
		LeaseRequests: []*pb.LeaseRequest{{Id: id.Bytes(), Resources: &pb.Resources{Cpu: scheduler.Unit}}}})
	if g := recv(t, d.leases, "the lease answer"); string(g.Id) != string(id[:]) || g.Granted {
		t.Fatalf("a lease took the CPU a waiting task could run on: %v", g)
	}
	nextRun(t, ex, cpu, "the waiting CPU task on the CPU the lease gave back")
}

// A task needing more CPU than one lease holds (2 CPUs, behind a stream's
// two 1-CPU leases) is not kept waiting by leases given back one at a time
// and asked for again at once: what a node's leases hold counts as coming
// back to it.
func TestLeasesGivenBackOneAtATimeDoNotStarveALargerTask(t *testing.T) {
	hs, d, ex, first := oneNode(t, 2, "warm")
	finish(ex, first, time.Millisecond)
	testwait.For(t, "the first task's CPU back", func() bool { return hs.h.Status().Nodes[0].Available.Cpu == 2*scheduler.Unit })
	leases := [2]*pb.LeaseGrant{hs.askLease(d, false), hs.askLease(d, false)}
	for _, g := range leases {
		if !g.Granted {
			t.Fatalf("lease refused with CPUs free: %v", g)
		}
	}
	big := hs.send(d, "big", 2, pb.Strategy_STRATEGY_DEFAULT)
	noRun(t, ex, "leases hold both CPUs")
	// Each lease in turn goes back, asked for again in the same message
	// (as a client whose lease timed out with tasks still waiting).
	id := hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{LeaseReturns: [][]byte{leases[0].Id},
		LeaseRequests: []*pb.LeaseRequest{{Id: id.Bytes(), Resources: &pb.Resources{Cpu: scheduler.Unit}}}})
	if g := recv(t, d.leases, "the lease answer"); g.Granted {
		t.Fatalf("a lease took the CPU a 2-CPU task waits for while the other lease holds its second: %v", g)
	}
	d.stream.Send(&pb.ClientMessage{LeaseReturns: [][]byte{leases[1].Id}})
	finish(ex, nextRun(t, ex, big, "the 2-CPU task once both leases went back"), time.Second)
}
