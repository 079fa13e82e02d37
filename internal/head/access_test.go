package head

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
	"github.com/shoal-dev/shoal/runtimeenv"
	envpb "github.com/shoal-dev/shoal/runtimeenv/pb"
)

const scopedToken = "the-cluster-token-of-this-head"

// scopedHead is a head serving gRPC on loopback, with a package store, a
// fake node and two jobs submitted from packages of their own.
type scopedHead struct {
	hs   *harness
	addr string
	node *fakeNode
	a, b submitted
}

type submitted struct {
	id   ids.ID
	pkg  *runtimeenv.Package
	cred string
}

func newScopedHead(t *testing.T) *scopedHead {
	t.Helper()
	hs := newHarness(t, Config{Token: scopedToken})
	if err := hs.h.openPackages(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.h.Serve(ln) }()
	t.Cleanup(func() { hs.h.Close(); <-served })
	sh := &scopedHead{hs: hs, addr: ln.Addr().String(), node: hs.addNode(4, scheduler.Resources{})}
	admin := sh.dial(t, scopedToken)
	dir := t.TempDir()
	submit := func(name string) submitted {
		bin := filepath.Join(dir, name)
		if err := os.WriteFile(bin, []byte("the binary of "+name), 0o755); err != nil {
			t.Fatal(err)
		}
		pkg, err := runtimeenv.Pack(context.Background(), runtimeenv.Spec{Binary: bin, Env: []string{"SECRET=" + name}}, runtimeenv.PackOptions{TempDir: dir, Warn: func(string) {}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := within(t, 30*time.Second)
		if _, err := runtimeenv.Upload(ctx, admin, pkg, nil); err != nil {
			t.Fatal(err)
		}
		j, err := pb.NewHeadClient(admin).SubmitJob(ctx, &pb.SubmitJobRequest{Name: name, PackageHash: pkg.Hash})
		if err != nil {
			t.Fatal(err)
		}
		id, err := ids.FromBytes("job id", j.JobId)
		if err != nil {
			t.Fatal(err)
		}
		return submitted{id: id, pkg: pkg, cred: credential.ForJob(scopedToken, id)}
	}
	sh.a, sh.b = submit("a"), submit("b")
	return sh
}

// dial connects to the head with token; the test closes the connection.
func (sh *scopedHead) dial(t *testing.T, token string) *grpc.ClientConn {
	t.Helper()
	conn, err := rpc.Dial(context.Background(), sh.addr, token, 0, rpc.TLSConfig{}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// grpcSession opens a session on conn with hello and returns it and the
// head's answer (its welcome, or the error that refused it).
func grpcSession(t *testing.T, conn *grpc.ClientConn, hello *pb.Hello) (grpc.BidiStreamingClient[pb.ClientMessage, pb.HeadMessage], error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := pb.NewHeadClient(conn).Session(ctx)
	if err != nil {
		return nil, err
	}
	return s, sayHello(t, s, hello)
}

// sayHello sends hello on a new session stream s and returns the head's
// answer: nil for a welcome, or the error that refused it.
func sayHello(t *testing.T, s rpc.ClientStream[pb.ClientMessage, pb.HeadMessage], hello *pb.Hello) error {
	t.Helper()
	if err := s.Send(&pb.ClientMessage{Hello: hello}); err != nil {
		return err
	}
	recvd := make(chan error, 1)
	go func() {
		m, err := s.Recv()
		if err == nil && m.Welcome == nil {
			err = errors.New("the head's first message is no welcome")
		}
		recvd <- err
	}()
	select {
	case err := <-recvd:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no answer to a hello within 10s")
		return nil
	}
}

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// refused checks that err refuses job a's credential what it did, saying
// what, that the credential is a's, and what would do.
func refused(t *testing.T, err error, sh *scopedHead, what string) {
	t.Helper()
	if grpcstatus.Code(err) != codes.PermissionDenied {
		t.Fatalf("%s: got %v, want PermissionDenied", what, err)
	}
	e := errs.FromStatus(err)
	for _, says := range []string{what, "scoped to job " + sh.a.id.Abbrev(), "cluster token"} {
		if !errors.Is(e, errs.ErrPermissionDenied) || !strings.Contains(e.Error(), says) {
			t.Errorf("the refusal %q does not say %q", e, says)
		}
	}
}

// A job's credential cannot stop, read or follow another job, drain a
// node, open a node's session or a session of another job, or read another
// job's package; it can do all of that to its own job, and list only
// itself.
func TestJobCredentialIsScopedToItsJob(t *testing.T) {
	sh := newScopedHead(t)
	conn := sh.dial(t, sh.a.cred)
	head, pkgs := pb.NewHeadClient(conn), envpb.NewPackagesClient(conn)
	ctx := within(t, time.Minute)

	t.Run("another job", func(t *testing.T) {
		_, err := head.StopJob(ctx, &pb.GetJobRequest{JobId: sh.b.id.Bytes()})
		refused(t, err, sh, "stopping job "+sh.b.id.Abbrev())
		_, err = head.GetJob(ctx, &pb.GetJobRequest{JobId: sh.b.id.Bytes()})
		refused(t, err, sh, "reading job "+sh.b.id.Abbrev())
		logs, err := head.JobLogs(ctx, &pb.JobLogsRequest{JobId: sh.b.id.Bytes()})
		if err == nil {
			_, err = logs.Recv()
		}
		refused(t, err, sh, "reading the output of job "+sh.b.id.Abbrev())
		sh.hs.h.mu.Lock()
		state := sh.hs.h.submitted[sh.b.id].info.State
		sh.hs.h.mu.Unlock()
		if state != pb.JobState_JOB_STATE_RUNNING {
			t.Fatalf("job B is %v after job A's refused stop", state)
		}
		list, err := head.ListJobs(ctx, &pb.ListJobsRequest{})
		if err != nil || len(list.Jobs) != 1 || string(list.Jobs[0].JobId) != string(sh.a.id[:]) {
			t.Fatalf("job A lists %v (%v), want itself alone", list.GetJobs(), err)
		}
	})

	t.Run("cluster operations", func(t *testing.T) {
		_, err := head.Drain(ctx, &pb.DrainRequest{NodeId: sh.node.id.Bytes(), DeadlineMs: 1000})
		refused(t, err, sh, "calling Drain")
		sh.hs.h.mu.Lock()
		draining := sh.hs.h.nodes[sh.node.id].draining
		sh.hs.h.mu.Unlock()
		if draining {
			t.Fatal("the node drains after a refused Drain")
		}
		ns, err := head.NodeSession(ctx)
		if err == nil {
			ns.Send(&pb.NodeMessage{Hello: &pb.NodeHello{NodeId: ids.Random().Bytes(), DataAddr: "127.0.0.1:1"}})
			_, err = ns.Recv()
		}
		refused(t, err, sh, "calling NodeSession")
		for _, op := range []struct {
			what string
			call func() error
		}{
			{"calling SubmitJob", func() error {
				_, err := head.SubmitJob(ctx, &pb.SubmitJobRequest{PackageHash: sh.a.pkg.Hash})
				return err
			}},
			{"calling Timeline", func() error { _, err := head.Timeline(ctx, &pb.TimelineRequest{}); return err }},
			{"calling NodeLogs", func() error { _, err := head.NodeLogs(ctx, &pb.NodeLogsRequest{Job: sh.a.id.String()}); return err }},
		} {
			refused(t, op.call(), sh, op.what)
		}
	})

	t.Run("packages", func(t *testing.T) {
		_, err := pkgs.Stat(ctx, &envpb.StatRequest{Hash: sh.b.pkg.Hash})
		refused(t, err, sh, "reading package "+sh.b.pkg.Hash[:12]+" (not its job's) is refused")
		var got bytes.Buffer
		_, err = runtimeenv.Download(ctx, conn, sh.b.pkg.Hash, 0, &got, nil)
		refused(t, err, sh, "reading package "+sh.b.pkg.Hash[:12]+" (not its job's) is refused")
		if got.Len() != 0 {
			t.Fatalf("%d bytes of job B's package reached job A", got.Len())
		}
		up, err := pkgs.Upload(ctx)
		if err == nil {
			up.Send(&envpb.Chunk{Hash: sh.b.pkg.Hash})
			_, err = up.CloseAndRecv()
		}
		refused(t, err, sh, "calling Upload")
		// Its own package it reads whole.
		if st, err := pkgs.Stat(ctx, &envpb.StatRequest{Hash: sh.a.pkg.Hash}); err != nil || !st.Complete {
			t.Fatalf("job A's Stat of its own package: %v, %v", st, err)
		}
		got.Reset()
		if _, err := runtimeenv.Download(ctx, conn, sh.a.pkg.Hash, 0, &got, nil); err != nil || int64(got.Len()) != sh.a.pkg.Size {
			t.Fatalf("job A's download of its own package: %d of %d bytes, %v", got.Len(), sh.a.pkg.Size, err)
		}
	})

	t.Run("sessions", func(t *testing.T) {
		reg := []byte("reg")
		for _, tc := range []struct {
			name, what string
			hello      *pb.Hello
		}{
			{"another job's driver", "a session of job " + sh.b.id.Abbrev(),
				&pb.Hello{Role: pb.Role_ROLE_DRIVER, JobId: sh.b.id.Bytes(), Job: &pb.JobInfo{Name: "b", Registry: reg, PackageHash: sh.b.pkg.Hash}}},
			{"another job's executor", "a session of job " + sh.b.id.Abbrev(),
				&pb.Hello{Role: pb.Role_ROLE_EXECUTOR, JobId: sh.b.id.Bytes(), NodeId: sh.node.id.Bytes(), Registry: reg}},
			{"a job of its own making", "a session of job ",
				&pb.Hello{Role: pb.Role_ROLE_DRIVER, JobId: ids.Random().Bytes(), Job: &pb.JobInfo{Name: "new", Registry: reg}}},
			{"its job from another job's package", "starting job " + sh.a.id.Abbrev() + " from package " + sh.b.pkg.Hash[:12] + " (not its own) is refused",
				&pb.Hello{Role: pb.Role_ROLE_DRIVER, JobId: sh.a.id.Bytes(), Job: &pb.JobInfo{Name: "a", Registry: reg, PackageHash: sh.b.pkg.Hash}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := grpcSession(t, conn, tc.hello)
				refused(t, err, sh, tc.what)
			})
		}
		sh.hs.h.mu.Lock()
		_, bStarted := sh.hs.h.jobs[sh.b.id]
		sh.hs.h.mu.Unlock()
		if bStarted {
			t.Fatal("job A's refused hello started job B")
		}
	})

	t.Run("its own job", func(t *testing.T) {
		if j, err := head.GetJob(ctx, &pb.GetJobRequest{JobId: sh.a.id.Bytes()}); err != nil || j.State != pb.JobState_JOB_STATE_RUNNING {
			t.Fatalf("job A reading itself: %v, %v", j, err)
		}
		if _, err := head.Status(ctx, &pb.StatusRequest{}); err != nil {
			t.Fatalf("job A asking the status: %v", err)
		}
		j, err := head.StopJob(ctx, &pb.GetJobRequest{JobId: sh.a.id.Bytes()})
		if err != nil || j.State != pb.JobState_JOB_STATE_STOPPED {
			t.Fatalf("job A stopping itself: %v, %v", j, err)
		}
		if stop := recv(t, sh.node.stopDrivers, "the node told to stop job A's driver"); string(stop) != string(sh.a.id[:]) {
			t.Fatalf("the node was told to stop driver %x, want job A's", stop)
		}
	})
}

// A job's processes include those of the jobs derived from it (a task's
// environment, an actor's own executor): their executors get the root
// job's credential, which opens their sessions; another job's does not. A
// driver cannot name a root for its job: only the head makes derived jobs.
func TestDerivedJobsShareTheRootsCredential(t *testing.T) {
	sh := newScopedHead(t)
	reg := []byte("reg")
	conn := sh.dial(t, sh.a.cred)
	d, err := grpcSession(t, conn, &pb.Hello{Role: pb.Role_ROLE_DRIVER, JobId: sh.a.id.Bytes(),
		Job: &pb.JobInfo{Name: "a", Registry: reg, PackageHash: sh.a.pkg.Hash, RootJobId: sh.b.id.Bytes()}})
	if err != nil {
		t.Fatal(err)
	}
	task := func(env ...string) *pb.TaskSpec {
		return &pb.TaskSpec{Id: sh.hs.gen.Next().Bytes(), Function: "f", MaxRetries: 3, Resources: &pb.Resources{Cpu: scheduler.Unit}, Env: env}
	}
	if err := d.Send(&pb.ClientMessage{Submit: []*pb.TaskSpec{task(), task("X=1")}}); err != nil {
		t.Fatal(err)
	}
	starts := map[bool]*pb.JobInfo{}
	for range 2 {
		j := recv(t, sh.node.starts, "executor starts")
		starts[string(j.JobId) == string(sh.a.id[:])] = j
	}
	if root := starts[true]; root == nil || len(root.RootJobId) != 0 {
		t.Fatalf("job A's executors start as %v: a driver's hello named their root", root)
	}
	derived := starts[false]
	if derived == nil || string(derived.RootJobId) != string(sh.a.id[:]) {
		t.Fatalf("the derived job's executors start as %v, want job A as their root", derived)
	}
	hello := &pb.Hello{Role: pb.Role_ROLE_EXECUTOR, JobId: derived.JobId, NodeId: sh.node.id.Bytes(), Registry: reg}
	_, err = grpcSession(t, sh.dial(t, sh.b.cred), hello)
	if grpcstatus.Code(err) != codes.PermissionDenied {
		t.Fatalf("job B's credential opened job A's derived executor session: %v", err)
	}
	if _, err := grpcSession(t, conn, hello); err != nil {
		t.Fatalf("job A's credential opening its derived job's executor session: %v", err)
	}
}

// A job's credential from another cluster's token opens nothing.
func TestJobCredentialOfAnotherCluster(t *testing.T) {
	sh := newScopedHead(t)
	conn := sh.dial(t, credential.ForJob("another cluster's token", sh.a.id))
	_, err := pb.NewHeadClient(conn).Status(within(t, 10*time.Second), &pb.StatusRequest{})
	if grpcstatus.Code(err) != codes.Unauthenticated {
		t.Fatalf("got %v, want Unauthenticated", err)
	}
}
