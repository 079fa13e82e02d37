package client

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/codec"
	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

func task(fn string, args ...*pb.Arg) *pb.TaskSpec {
	return &pb.TaskSpec{Function: fn, Args: args, Resources: &pb.Resources{Cpu: 1000}, MaxRetries: 3}
}

func inline(v string) *pb.Arg { return &pb.Arg{Value: []byte(v)} }

func put(t *testing.T, c *Client, v string) *Ref {
	t.Helper()
	r, err := c.Put(context.Background(), codec.Tag(1), []byte(v), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The head's route: a task reaches the head, finishes with what the head
// says, is cancelled there, and is released there; its object argument is
// held until it finished, whatever its caller released.
func TestHeadRouteSubmitCancelRelease(t *testing.T) {
	h := newFakeHead(t)
	c, s := newTestClient(t, h)

	arg := put(t, c, "argument")
	s.want(t, "put", arg.ID)
	r := c.Submit(context.Background(), task("f", &pb.Arg{Object: arg.ID.Bytes()}), false)
	arg.Release() // the caller lets go; the task still needs it
	e, passed := s.next(t, "submit")
	if e.id != r.ID {
		t.Fatalf("submitted %s, want %s", e.id.Short(), r.ID.Short())
	}
	for _, p := range passed {
		if p.kind == "release" && p.id == arg.ID {
			t.Fatal("the argument was released before the task that needs it was sent")
		}
	}
	s.none(t, "release", arg.ID, 50*time.Millisecond)

	r.Cancel()
	s.want(t, "cancel", r.ID)

	s.ready(r.ID, []byte("result"))
	readyWithin(t, r)
	if got := value(t, c, r); got != "result" {
		t.Fatalf("value %q", got)
	}
	s.want(t, "release", arg.ID) // the task finished: its argument goes
	r.Release()
	s.want(t, "release", r.ID)
}

// A session lost and joined again replays, in creation order, what the
// head must know: borrowed objects first, Puts, unfinished tasks and
// finished results; and a released object not at all.
func TestHeadRouteReplayAfterReconnect(t *testing.T) {
	h := newFakeHead(t)
	c, s := newTestClient(t, h)

	borrowed := c.Borrow(ids.Random())
	s.want(t, "borrow", borrowed.ID)
	p := put(t, c, "put")
	s.want(t, "put", p.ID)
	done := c.Submit(context.Background(), task("done"), false)
	s.want(t, "submit", done.ID)
	s.ready(done.ID, []byte("done"))
	readyWithin(t, done)
	pending := c.Submit(context.Background(), task("pending"), false)
	s.want(t, "submit", pending.ID)
	gone := put(t, c, "gone")
	gone.Release()
	s.want(t, "release", gone.ID)

	s.lose()
	s2 := h.session()
	var got []string
	for range 4 {
		e := <-s2.events
		got = append(got, e.kind+" "+e.id.Short())
	}
	want := []string{"borrow " + borrowed.ID.Short(), "put " + p.ID.Short(), "put " + done.ID.Short(), "submit " + pending.ID.Short()}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("replayed %v, want %v", got, want)
	}
	s2.none(t, "put", gone.ID, 50*time.Millisecond)

	// The new session carries what follows.
	s2.ready(pending.ID, []byte("late"))
	readyWithin(t, pending)
	pending.Cancel() // ready: nothing to cancel
	pending.Release()
	s2.want(t, "release", pending.ID)
}

// actorReachable creates an actor whose object says it may be called
// directly at ex.
func actorReachable(t *testing.T, c *Client, s *fakeSession, ex *fakeExec) *Ref {
	t.Helper()
	return actorReachableIn(t, c, s, ex, ids.Nil)
}

// actorReachableIn is actorReachable for an executor that serves scope's
// processes (ids.Nil: the cluster's).
func actorReachableIn(t *testing.T, c *Client, s *fakeSession, ex *fakeExec, scope ids.ID) *Ref {
	t.Helper()
	a := c.CreateActor(context.Background(), &pb.ActorSpec{Class: "A"})
	s.want(t, "create", a.ID)
	route := &pb.ActorRoute{Addr: ex.addr(), Label: "A (test)", NodeId: ids.Random().Bytes(), DataAddr: "127.0.0.1:1", Pid: 42}
	if !scope.IsNil() {
		route.Scope = scope.Bytes()
	}
	s.tell(&pb.HeadMessage{Objects: []*pb.ObjectStatus{{Id: a.ID.Bytes(), State: pb.ObjectState_OBJECT_STATE_READY, Actor: route}}})
	readyWithin(t, a)
	return a
}

// An executor serves its own job's processes only (they hold its
// credential): a client of that job, or with the cluster token, calls its
// actor directly; a client of another job goes through the head without
// trying; and a client the executor refuses (the scope the head named is
// not the executor's) falls back to the head too, the call never having
// left.
func TestActorRouteScopes(t *testing.T) {
	jobA, jobB := ids.Random(), ids.Random()
	credA := credential.ForJob(testToken, jobA)
	for _, tc := range []struct {
		name        string
		client      string // the client's token
		execToken   string // the executor's
		routeScope  ids.ID
		direct      bool
		triesDirect bool // (a connection the executor refuses)
	}{
		{name: "its own job", client: credA, execToken: credA, routeScope: jobA, direct: true},
		{name: "the cluster", client: testToken, execToken: credA, routeScope: jobA, direct: true},
		{name: "another job", client: credential.ForJob(testToken, jobB), execToken: credA, routeScope: jobA},
		{name: "refused by the executor", client: credA, execToken: credential.ForJob(testToken, jobB), routeScope: jobA, triesDirect: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHead(t)
			c, s := newTestClient(t, h, func(cfg *Config) { cfg.Token = tc.client })
			ex := newFakeExecWith(t, tc.execToken)
			a := actorReachableIn(t, c, s, ex, tc.routeScope)
			r := c.CallActor(context.Background(), call(a, "m", inline("x")), true)
			if tc.direct {
				if m := ex.next(); len(m.Calls) != 1 || ids.ID(m.Calls[0].Id) != r.ID {
					t.Fatalf("executor got %v", m)
				}
				ex.reply(&pb.TaskResult{TaskId: r.ID.Bytes(), Value: []byte("direct")})
			} else {
				s.want(t, "call", r.ID)
				s.ready(r.ID, []byte("via the head"))
			}
			readyWithin(t, r)
			want := map[bool]string{true: "direct", false: "via the head"}[tc.direct]
			if got := value(t, c, r); got != want {
				t.Fatalf("value %q, want %q", got, want)
			}
			if sent := c.DirectCallsSent(); (sent > 0) != (tc.direct || tc.triesDirect) {
				t.Fatalf("DirectCallsSent %d", sent)
			}
		})
	}
}

func call(a *Ref, method string, args ...*pb.Arg) *pb.ActorCall {
	return &pb.ActorCall{ActorId: a.ID.Bytes(), Method: method, Args: args}
}

// The actor route: a call goes straight to the actor's executor and its
// result stays in the client; a cancel follows it there; a call the
// executor no longer has goes through the head, and so do the next calls;
// a call with an object argument goes through the head only after the
// direct calls before it finished.
func TestActorRouteDirectCancelNotHere(t *testing.T) {
	h := newFakeHead(t)
	c, s := newTestClient(t, h)
	ex := newFakeExec(t)
	a := actorReachable(t, c, s, ex)

	r1 := c.CallActor(context.Background(), call(a, "m", inline("x")), true)
	m := ex.next()
	if len(m.Calls) != 1 || ids.ID(m.Calls[0].Id) != r1.ID {
		t.Fatalf("executor got %v", m)
	}
	ex.reply(&pb.TaskResult{TaskId: r1.ID.Bytes(), Value: []byte("one")})
	readyWithin(t, r1)
	if got := value(t, c, r1); got != "one" {
		t.Fatalf("value %q", got)
	}
	if c.DirectCallsSent() != 1 {
		t.Fatalf("DirectCallsSent %d", c.DirectCallsSent())
	}

	// Cancel follows a direct call to its executor.
	r2 := c.CallActor(context.Background(), call(a, "slow", inline("y")), true)
	ex.next()
	r2.Cancel()
	if m := ex.next(); len(m.Cancel) != 1 || ids.ID(m.Cancel[0]) != r2.ID {
		t.Fatalf("executor got %v, want the cancel of %s", m, r2.ID.Short())
	}
	ex.reply(&pb.TaskResult{TaskId: r2.ID.Bytes(), Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_CANCELLED, Message: "cancelled"}})
	readyWithin(t, r2)
	if !errors.Is(r2.Err(), errs.ErrCancelled) {
		t.Fatalf("err %v", r2.Err())
	}

	// A call with an object argument waits for the direct call in flight,
	// then goes through the head.
	obj := put(t, c, "o")
	r3 := c.CallActor(context.Background(), call(a, "m", inline("z")), true)
	r4 := c.CallActor(context.Background(), call(a, "m", &pb.Arg{Object: obj.ID.Bytes()}), true)
	ex.next()
	s.none(t, "call", r4.ID, 50*time.Millisecond)
	ex.reply(&pb.TaskResult{TaskId: r3.ID.Bytes(), NotHere: true})
	// r3 did not run there: through the head, then r4 after it.
	s.want(t, "call", r3.ID)
	s.ready(r3.ID, []byte("three"))
	s.want(t, "call", r4.ID)
	s.ready(r4.ID, []byte("four"))
	readyWithin(t, r4)
	// The link, idle, is forgotten: the next call looks the actor up again.
	// (The route hears that r4 finished just after r4 is ready: a call made
	// in between still goes through the head, as it should.)
	linkForgotten(t, c, a.ID)
	r5 := c.CallActor(context.Background(), call(a, "m", inline("w")), true)
	if m := ex.next(); len(m.Calls) != 1 || ids.ID(m.Calls[0].Id) != r5.ID {
		t.Fatalf("executor got %v", m)
	}
}

// A direct call whose executor's connection breaks fails as may have run,
// saying why the executor exited; the actor's next call opens a new
// connection. After a session with the head is lost, the direct calls the head
// never heard of are not replayed, an exported result is.
func TestActorRouteConnectionLostAndReplay(t *testing.T) {
	h := newFakeHead(t)
	h.exits = "killed by signal 9"
	c, s := newTestClient(t, h)
	ex := newFakeExec(t)
	a := actorReachable(t, c, s, ex)

	kept := c.CallActor(context.Background(), call(a, "m", inline("k")), true)
	ex.next()
	ex.reply(&pb.TaskResult{TaskId: kept.ID.Bytes(), Value: []byte("kept")})
	readyWithin(t, kept)
	quiet := c.CallActor(context.Background(), call(a, "m", inline("q")), true)
	ex.next()
	ex.reply(&pb.TaskResult{TaskId: quiet.ID.Bytes(), Value: []byte("quiet")})
	readyWithin(t, quiet)
	kept.Export() // its ID leaves the client: the head must know it
	if p := s.want(t, "put", kept.ID).msg.(*pb.PutObject); string(p.Value) != "kept" {
		t.Fatalf("exported %v", p)
	}

	s.lose()
	s2 := h.session()
	replayed := map[ids.ID]bool{}
	for range 2 {
		e := <-s2.events
		replayed[e.id] = true
	}
	if !replayed[a.ID] || !replayed[kept.ID] {
		t.Fatalf("replayed %v, want the actor and the exported result", replayed)
	}
	s2.none(t, "put", quiet.ID, 50*time.Millisecond)

	lost := c.CallActor(context.Background(), call(a, "m", inline("l")), true)
	ex.next()
	ex.cut()
	readyWithin(t, lost)
	if err := lost.Err(); !errors.Is(err, errs.ErrActorDied) || !strings.Contains(err.Error(), "killed by signal 9") || !strings.Contains(err.Error(), "may have run") {
		t.Fatalf("err %v", err)
	}
	next := c.CallActor(context.Background(), call(a, "m", inline("n")), true)
	if m := ex.next(); len(m.Calls) != 1 || ids.ID(m.Calls[0].Id) != next.ID {
		t.Fatalf("executor got %v", m)
	}
}

// A call cancelled while it waits in its link's queue fails at once and
// never leaves the client; a kill sends the next calls through the head,
// after the kill.
func TestActorRouteCancelUnsentAndKill(t *testing.T) {
	h := newFakeHead(t)
	c, s := newTestClient(t, h)
	ex := newFakeExec(t)
	a := actorReachable(t, c, s, ex)
	obj := put(t, c, "o")

	first := c.CallActor(context.Background(), call(a, "m", inline("1")), true)
	ex.next()
	waiting := c.CallActor(context.Background(), call(a, "m", &pb.Arg{Object: obj.ID.Bytes()}), true) // waits for first
	waiting.Cancel()
	ex.reply(&pb.TaskResult{TaskId: first.ID.Bytes(), Value: []byte("1")})
	readyWithin(t, waiting)
	if !errors.Is(waiting.Err(), errs.ErrCancelled) {
		t.Fatalf("err %v", waiting.Err())
	}
	s.none(t, "call", waiting.ID, 50*time.Millisecond)

	if err := c.KillActor(a.ID); err != nil {
		t.Fatal(err)
	}
	after := c.CallActor(context.Background(), call(a, "m", inline("2")), true)
	// (The kill and the call may share a message to the head.)
	e, passed := s.next(t, "kill")
	if e.id != a.ID {
		t.Fatalf("killed %s", e.id.Short())
	}
	for _, p := range passed {
		if p.kind == "call" && p.id == after.ID {
			return
		}
	}
	s.want(t, "call", after.ID)
}

// grant answers a lease request with a lease on ex.
func grant(s *fakeSession, req event, ex *fakeExec) {
	s.tell(&pb.HeadMessage{Leases: []*pb.LeaseGrant{{Id: req.id.Bytes(), Granted: true, Addr: ex.addr(), NodeId: ids.Random().Bytes(), DataAddr: "127.0.0.1:1", Pid: 7}}})
}

// The lease route: a task waits for a lease, runs on it, finishes with
// the executor's answer without the head hearing of it, and the idle
// lease goes back; a cancel follows a leased task to its executor.
func TestLeaseRouteGrantRunCancel(t *testing.T) {
	h := newFakeHead(t)
	c, s := newTestClient(t, h)
	ex := newFakeExec(t)

	r := c.Submit(context.Background(), task("f", inline("x")), true)
	req, _ := s.next(t, "lease")
	grant(s, req, ex)
	m := ex.next()
	if len(m.Tasks) != 1 || ids.ID(m.Tasks[0].Id) != r.ID || ids.ID(m.Tasks[0].LeaseId) != req.id {
		t.Fatalf("executor got %v", m)
	}
	ex.reply(&pb.TaskResult{TaskId: r.ID.Bytes(), Value: []byte("leased"), DurationNs: int64(time.Millisecond)})
	readyWithin(t, r)
	if got := value(t, c, r); got != "leased" {
		t.Fatalf("value %q", got)
	}

	r2 := c.Submit(context.Background(), task("f", inline("y")), true)
	ex.next()
	r2.Cancel()
	if m := ex.next(); len(m.Cancel) != 1 || ids.ID(m.Cancel[0]) != r2.ID {
		t.Fatalf("executor got %v, want the cancel", m)
	}
	ex.reply(&pb.TaskResult{TaskId: r2.ID.Bytes(), Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_CANCELLED, Message: "cancelled"}})
	readyWithin(t, r2)
	if !errors.Is(r2.Err(), errs.ErrCancelled) {
		t.Fatalf("err %v", r2.Err())
	}
	s.want(t, "leaseReturn", req.id) // idle for leaseLinger
	r.Release()
	s.none(t, "release", r.ID, 50*time.Millisecond) // the head never heard of it
}

// A lease with tasks always waiting for it goes back to the head once it
// has taken tasks for leaseTimeout and they are answered, and its pool
// asks again for what waits: the head then serves its own waiting tasks
// first (other jobs' work is not kept waiting as long as a stream lasts).
func TestLeaseGoesBackAfterItsTimeout(t *testing.T) {
	h := newFakeHead(t)
	c, s := newTestClient(t, h)
	ex := newFakeExec(t)

	var refs []*Ref
	submit := func() { refs = append(refs, c.Submit(context.Background(), task("f", inline("x")), true)) }
	submit()
	submit()
	req, _ := s.next(t, "lease")
	grant(s, req, ex)
	start := time.Now()
	answered := 0
	var ret event
	var passed []event
	deadline := time.After(wait)
	for ret.kind == "" {
		// Answer every task the executor gets (one at a time: the function
		// is not known to be short) with a task always waiting, until the
		// lease comes back.
		select {
		case m := <-ex.reqs:
			if len(m.Tasks) != 1 {
				t.Fatalf("executor got %v", m)
			}
			submit()
			ex.reply(&pb.TaskResult{TaskId: m.Tasks[0].Id, Value: []byte("v"), DurationNs: int64(time.Millisecond)})
			answered++
		case e := <-s.events:
			if e.kind == "leaseReturn" {
				ret = e
			} else {
				passed = append(passed, e)
			}
		case <-deadline:
			t.Fatalf("the lease took tasks for %v (%d) and did not go back", time.Since(start), answered)
		}
	}
	if ret.id != req.id || slices.Contains(kinds(passed), "submit") {
		t.Fatalf("want the lease back and no task at the head, got %v then %s", kinds(passed), ret.id.Short())
	}
	if took := time.Since(start); took < leaseTimeout {
		t.Fatalf("the lease went back after %v, before its timeout (%v)", took, leaseTimeout)
	}
	// (The pool asked for more leases while it waited; the head answers
	// one now.)
	i := slices.IndexFunc(passed, func(e event) bool { return e.kind == "lease" })
	var again event
	if i >= 0 {
		again = passed[i]
	} else {
		again, _ = s.next(t, "lease")
	}
	grant(s, again, ex)
	m := ex.next()
	if ids.ID(m.Tasks[0].LeaseId) != again.id {
		t.Fatalf("the next task went on lease %x, want the new one", m.Tasks[0].LeaseId)
	}
	ex.reply(&pb.TaskResult{TaskId: m.Tasks[0].Id, Value: []byte("v"), DurationNs: int64(time.Millisecond)})
	for len(refs) > answered+1 {
		m := ex.next()
		ex.reply(&pb.TaskResult{TaskId: m.Tasks[0].Id, Value: []byte("v"), DurationNs: int64(time.Millisecond)})
		answered++
	}
	for _, r := range refs {
		readyWithin(t, r)
	}
}

// A refused lease sends the waiting task to the head; a task cancelled
// while it waits for a lease fails without leaving the client.
func TestLeaseRouteRefusedAndCancelUnsent(t *testing.T) {
	h := newFakeHead(t)
	c, s := newTestClient(t, h)

	cancelled := c.Submit(context.Background(), task("f", inline("c")), true)
	cancelled.Cancel()
	r := c.Submit(context.Background(), task("f", inline("x")), true)
	req, _ := s.next(t, "lease")
	s.tell(&pb.HeadMessage{Leases: []*pb.LeaseGrant{{Id: req.id.Bytes()}}}) // refused
	s.want(t, "submit", r.ID)
	readyWithin(t, cancelled)
	if !errors.Is(cancelled.Err(), errs.ErrCancelled) {
		t.Fatalf("err %v", cancelled.Err())
	}
	r.Cancel()
	s.want(t, "cancel", r.ID)
	// While refused, the next task goes to the head at once.
	r2 := c.Submit(context.Background(), task("f", inline("y")), true)
	s.want(t, "submit", r2.ID)
}

// A leased task whose executor's connection breaks goes to the head as a
// retry; one that may not be retried fails saying why. A session with the
// head lost forgets the leases and asks again for the waiting tasks,
// which are not replayed (the head never heard of them).
func TestLeaseRouteConnectionLostAndReconnect(t *testing.T) {
	h := newFakeHead(t)
	h.exits = "out of memory"
	c, s := newTestClient(t, h)
	ex := newFakeExec(t)

	retried := c.Submit(context.Background(), task("f", inline("r")), true)
	once := task("g", inline("o"))
	once.MaxRetries = 0
	req, _ := s.next(t, "lease")
	grant(s, req, ex)
	ex.next()
	failed := c.Submit(context.Background(), once, true)
	if req2, _ := s.next(t, "lease"); req2.id != req.id {
		grant(s, req2, ex)
	}
	ex.next()
	ex.cut()
	sub := s.want(t, "submit", retried.ID).msg.(*pb.TaskSpec)
	if sub.MaxRetries != 2 {
		t.Fatalf("retry sent with MaxRetries %d, want 2", sub.MaxRetries)
	}
	readyWithin(t, failed)
	if err := failed.Err(); err == nil || !strings.Contains(err.Error(), "out of memory") || !strings.Contains(err.Error(), "not retried") {
		t.Fatalf("err %v", err)
	}

	waiting := c.Submit(context.Background(), task("h", inline("w")), true)
	s.next(t, "lease")
	s.lose()
	s2 := h.session()
	if e, passed := s2.next(t, "lease"); len(passed) != 1 || passed[0].id != retried.ID {
		// The retried task (through the head, unfinished) is replayed; the
		// waiting one is not, and its pool asks the new head for a lease.
		t.Fatalf("after the reconnect: %v then lease %s", kinds(passed), e.id.Short())
	}
	s2.none(t, "submit", waiting.ID, 50*time.Millisecond)
}

// linkForgotten waits until the actor route holds no link to actor.
func linkForgotten(t *testing.T, c *Client, actor ids.ID) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.actors.mu.Lock()
		_, ok := c.actors.links[actor]
		c.actors.mu.Unlock()
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the route still links actor %s after its calls finished", actor.Short())
		}
		time.Sleep(time.Millisecond)
	}
}
