package client

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// silentNode accepts data-plane connections and never answers, as a
// frozen process whose kernel still accepts TCP does; closed receives
// when a client hangs one up.
func silentNode(t *testing.T) (addr string, accepted, closed <-chan struct{}) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch, hungUp := make(chan struct{}, 16), make(chan struct{}, 16)
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			ch <- struct{}{}
			go func() {
				io.Copy(io.Discard, c)
				hungUp <- struct{}{}
			}()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return lis.Addr().String(), ch, hungUp
}

// A read fetching the only copy of an object from a silent node stops
// when the head says the object is being rebuilt, and reads the new copy
// when it is ready: it never waits out the silent node's timeouts (set to
// a minute here, beyond the test's bound).
func TestReadLeavesASilentCopyOnNewsOfItsRebuild(t *testing.T) {
	for _, name := range []string{"rebuilding then ready", "ready elsewhere"} {
		t.Run(name, func(t *testing.T) {
			h := newFakeHead(t)
			c, s := newTestClient(t, h)
			c.data.DialTimeout, c.data.ReadTimeout = wait*12, wait*12
			addr, accepted, closed := silentNode(t)
			r := c.Submit(context.Background(), task("make"), false)
			s.want(t, "submit", r.ID)
			s.tell(&pb.HeadMessage{Objects: []*pb.ObjectStatus{{Id: r.ID.Bytes(), State: pb.ObjectState_OBJECT_STATE_READY, Size: 5,
				Locations: []*pb.Location{{NodeId: ids.Random().Bytes(), DataAddr: addr}}}}})
			readyWithin(t, r)
			got := make(chan string, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				defer cancel()
				b, err := c.Bytes(ctx, r)
				if err != nil {
					got <- err.Error()
					return
				}
				got <- string(b)
			}()
			within(t, accepted, "the read to connect to the node holding the copy")
			if name == "rebuilding then ready" {
				s.tell(&pb.HeadMessage{Objects: []*pb.ObjectStatus{{Id: r.ID.Bytes(), State: pb.ObjectState_OBJECT_STATE_REBUILDING}}})
				within(t, closed, "the read to hang up on the lost copy")
			}
			s.ready(r.ID, []byte("fresh"))
			if v := <-got; v != "fresh" {
				t.Fatalf("read %q, want the rebuilt value", v)
			}
		})
	}
}

func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// A read waiting for a rebuild that the head forgot (it restarted and
// never hears of the object again) does not wait for ever: after a while
// without news it asks the head, which says the object is gone.
func TestReadWaitingForARebuildAsksTheHead(t *testing.T) {
	h := newFakeHead(t)
	h.objectInfo = func(req *pb.ObjectInfoRequest) *pb.ObjectStatus {
		return &pb.ObjectStatus{Id: req.Id, State: pb.ObjectState_OBJECT_STATE_FAILED,
			Error: &pb.ErrorInfo{Kind: pb.ErrorKind_ERROR_KIND_OBJECT_LOST, Message: "object was released by everything that referenced it"}}
	}
	c, s := newTestClient(t, h)
	r := rebuilding(t, c, s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*refetchWait)
	defer cancel()
	_, err := c.Bytes(ctx, r)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "released by everything") {
		t.Fatalf("read of an object whose rebuild the head forgot: %v (context: %v)", err, ctx.Err())
	}
}

// rebuilding is the result of a task, 5 bytes on a node that died, which
// the head is making again.
func rebuilding(t *testing.T, c *Client, s *fakeSession) *Ref {
	t.Helper()
	r := c.Submit(context.Background(), task("make"), false)
	s.want(t, "submit", r.ID)
	s.tell(&pb.HeadMessage{Objects: []*pb.ObjectStatus{{Id: r.ID.Bytes(), State: pb.ObjectState_OBJECT_STATE_READY, Size: 5,
		Locations: []*pb.Location{{NodeId: ids.Random().Bytes(), DataAddr: "127.0.0.1:1"}}}}})
	readyWithin(t, r)
	s.tell(&pb.HeadMessage{Objects: []*pb.ObjectStatus{{Id: r.ID.Bytes(), State: pb.ObjectState_OBJECT_STATE_REBUILDING}}})
	waitUntilRebuilding(t, r)
	return r
}

func waitUntilRebuilding(t *testing.T, r *Ref) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		r.mu.Lock()
		rebuilding := r.rebuilding
		r.mu.Unlock()
		if rebuilding {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the client never took the news of the rebuild")
		}
		time.Sleep(time.Millisecond)
	}
}

// A task reading an object its lineage is making again reports itself
// blocked while it waits, and resumed when the value is there: the tasks
// remaking the object may need the very CPUs of the tasks waiting for it
// (a shuffle's reducers waiting for lost map outputs deadlocked the
// cluster when they held every CPU).
func TestReadWaitingForARebuildGivesBackItsTask(t *testing.T) {
	h := newFakeHead(t)
	events := make(chan bool, 4)
	c, s := newTestClient(t, h, func(cfg *Config) {
		cfg.OnBlock = func(_ ids.ID, blocked bool) { events <- blocked }
	})
	r := rebuilding(t, c, s)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	scope := &TaskScope{ID: ids.Random(), Ctx: ctx}
	got := make(chan error, 1)
	go func() {
		_, release, err := c.ReadRange(WithTask(ctx, scope), r, 1, 3)
		if err == nil {
			release()
		}
		got <- err
	}()
	select {
	case b := <-events:
		if !b {
			t.Fatal("the task was reported resumed before it was reported blocked")
		}
	case err := <-got:
		t.Fatalf("the read ended (%v) before the object was rebuilt", err)
	case <-time.After(wait):
		t.Fatal("a task waiting for a rebuild was never reported blocked")
	}
	s.ready(r.ID, []byte("fresh"))
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-events:
		if b {
			t.Fatal("the task was reported blocked twice")
		}
	default:
		t.Fatal("the task was never reported resumed after its read")
	}
}

// TestBytesAtHand: a ready value at hand is read at once (Bytes' fast
// path), and the fast path leaves a failed, released or unfinished
// reference to the full read: its error, the release's, or a wait.
func TestBytesAtHand(t *testing.T) {
	c := &Client{}
	boom := errors.New("boom")
	tests := []struct {
		name    string
		set     func(r *Ref)
		want    string
		wantErr string
	}{
		{"ready inline", func(r *Ref) { r.finish([]byte("v"), 1, nil, nil) }, "v", ""},
		{"failed", func(r *Ref) { r.finish(nil, 0, nil, boom) }, "", "boom"},
		{"released after it was ready", func(r *Ref) { r.finish([]byte("v"), 1, nil, nil); r.released.Store(true) }, "", "was released"},
		{"not ready", func(r *Ref) {}, "", context.DeadlineExceeded.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Ref{ready: make(chan struct{})}
			tc.set(r)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			got, err := c.Bytes(ctx, r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Bytes: %q, %v; want an error with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Bytes: %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
