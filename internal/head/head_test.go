package head

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/shoal-dev/shoal/autoscaler"
	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
	"github.com/shoal-dev/shoal/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness drives a head in process: fake nodes, executors and drivers
// speak the real protocol over in-process streams.
type harness struct {
	t    *testing.T
	h    *Head
	ctx  context.Context
	job  *pb.JobInfo
	gen  *ids.Generator
	stop context.CancelFunc

	tallyMu  sync.Mutex
	tallyErr error // the first mismatch of the head's task counts
}

// checkTally records the first moment the head's incremental task counts
// differ from a walk of its objects (checked as each message arrives).
func (hs *harness) checkTally() {
	err := hs.h.checkTally()
	hs.tallyMu.Lock()
	defer hs.tallyMu.Unlock()
	if err != nil && hs.tallyErr == nil {
		hs.tallyErr = err
	}
}

func newHarness(t *testing.T, cfg Config) *harness {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := New(cfg)
	hs := &harness{t: t, h: h, ctx: ctx, stop: cancel, gen: ids.NewGenerator(),
		job: &pb.JobInfo{JobId: ids.Random().Bytes(), Name: "test", Registry: []byte("reg")}}
	t.Cleanup(func() { cancel(); h.Close() })
	// (Runs first: the counts the head keeps as tasks change state must
	// match a walk of its objects at the end of every test.)
	t.Cleanup(func() {
		hs.checkTally()
		hs.tallyMu.Lock()
		defer hs.tallyMu.Unlock()
		if hs.tallyErr != nil {
			t.Error(hs.tallyErr)
		}
	})
	return hs
}

type fakeNode struct {
	id          ids.ID
	stream      rpc.ClientStream[pb.NodeMessage, pb.HeadToNode]
	starts      chan *pb.JobInfo
	stops       chan []byte
	stopDrivers chan []byte
	frees       chan []byte
	done        chan error
	mu          sync.Mutex
}

func (hs *harness) addNode(cpus float64, extra scheduler.Resources) *fakeNode {
	n := &fakeNode{id: ids.Random(), stream: hs.h.ConnectNode(hs.ctx), starts: make(chan *pb.JobInfo, 16), stops: make(chan []byte, 16), stopDrivers: make(chan []byte, 16), frees: make(chan []byte, 1024), done: make(chan error, 1)}
	res := &pb.Resources{Cpu: int64(cpus * scheduler.Unit), Gpu: extra.GPU}
	n.stream.Send(&pb.NodeMessage{Hello: &pb.NodeHello{NodeId: n.id.Bytes(), Resources: res, DataAddr: "127.0.0.1:1"}})
	m, err := n.stream.Recv()
	if err != nil || m.Welcome == nil {
		hs.t.Fatalf("node registration: %v %v", m, err)
	}
	go func() {
		for {
			for _, j := range m.StartExecutors {
				n.starts <- j
			}
			for _, f := range m.FreeObjects {
				n.frees <- f
			}
			for _, j := range m.StopJobs {
				n.stops <- j
			}
			for _, j := range m.StopDrivers {
				n.stopDrivers <- j
			}
			if m, err = n.stream.Recv(); err != nil {
				n.done <- err
				return
			}
		}
	}()
	return n
}

func (n *fakeNode) heartbeat() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stream.Send(&pb.NodeMessage{Heartbeat: &pb.Heartbeat{Seq: 1}})
}

// heartbeatUntil heartbeats every 20ms until stop is closed.
func (n *fakeNode) heartbeatUntil(stop <-chan struct{}) {
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n.heartbeat()
			}
		}
	}()
}

type fakeSession struct {
	stream       rpc.ClientStream[pb.ClientMessage, pb.HeadMessage]
	welcome      *pb.Welcome
	runs         chan *pb.RunTask
	objects      chan *pb.ObjectStatus
	leases       chan *pb.LeaseGrant
	releasedDone chan []byte
	done         chan error
}

func (hs *harness) session(hello *pb.Hello) (*fakeSession, error) {
	s := &fakeSession{stream: hs.h.ConnectSession(hs.ctx), runs: make(chan *pb.RunTask, 1024), objects: make(chan *pb.ObjectStatus, 1024),
		leases: make(chan *pb.LeaseGrant, 64), releasedDone: make(chan []byte, 64), done: make(chan error, 1)}
	s.stream.Send(&pb.ClientMessage{Hello: hello})
	m, err := s.stream.Recv()
	if err != nil {
		return nil, errs.FromStatus(err)
	}
	if m.Welcome == nil {
		hs.t.Fatal("no welcome")
	}
	s.welcome = m.Welcome
	s.dispatch(m)
	go func() {
		for {
			m, err := s.stream.Recv()
			if err != nil {
				s.done <- err
				return
			}
			hs.checkTally()
			s.dispatch(m)
		}
	}()
	return s, nil
}

func (s *fakeSession) dispatch(m *pb.HeadMessage) {
	for _, r := range m.Run {
		s.runs <- r
	}
	for _, o := range m.Objects {
		s.objects <- o
	}
	for _, g := range m.Leases {
		s.leases <- g
	}
	for _, b := range m.ReleasedDone {
		s.releasedDone <- b
	}
}

func (hs *harness) driver() *fakeSession {
	s, err := hs.session(&pb.Hello{Role: pb.Role_ROLE_DRIVER, JobId: hs.job.JobId, Job: hs.job})
	if err != nil {
		hs.t.Fatal(err)
	}
	return s
}

func (hs *harness) executor(n *fakeNode) *fakeSession {
	s, err := hs.session(&pb.Hello{Role: pb.Role_ROLE_EXECUTOR, JobId: hs.job.JobId, NodeId: n.id.Bytes(), Registry: hs.job.Registry, DirectAddr: "127.0.0.1:2"})
	if err != nil {
		hs.t.Fatal(err)
	}
	return s
}

func (hs *harness) submit(d *fakeSession, fn string, args ...*pb.Arg) ids.ID {
	id := hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: id.Bytes(), Function: fn, Args: args, MaxRetries: 3, Resources: &pb.Resources{Cpu: scheduler.Unit}}}})
	return id
}

// askLease asks for a lease of 1 CPU for s and returns the head's answer.
func (hs *harness) askLease(s *fakeSession, short bool) *pb.LeaseGrant {
	hs.t.Helper()
	id := hs.gen.Next()
	s.stream.Send(&pb.ClientMessage{LeaseRequests: []*pb.LeaseRequest{{Id: id.Bytes(), Resources: &pb.Resources{Cpu: scheduler.Unit}, Short: short}}})
	g := recv(hs.t, s.leases, "a lease answer")
	if string(g.Id) != string(id[:]) {
		hs.t.Fatalf("answer for lease %x, asked %x", g.Id, id[:])
	}
	return g
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestTaskLifecycleAndReferenceCounting(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(2, scheduler.Resources{})
	d := hs.driver()
	a := hs.submit(d, "f")
	recv(t, n.starts, "executor start")
	ex := hs.executor(n)
	run := recv(t, ex.runs, "first task")
	// b depends on a: it is dispatched with a's value inline.
	b := hs.submit(d, "g", &pb.Arg{Object: a.Bytes()})
	ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Value: []byte{2, 'v'}}}})
	st := recv(t, d.objects, "a ready")
	if st.State != pb.ObjectState_OBJECT_STATE_READY || string(st.Value) != "\x02v" || string(st.Id) != string(a[:]) {
		t.Fatalf("status of a: %v", st)
	}
	run2 := recv(t, ex.runs, "second task")
	if string(run2.TaskId) != string(b[:]) || string(run2.Args[0].Value) != "\x02v" {
		t.Fatalf("second task %v", run2)
	}
	// Releasing a while b runs keeps a alive for b; it goes when b ends.
	d.stream.Send(&pb.ClientMessage{Release: [][]byte{a.Bytes()}})
	ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run2.TaskId, Value: []byte{2, 'w'}}}})
	recv(t, d.objects, "b ready")
	d.stream.Send(&pb.ClientMessage{Release: [][]byte{b.Bytes()}})
	testwait.For(t, "objects freed", func() bool { return hs.h.Status().Objects == 0 })
	if st := hs.h.Status(); st.TasksFinished != 2 || st.Nodes[0].Available.Cpu != 2*scheduler.Unit {
		t.Fatalf("status %v", st)
	}
}

func TestDeadNodeTasksRunElsewhereAndLateResultsAreIgnored(t *testing.T) {
	hs := newHarness(t, Config{HeartbeatInterval: 20 * time.Millisecond, HeartbeatTimeout: 200 * time.Millisecond})
	stopA, stopB := make(chan struct{}), make(chan struct{})
	defer close(stopB)
	a := hs.addNode(1, scheduler.Resources{})
	a.heartbeatUntil(stopA)
	d := hs.driver()
	id := hs.submit(d, "f")
	recv(t, a.starts, "executor start on A")
	exA := hs.executor(a)
	runA := recv(t, exA.runs, "task on A")
	b := hs.addNode(1, scheduler.Resources{})
	b.heartbeatUntil(stopB)
	close(stopA) // A falls silent
	recv(t, a.done, "A's stream closed by the head")
	recv(t, b.starts, "executor start on B")
	exB := hs.executor(b)
	runB := recv(t, exB.runs, "retried task on B")
	if runB.Attempt != runA.Attempt+1 {
		t.Fatalf("attempt %d after %d", runB.Attempt, runA.Attempt)
	}
	// A's executor answers late; its result must not be applied.
	exA.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: runA.TaskId, Attempt: runA.Attempt, Value: []byte{2, 'A'}}}})
	exB.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: runB.TaskId, Attempt: runB.Attempt, Value: []byte{2, 'B'}}}})
	st := recv(t, d.objects, "result")
	if string(st.Id) != string(id[:]) || string(st.Value) != "\x02B" {
		t.Fatalf("got %q from %v", st.Value, st)
	}
	// A dead node may not come back under its old identity.
	again := hs.h.ConnectNode(hs.ctx)
	again.Send(&pb.NodeMessage{Hello: &pb.NodeHello{NodeId: a.id.Bytes(), Resources: &pb.Resources{Cpu: scheduler.Unit}}})
	if _, err := again.Recv(); !errors.Is(errs.FromStatus(err), errs.ErrDeclaredDead) {
		t.Fatalf("re-registration of a dead node: %v", err)
	}
	select {
	case st := <-d.objects:
		t.Fatalf("a second status for one task: %v", st)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRetriesAreBounded(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(1, scheduler.Resources{})
	d := hs.driver()
	id := hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: id.Bytes(), Function: "flaky", MaxRetries: 2, RetryAppErrors: true, Resources: &pb.Resources{Cpu: scheduler.Unit}}}})
	recv(t, n.starts, "executor start")
	ex := hs.executor(n)
	for attempt := int32(0); attempt <= 2; attempt++ {
		run := recv(t, ex.runs, "attempt")
		if run.Attempt != attempt {
			t.Fatalf("attempt %d, want %d", run.Attempt, attempt)
		}
		ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Attempt: run.Attempt,
			Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_APPLICATION, Message: "flaked"}}}})
	}
	st := recv(t, d.objects, "failure")
	if st.State != pb.ObjectState_OBJECT_STATE_FAILED || !strings.Contains(st.Error.Message, "after 3 attempts") {
		t.Fatalf("status %v", st)
	}
}

// A task whose executor could not store its result because the node's
// store went away (NODE_DIED) runs again, without RetryAppErrors; an
// executor's own failure (EXECUTOR) does not.
func TestResultLostWithItsNodeIsRetried(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(1, scheduler.Resources{})
	d := hs.driver()
	id := hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: id.Bytes(), Function: "big", MaxRetries: 3, Resources: &pb.Resources{Cpu: scheduler.Unit}}}})
	recv(t, n.starts, "executor start")
	ex := hs.executor(n)
	run := recv(t, ex.runs, "first attempt")
	ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Attempt: run.Attempt,
		Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_NODE_DIED, Message: "storing the 6400626-byte result on the node: EOF"}}}})
	run = recv(t, ex.runs, "second attempt")
	if run.Attempt != 1 {
		t.Fatalf("attempt %d, want 1", run.Attempt)
	}
	ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Attempt: run.Attempt,
		Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_EXECUTOR, Message: "store full"}}}})
	st := recv(t, d.objects, "failure")
	if st.State != pb.ObjectState_OBJECT_STATE_FAILED || st.Error.Kind != pb.ErrorKind_ERROR_KIND_EXECUTOR {
		t.Fatalf("status %v", st)
	}
}

func TestExecutorWithOtherCodeIsRefused(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(1, scheduler.Resources{})
	d := hs.driver()
	hs.submit(d, "f")
	recv(t, n.starts, "executor start")
	_, err := hs.session(&pb.Hello{Role: pb.Role_ROLE_EXECUTOR, JobId: hs.job.JobId, NodeId: n.id.Bytes(), Registry: []byte("other")})
	if err == nil || !strings.Contains(err.Error(), "registry") {
		t.Fatalf("executor with another registry: %v", err)
	}
	st := recv(t, d.objects, "task failure")
	if st.State != pb.ObjectState_OBJECT_STATE_FAILED || st.Error.Kind != pb.ErrorKind_ERROR_KIND_EXECUTOR || !strings.Contains(st.Error.Message, "differs from the driver's") {
		t.Fatalf("status %v", st)
	}
}

func TestInfeasibleTaskWaitsForANode(t *testing.T) {
	hs := newHarness(t, Config{})
	hs.addNode(2, scheduler.Resources{})
	d := hs.driver()
	id := hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: id.Bytes(), Function: "gpu", Resources: &pb.Resources{Cpu: scheduler.Unit, Gpu: scheduler.Unit}}}})
	testwait.For(t, "the task to be queued", func() bool { return hs.h.Status().TasksByState["waiting_for_resources"] == 1 })
	g := hs.addNode(1, scheduler.Resources{GPU: scheduler.Unit})
	job := recv(t, g.starts, "executor start on the GPU node")
	if string(job.JobId) != string(hs.job.JobId) {
		t.Fatal("wrong job")
	}
}

func TestBlockedTaskGivesItsCPUBack(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(1, scheduler.Resources{})
	d := hs.driver()
	hs.submit(d, "parent")
	recv(t, n.starts, "executor start")
	ex := hs.executor(n)
	parent := recv(t, ex.runs, "parent")
	child := hs.submit(d, "child")
	select {
	case r := <-ex.runs:
		t.Fatalf("child dispatched while the only CPU is busy: %v", r)
	case <-time.After(50 * time.Millisecond):
	}
	ex.stream.Send(&pb.ClientMessage{Blocks: []*pb.TaskBlock{{TaskId: parent.TaskId, Blocked: true}}})
	run := recv(t, ex.runs, "child after the parent blocked")
	if string(run.TaskId) != string(child[:]) {
		t.Fatal("wrong task")
	}
}

// FuzzClientMessage feeds arbitrary bytes, decoded as a client message,
// to a driver session: the head must never panic.
func FuzzClientMessage(f *testing.F) {
	id := ids.NewGenerator().Next()
	seeds := []*pb.ClientMessage{
		{Submit: []*pb.TaskSpec{{Id: id.Bytes(), Function: "f", Args: []*pb.Arg{{Object: id.Bytes()}, {Value: []byte{1}}}}}},
		{Put: []*pb.PutObject{{Id: id.Bytes(), Value: []byte("v")}, {Id: id.Bytes(), NodeId: id.Bytes()}}},
		{Release: [][]byte{id.Bytes()}, Cancel: [][]byte{id.Bytes()}},
		{Results: []*pb.TaskResult{{TaskId: id.Bytes(), Stored: true}}, Blocks: []*pb.TaskBlock{{TaskId: id.Bytes(), Blocked: true}}},
		{Submit: []*pb.TaskSpec{{Id: id.Bytes(), Function: "g", Resources: &pb.Resources{Cpu: -1, Custom: map[string]int64{"x": 5}}, AffinityNode: []byte{1}}}},
	}
	for _, s := range seeds {
		b, _ := proto.Marshal(s)
		f.Add(b)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m pb.ClientMessage
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		h := New(Config{Logger: logger})
		defer h.Close()
		s := &session{out: h.newOutbox(), running: map[ids.ID]*task{}, kill: func() {}}
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, err := h.openSession(s, &pb.Hello{Role: pb.Role_ROLE_DRIVER, JobId: ids.Random().Bytes(), Job: &pb.JobInfo{}}, credential.Cluster); err != nil {
			t.Fatal(err)
		}
		h.handleClient(s, &m)
		h.handleClient(s, &m) // replays are idempotent
		h.closeSession(s, "fuzz")
	})
}

// TestEnvOverridesRunInDerivedJobs: a task that sets environment variables
// runs in an executor of a job derived from its driver's (same code, merged
// environment), one per distinct environment, ended with the driver's job.
func TestEnvOverridesRunInDerivedJobs(t *testing.T) {
	hs := newHarness(t, Config{})
	hs.job.Env = []string{"A=1", "B=2"}
	n := hs.addNode(4, scheduler.Resources{})
	d := hs.driver()
	submit := func(env ...string) {
		d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: hs.gen.Next().Bytes(), Function: "f", MaxRetries: 3, Resources: &pb.Resources{Cpu: scheduler.Unit}, Env: env}}})
	}
	submit("B=3", "C=4")
	derived := recv(t, n.starts, "an executor start for the derived job")
	if string(derived.JobId) == string(hs.job.JobId) || !slices.Equal(derived.Env, []string{"A=1", "B=3", "C=4"}) || string(derived.Registry) != string(hs.job.Registry) {
		t.Fatalf("derived job: id %x (root %x), env %q, registry %q", derived.JobId, hs.job.JobId, derived.Env, derived.Registry)
	}
	submit("C=4", "B=3") // the same environment: the same job, no new start
	submit("A=1")        // nothing changes: the driver's own job
	root := recv(t, n.starts, "an executor start for the driver's job")
	if string(root.JobId) != string(hs.job.JobId) {
		t.Fatalf("a task whose variables change nothing started job %x, want the driver's %x", root.JobId, hs.job.JobId)
	}
	select {
	case j := <-n.starts:
		t.Fatalf("an extra executor start for job %x (env %q)", j.JobId, j.Env)
	case <-time.After(100 * time.Millisecond):
	}
	// A malformed variable ends the session with an error that says so.
	bad := hs.driver()
	bad.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: hs.gen.Next().Bytes(), Function: "f", Resources: &pb.Resources{Cpu: scheduler.Unit}, Env: []string{"=x"}}}})
	if err := recv(t, bad.done, "the session with a malformed variable to end"); err == nil || !strings.Contains(err.Error(), "environment variable") {
		t.Fatalf("malformed variable: %v", err)
	}
	// The driver leaves: both jobs' executors are stopped.
	d.stream.CloseSend()
	stopped := map[string]bool{}
	for range 2 {
		stopped[string(recv(t, n.stops, "jobs to stop"))] = true
	}
	if !stopped[string(hs.job.JobId)] || !stopped[string(derived.JobId)] {
		t.Fatalf("stopped jobs %v; want the driver's %x and the derived %x", stopped, hs.job.JobId, derived.JobId)
	}
}

// TestShortTaskLeasesShareASlot: with no CPU free, a lease request for short
// tasks shares another caller's lease (its slot), which holds the CPU until
// its owner and every sharer gave their leases back; a request not known to
// be short is refused, and a caller never shares its own lease.
func TestShortTaskLeasesShareASlot(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(1, scheduler.Resources{})
	owner, other := hs.driver(), hs.driver()
	hs.submit(owner, "warm")
	recv(t, n.starts, "executor start")
	ex := hs.executor(n)
	warm := recv(t, ex.runs, "warm")
	ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: warm.TaskId, Value: []byte{0}}}})
	committed := func() int64 {
		hs.h.mu.Lock()
		defer hs.h.mu.Unlock()
		return hs.h.nodes[n.id].committed.CPU
	}
	testwait.For(t, "the warm-up task's CPU back", func() bool { return committed() == 0 })
	ask := hs.askLease
	slot := ask(owner, false)
	if !slot.Granted || len(slot.Slot) != 0 || committed() != scheduler.Unit {
		t.Fatalf("first lease: %v, %d committed", slot, committed())
	}
	if g := ask(other, false); g.Granted {
		t.Fatalf("a lease for tasks not known short was granted with no CPU free: %v", g)
	}
	if g := ask(owner, true); g.Granted {
		t.Fatalf("a caller shared its own lease: %v", g)
	}
	shared := ask(other, true)
	if !shared.Granted || string(shared.Slot) != string(slot.Id) || committed() != scheduler.Unit {
		t.Fatalf("short-task lease: %v (slot %x), %d committed", shared, slot.Id, committed())
	}
	if g := ask(other, true); g.Granted {
		t.Fatalf("a caller shared the same slot twice: %v", g)
	}
	if st := hs.h.Status(); len(st.Nodes) != 1 || st.Nodes[0].Leases != 1 || st.Nodes[0].SharedLeases != 1 {
		t.Fatalf("status: %v, want 1 lease and 1 shared", st.Nodes)
	}
	// The owner gives its lease back: the sharer still runs on the CPU.
	owner.stream.Send(&pb.ClientMessage{LeaseReturns: [][]byte{slot.Id}})
	hs.submit(owner, "sync") // ordered after the return on the owner's stream
	select {
	case r := <-ex.runs:
		t.Fatalf("a task ran on the CPU a shared slot holds: %v", r)
	case <-time.After(50 * time.Millisecond):
	}
	if committed() != scheduler.Unit {
		t.Fatalf("%d committed while the slot is shared", committed())
	}
	other.stream.Send(&pb.ClientMessage{LeaseReturns: [][]byte{shared.Id}})
	recv(t, ex.runs, "the waiting task once the last holder of the slot gave it back")
}

// twoGPUTasks starts a head with a node of 2 CPUs and 1 GPU and a driver
// that submits two tasks of 1 CPU and 1 GPU: it returns the node's
// executor, the first task's run and the second's ID (it waits).
func twoGPUTasks(t *testing.T) (hs *harness, d, ex *fakeSession, run *pb.RunTask, second ids.ID) {
	hs = newHarness(t, Config{})
	n := hs.addNode(2, scheduler.Resources{GPU: scheduler.Unit})
	d = hs.driver()
	gpu := &pb.Resources{Cpu: scheduler.Unit, Gpu: scheduler.Unit}
	first := hs.gen.Next()
	second = hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{
		{Id: first.Bytes(), Function: "gpu", Resources: gpu}, {Id: second.Bytes(), Function: "gpu", Resources: gpu}}})
	recv(t, n.starts, "executor start")
	ex = hs.executor(n)
	return hs, d, ex, recv(t, ex.runs, "first GPU task"), second
}

// A task blocked in Get gives back its CPUs only: a second GPU task waits
// while a CPU task runs.
func TestBlockedTaskKeepsItsGPU(t *testing.T) {
	hs, d, ex, run, second := twoGPUTasks(t)
	ex.stream.Send(&pb.ClientMessage{Blocks: []*pb.TaskBlock{{TaskId: run.TaskId, Blocked: true}}})
	cpu := hs.submit(d, "cpu")
	if r := recv(t, ex.runs, "CPU task after the GPU task blocked"); string(r.TaskId) != string(cpu[:]) {
		t.Fatalf("dispatched %x, want the CPU task (the GPU is held)", r.TaskId)
	}
	ex.stream.Send(&pb.ClientMessage{Blocks: []*pb.TaskBlock{{TaskId: run.TaskId, Blocked: false}},
		Results: []*pb.TaskResult{{TaskId: run.TaskId, Value: []byte{2, 'v'}}}})
	if r := recv(t, ex.runs, "second GPU task once the first ended"); string(r.TaskId) != string(second[:]) {
		t.Fatalf("dispatched %x, want the second GPU task", r.TaskId)
	}
}

// An executor whose connection closed by itself fails its work with its
// node's account of the exit, whichever comes first; without one, after
// exitReportWait.
func TestExecutorExitNamesTheCause(t *testing.T) {
	for _, order := range []string{"report after close", "report before close", "no report"} {
		t.Run(order, func(t *testing.T) {
			hs := newHarness(t, Config{HeartbeatTimeout: time.Minute}) // (the fake node sends none)
			n := hs.addNode(1, scheduler.Resources{})
			d := hs.driver()
			id := hs.gen.Next()
			d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: id.Bytes(), Function: "crasher", Resources: &pb.Resources{Cpu: scheduler.Unit}}}})
			recv(t, n.starts, "executor start")
			ex, err := hs.session(&pb.Hello{Role: pb.Role_ROLE_EXECUTOR, JobId: hs.job.JobId, NodeId: n.id.Bytes(), Registry: hs.job.Registry, Pid: 4242})
			if err != nil {
				t.Fatal(err)
			}
			recv(t, ex.runs, "the task")
			report := func() {
				n.mu.Lock()
				defer n.mu.Unlock()
				n.stream.Send(&pb.NodeMessage{Executors: []*pb.ExecutorEvent{{JobId: hs.job.JobId, Pid: 4242, Exited: true,
					Error: "exit status 2: panic: boom in a goroutine"}}})
			}
			if order == "report before close" {
				report()
			}
			ex.stream.CloseSend()
			recv(t, ex.done, "the executor's session to end")
			if order == "report after close" {
				select {
				case st := <-d.objects:
					t.Fatalf("failed before the node's report: %v", st)
				case <-time.After(100 * time.Millisecond):
				}
				report()
			}
			start := time.Now()
			st := recv(t, d.objects, "the task's failure")
			want := "panic: boom in a goroutine"
			if order == "no report" {
				want = "reported no exit"
				if waited := time.Since(start); waited < exitReportWait/2 {
					t.Errorf("failed after %v, before the node had time to report", waited)
				}
			}
			if st.State != pb.ObjectState_OBJECT_STATE_FAILED || st.Error.Kind != pb.ErrorKind_ERROR_KIND_EXECUTOR || !strings.Contains(st.Error.Message, want) {
				t.Fatalf("failure %v, want an executor error holding %q", st, want)
			}
			if cause := hs.h.ExecutorExit(hs.ctx, n.id, 4242); order != "no report" && !strings.Contains(cause, "panic: boom") {
				t.Fatalf("ExecutorExit = %q", cause)
			}
		})
	}
}

// Work no node can run waits with a warning, or fails at once when no node
// can join.
func TestInfeasibleWork(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		t.Run(fmt.Sprint("fixed nodes ", fixed), func(t *testing.T) {
			hs := newHarness(t, Config{FixedNodes: fixed})
			hs.addNode(2, scheduler.Resources{})
			d := hs.driver()
			id := hs.gen.Next()
			d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: id.Bytes(), Function: "big", Resources: &pb.Resources{Cpu: 3 * scheduler.Unit}}}})
			if fixed {
				st := recv(t, d.objects, "the infeasible task's failure")
				if st.Error.GetKind() != pb.ErrorKind_ERROR_KIND_INFEASIBLE || !strings.Contains(st.Error.Message, "CPU 3") {
					t.Fatalf("failure %v", st)
				}
				return
			}
			testwait.For(t, "the waiting work in status", func() bool {
				w := hs.h.Status().Waiting
				return len(w) == 1 && w[0].Count == 1 && w[0].Infeasible && strings.Contains(w[0].Reason, "CPU 3")
			})
			hs.h.SetNodeTypes([]autoscaler.NodeType{{Name: "big", Resources: autoscaler.Resources{"CPU": 4}}})
			d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{{Id: hs.gen.Next().Bytes(), Function: "big", Resources: &pb.Resources{Cpu: 3*scheduler.Unit + 1}}}})
			testwait.For(t, "a shape an autoscaler node type fits", func() bool {
				for _, w := range hs.h.Status().Waiting {
					if !w.Infeasible && strings.Contains(w.Reason, `node of type "big"`) {
						return true
					}
				}
				return false
			})
		})
	}
}

// A call that ends while it waits in its actor's queue (its argument
// failed) does not hold up the calls made after it.
func TestFailedArgumentDoesNotStallTheActor(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(2, scheduler.Resources{})
	d := hs.driver()
	actor := hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{CreateActors: []*pb.ActorSpec{{Id: actor.Bytes(), Class: "A", Resources: &pb.Resources{Cpu: scheduler.Unit / 2}}}})
	aj := recv(t, n.starts, "the actor's executor start")
	if string(aj.JobId) == string(hs.job.JobId) {
		t.Fatal("the actor's executor is the job's: actors live in executors of their own")
	}
	ax, err := hs.session(&pb.Hello{Role: pb.Role_ROLE_EXECUTOR, JobId: aj.JobId, NodeId: n.id.Bytes(), Registry: hs.job.Registry})
	if err != nil {
		t.Fatal(err)
	}
	ctor := recv(t, ax.runs, "the constructor")
	ax.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: ctor.TaskId, Value: []byte{1}}}})
	recv(t, d.objects, "the actor ready")
	arg := hs.submit(d, "producer")
	first, second := hs.gen.Next(), hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{ActorCalls: []*pb.ActorCall{
		{Id: first.Bytes(), ActorId: actor.Bytes(), Method: "A.m", Args: []*pb.Arg{{Object: arg.Bytes()}}},
		{Id: second.Bytes(), ActorId: actor.Bytes(), Method: "A.m", Args: []*pb.Arg{{Value: []byte{1}}}},
	}})
	recv(t, n.starts, "the task executor start")
	tx := hs.executor(n)
	prod := recv(t, tx.runs, "the producer")
	tx.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: prod.TaskId, Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_APPLICATION, Message: "no"}}}})
	if r := recv(t, ax.runs, "the second call"); string(r.TaskId) != string(second[:]) {
		t.Fatalf("dispatched %x, want the second call", r.TaskId)
	}
}

// A client that releases its borrowed reference and borrows the object
// again sends both, possibly in one batch (where borrows are handled
// before releases): the new reference must hold the object and learn its
// state, or whoever reads it waits forever.
func TestBorrowAgainInTheBatchOfTheRelease(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(2, scheduler.Resources{})
	d := hs.driver()
	a := hs.submit(d, "f")
	recv(t, n.starts, "executor start")
	ex := hs.executor(n)
	run := recv(t, ex.runs, "task")
	ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Value: []byte{2, 'v'}}}})
	recv(t, d.objects, "a ready")
	// Another client borrows a (found inside a value) and learns its state.
	other := hs.driver()
	other.stream.Send(&pb.ClientMessage{Borrow: [][]byte{a.Bytes()}})
	if st := recv(t, other.objects, "a's state for the borrower"); st.State != pb.ObjectState_OBJECT_STATE_READY {
		t.Fatalf("borrower told %v", st)
	}
	// Its reference released and a new one borrowed, in one batch.
	other.stream.Send(&pb.ClientMessage{Borrow: [][]byte{a.Bytes()}, Release: [][]byte{a.Bytes()}})
	if st := recv(t, other.objects, "a's state for the new reference"); st.State != pb.ObjectState_OBJECT_STATE_READY {
		t.Fatalf("new reference told %v", st)
	}
	// The owner lets go: the borrow alone keeps a.
	d.stream.Send(&pb.ClientMessage{Release: [][]byte{a.Bytes()}})
	testwait.For(t, "the owner's release", func() bool {
		hs.h.mu.Lock()
		defer hs.h.mu.Unlock()
		o := hs.h.objects[a]
		return o != nil && !o.ownerRef
	})
	if st := hs.h.Status(); st.Objects != 1 {
		t.Fatalf("%d objects after the owner's release; the borrow should keep a", st.Objects)
	}
	// The new reference's release frees it.
	other.stream.Send(&pb.ClientMessage{Release: [][]byte{a.Bytes()}})
	testwait.For(t, "a freed", func() bool { return hs.h.Status().Objects == 0 })
}

// Delay scheduling: a task whose argument lies on a busy node waits for
// that node rather than running on an idle one, for as long as moving the
// argument would take (its size at LocalityBandwidth); past that it runs
// elsewhere.
func TestTaskWaitsForTheNodeHoldingItsArgument(t *testing.T) {
	hs := newHarness(t, Config{LocalityBandwidth: 100e6})
	a := hs.addNode(1, scheduler.Resources{})
	b := hs.addNode(1, scheduler.Resources{})
	d := hs.driver()
	send := func(fn string, affinity *fakeNode, args ...*pb.Arg) ids.ID {
		id := hs.gen.Next()
		spec := &pb.TaskSpec{Id: id.Bytes(), Function: fn, Args: args, Resources: &pb.Resources{Cpu: scheduler.Unit}}
		if affinity != nil {
			spec.AffinityNode = affinity.id.Bytes()
		}
		d.stream.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{spec}})
		return id
	}
	// x: 20 MB stored on a (moving it would take 200 ms).
	x := send("make", a)
	recv(t, a.starts, "executor start on a")
	exA := hs.executor(a)
	run := recv(t, exA.runs, "make")
	exA.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Stored: true, Size: 20e6}}})
	recv(t, d.objects, "x ready")

	// a busy: a task reading x waits for it, b stays idle.
	send("long", a)
	long := recv(t, exA.runs, "long on a")
	use := send("use", nil, &pb.Arg{Object: x.Bytes()})
	select {
	case <-b.starts:
		t.Fatal("the task reading x went to b while a, which holds x, was busy for less than moving x would take")
	case <-time.After(100 * time.Millisecond):
	}
	exA.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: long.TaskId, Value: []byte{0}}}})
	if r := recv(t, exA.runs, "the task reading x, on a"); string(r.TaskId) != string(use[:]) {
		t.Fatalf("ran %x on a, want the task reading x", r.TaskId)
	}

	// a busy for longer than moving x takes: the next one goes to b.
	start := time.Now()
	send("use again", nil, &pb.Arg{Object: x.Bytes()})
	recv(t, b.starts, "executor start on b, once waiting for a took longer than moving x")
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Fatalf("went to b after %v; moving x takes 200ms", waited)
	}
}

// The head's metrics are its state as status shows it, with what status
// does not say (tasks by function, latencies).
func TestHeadMetrics(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(2, scheduler.Resources{})
	d := hs.driver()
	hs.submit(d, "f")
	recv(t, n.starts, "executor start")
	ex := hs.executor(n)
	run := recv(t, ex.runs, "task")
	ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Value: []byte{2, 'v'}}}})
	recv(t, d.objects, "f's result")
	hs.submit(d, "g")
	recv(t, ex.runs, "second task")
	m := hs.h.Metrics()
	if got := m.ByFunction[[2]string{"g", "running"}]; got != 1 {
		t.Errorf("tasks of g running: %d, want 1 (%v)", got, m.ByFunction)
	}
	if m.Status.TasksByState["running"] != 1 || m.Status.TasksFinished != 1 {
		t.Errorf("status in the metrics: %v", m.Status.TasksByState)
	}
	if m.Message.Count == 0 || m.Schedule.Count == 0 {
		t.Errorf("latencies not observed: %d messages, %d scheduling passes", m.Message.Count, m.Schedule.Count)
	}
}

// An actor killed while its constructor runs stays dead when the
// constructor's success arrives after the kill, and its node gets its
// resources back (the stress test found killed actors coming back alive,
// and nodes with more CPUs free than they have).
func TestActorKilledDuringConstructionStaysDead(t *testing.T) {
	hs := newHarness(t, Config{})
	n := hs.addNode(2, scheduler.Resources{})
	d := hs.driver()
	actor := hs.gen.Next()
	d.stream.Send(&pb.ClientMessage{CreateActors: []*pb.ActorSpec{{Id: actor.Bytes(), Class: "A", Resources: &pb.Resources{Cpu: scheduler.Unit / 4}}}})
	aj := recv(t, n.starts, "the actor's executor start")
	ax, err := hs.session(&pb.Hello{Role: pb.Role_ROLE_EXECUTOR, JobId: aj.JobId, NodeId: n.id.Bytes(), Registry: hs.job.Registry})
	if err != nil {
		t.Fatal(err)
	}
	ctor := recv(t, ax.runs, "the constructor")
	d.stream.Send(&pb.ClientMessage{KillActors: [][]byte{actor.Bytes()}})
	testwait.For(t, "the kill", func() bool {
		hs.h.mu.Lock()
		defer hs.h.mu.Unlock()
		return hs.h.actors[actor].state == actorDead
	})
	ax.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: ctor.TaskId, Value: []byte{1}}}})
	if st := recv(t, d.objects, "the actor's state"); st.State != pb.ObjectState_OBJECT_STATE_FAILED {
		t.Fatalf("the killed actor's object: %v", st)
	}
	testwait.For(t, "the node's CPUs back", func() bool {
		hs.h.mu.Lock()
		defer hs.h.mu.Unlock()
		return hs.h.nodes[n.id].committed.CPU == 0
	})
	hs.h.mu.Lock()
	state, committed := hs.h.actors[actor], hs.h.nodes[n.id].committed
	hs.h.mu.Unlock()
	if state != nil && state.state != actorDead {
		t.Fatalf("the killed actor is %v again", state.state)
	}
	if committed.CPU != 0 {
		t.Fatalf("committed %v after the actor died", committed)
	}
}

// A job's kept output is bounded in bytes as well as lines (the oldest go,
// counted), and ended jobs past the last keptEndedLogs let go of theirs.
func TestJobOutputBoundedInBytes(t *testing.T) {
	h := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer h.Close()
	n := &nodeState{id: ids.Random()}
	job := func() (ids.ID, *submittedJob) {
		id := ids.Random()
		j := &submittedJob{info: &pb.SubmittedJob{JobId: id.Bytes(), NodeId: n.id.Bytes()}, news: make(chan struct{})}
		h.submitted[id] = j
		return id, j
	}
	id, j := job()
	line := strings.Repeat("y", 1<<20)
	for range 40 {
		h.driverEvent(n, &pb.DriverEvent{JobId: id.Bytes(), Lines: []string{line, "short"}})
	}
	var kept int64
	for _, l := range j.lines {
		kept += int64(len(l))
	}
	if j.bytes > maxLogBytes || j.bytes != kept {
		t.Fatalf("%d bytes counted, %d kept in %d lines (bound %d)", j.bytes, kept, len(j.lines), maxLogBytes)
	}
	if j.info.LogLines != 80 || j.base+int64(len(j.lines)) != 80 || j.base == 0 {
		t.Fatalf("log lines %d, base %d, kept %d: want 80 in all, the oldest dropped", j.info.LogLines, j.base, len(j.lines))
	}
	h.driverEvent(n, &pb.DriverEvent{JobId: id.Bytes(), Exited: true})
	for range keptEndedLogs {
		other, _ := job()
		h.driverEvent(n, &pb.DriverEvent{JobId: other.Bytes(), Lines: []string{"x"}})
		h.driverEvent(n, &pb.DriverEvent{JobId: other.Bytes(), Exited: true})
	}
	if len(j.lines) != 0 || j.bytes != 0 || j.info.LogLines != 80 {
		t.Fatalf("the oldest ended job keeps %d lines (%d bytes) after %d newer ones ended", len(j.lines), j.bytes, keptEndedLogs)
	}
}

// The head's listener holds at most MaxConnections at once: past it a new
// client waits (here: its dial times out) until one closes.
func TestConnectionsAreCapped(t *testing.T) {
	h := New(Config{Token: "t0k3n", MaxConnections: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- h.Serve(ln) }()
	defer func() { h.Close(); <-served }()
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	ctx := context.Background()
	if conn, err := rpc.Dial(ctx, ln.Addr().String(), "t0k3n", 0, rpc.TLSConfig{}, 500*time.Millisecond); err == nil {
		conn.Close()
		t.Fatal("a third connection was served past a cap of 2")
	}
	for _, c := range idle {
		c.Close()
	}
	conn, err := rpc.Dial(ctx, ln.Addr().String(), "t0k3n", 0, rpc.TLSConfig{}, 5*time.Second)
	if err != nil {
		t.Fatalf("once the idle connections closed: %v", err)
	}
	defer conn.Close()
	if _, err := pb.NewHeadClient(conn).Status(ctx, &pb.StatusRequest{}); err != nil {
		t.Fatal(err)
	}
	if n := h.Metrics().RPCs["Status"].Count; n != 1 {
		t.Errorf("the Status call was timed %d times, want 1", n)
	}
}

// When a node dies, the owner of an object it held hears at once: the
// copies left (a reader fetching the dead one moves on) or, when none is
// left, that the object is being rebuilt (a reader stops fetching and
// waits); then the new copy.
func TestLostCopiesAreNews(t *testing.T) {
	hs := newHarness(t, Config{HeartbeatInterval: 20 * time.Millisecond, HeartbeatTimeout: 200 * time.Millisecond})
	stopA, stopB := make(chan struct{}), make(chan struct{})
	defer close(stopB)
	a := hs.addNode(1, scheduler.Resources{})
	a.heartbeatUntil(stopA)
	d := hs.driver()
	x, y := hs.submit(d, "make x"), hs.submit(d, "make y")
	recv(t, a.starts, "executor start on A")
	exA := hs.executor(a)
	for range 2 {
		run := recv(t, exA.runs, "a make on A")
		exA.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Stored: true, Size: 1e6}}})
		if st := recv(t, d.objects, "an object ready"); st.State != pb.ObjectState_OBJECT_STATE_READY || len(st.Locations) != 1 {
			t.Fatalf("status %v", st)
		}
	}
	b := hs.addNode(1, scheduler.Resources{})
	b.heartbeatUntil(stopB)
	b.mu.Lock()
	b.stream.Send(&pb.NodeMessage{Objects: []*pb.ObjectCopy{{Id: y.Bytes(), Added: true, Size: 1e6}}}) // y copied to B
	b.mu.Unlock()
	testwait.For(t, "y's copy on B", func() bool { return len(hs.h.ObjectInfo(y).Locations) == 2 })

	close(stopA) // A falls silent
	recv(t, a.done, "A's stream closed by the head")
	news := map[ids.ID]*pb.ObjectStatus{}
	for range 2 {
		st := recv(t, d.objects, "news of x and y")
		id, _ := ids.FromBytes("object id", st.Id)
		news[id] = st
	}
	if st := news[x]; st == nil || st.State != pb.ObjectState_OBJECT_STATE_REBUILDING || len(st.Locations) != 0 {
		t.Fatalf("x, whose only copy died: %v, want REBUILDING", st)
	}
	if st := news[y]; st == nil || st.State != pb.ObjectState_OBJECT_STATE_READY || len(st.Locations) != 1 || string(st.Locations[0].NodeId) != string(b.id[:]) {
		t.Fatalf("y, with a copy left on B: %v, want READY on B alone", st)
	}
	recv(t, b.starts, "executor start on B")
	exB := hs.executor(b)
	run := recv(t, exB.runs, "x rebuilt on B")
	exB.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Attempt: run.Attempt, Stored: true, Size: 1e6}}})
	st := recv(t, d.objects, "x ready again")
	if string(st.Id) != string(x[:]) || st.State != pb.ObjectState_OBJECT_STATE_READY || len(st.Locations) != 1 || string(st.Locations[0].NodeId) != string(b.id[:]) {
		t.Fatalf("x after its rebuild: %v, want READY on B", st)
	}
}
