package head

import (
	"errors"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// A session past the head's cap of unfinished work (a client that ignores
// its bound) has the excess refused with ErrTooManyPending, which the head
// keeps nothing of; a task whose result was released before it ended is
// counted until it ends, and its owner hears that it did.
func TestSessionCapRefusesExcessWork(t *testing.T) {
	hs := newHarness(t, Config{MaxPendingTasks: 2})
	d := hs.driver()
	if d.welcome.MaxPendingTasks != 2 {
		t.Fatalf("welcome announces a cap of %d, want 2", d.welcome.MaxPendingTasks)
	}
	// No node yet: the tasks wait at the head.
	a := hs.submit(d, "f")
	b := hs.submit(d, "f")
	c := hs.submit(d, "f")
	st := recv(t, d.objects, "the refusal")
	if ids.ID(st.Id) != c || st.State != pb.ObjectState_OBJECT_STATE_FAILED {
		t.Fatalf("status %v, want the failure of %s", st, c.Short())
	}
	err := errs.FromInfo(st.Error)
	if !errors.Is(err, errs.ErrTooManyPending) || !strings.Contains(err.Error(), "2 tasks and calls that have not finished") {
		t.Fatalf("refusal %q: want ErrTooManyPending naming the cap", err)
	}
	if got := hs.h.Status(); got.TasksByState["refused"] != 1 || got.Objects != 2 {
		t.Fatalf("status: refused %d, objects %d; want 1 and 2 (the refused task left nothing)", got.TasksByState["refused"], got.Objects)
	}

	// Released, a's task still counts until it ends.
	d.stream.Send(&pb.ClientMessage{Release: [][]byte{a.Bytes()}})
	e := hs.submit(d, "f")
	if st := recv(t, d.objects, "the second refusal"); ids.ID(st.Id) != e || st.Error.GetKind() != pb.ErrorKind_ERROR_KIND_TOO_MANY_PENDING {
		t.Fatalf("status %v, want the refusal of %s", st, e.Short())
	}

	n := hs.addNode(2, scheduler.Resources{})
	recv(t, n.starts, "executor start")
	ex := hs.executor(n)
	for range 2 {
		run := recv(t, ex.runs, "a task")
		ex.stream.Send(&pb.ClientMessage{Results: []*pb.TaskResult{{TaskId: run.TaskId, Value: []byte{2, 'v'}}}})
	}
	if id := recv(t, d.releasedDone, "a's end"); ids.ID(id) != a {
		t.Fatalf("released_done names %s, want %s", ids.ID(id).Short(), a.Short())
	}
	if st := recv(t, d.objects, "b ready"); ids.ID(st.Id) != b || st.State != pb.ObjectState_OBJECT_STATE_READY {
		t.Fatalf("status %v, want b ready", st)
	}
	// Below the cap again.
	f := hs.submit(d, "f")
	run := recv(t, ex.runs, "f runs")
	if ids.ID(run.TaskId) != f {
		t.Fatalf("ran %s, want %s", ids.ID(run.TaskId).Short(), f.Short())
	}
}
