package rpc

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	envpb "github.com/shoal-dev/shoal/runtimeenv/pb"
)

// countingListener counts the bytes its connections read.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

type jobServer struct {
	pb.UnimplementedHeadServer
	calls atomic.Int64
}

func (s *jobServer) SubmitJob(context.Context, *pb.SubmitJobRequest) (*pb.SubmittedJob, error) {
	s.calls.Add(1)
	return &pb.SubmittedJob{}, nil
}

// A call without the token is refused on its headers: the server reads
// (about) the flow-control window of its 48 MiB body, not all of it, and
// the handler never runs; with the token the whole body is read.
func TestTokenCheckedBeforeTheBody(t *testing.T) {
	opts, err := ServerOptions("s3cret", HeadAccess, 0, TLSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	js := &jobServer{}
	pb.RegisterHeadServer(srv, js)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	go srv.Serve(countingListener{ln, &read})
	defer srv.Stop()
	big := &pb.SubmitJobRequest{Args: []string{string(make([]byte, 48<<20))}}
	call := func(token string) error {
		dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		if token != "" {
			dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(tokenCreds{token: token}))
		}
		conn, err := grpc.NewClient(ln.Addr().String(), dialOpts...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = pb.NewHeadClient(conn).SubmitJob(ctx, big)
		return err
	}
	// (a job's credential is refused SubmitJob on the headers too)
	jobCred := credential.ForJob("s3cret", ids.Random())
	for bad, code := range map[string]codes.Code{"": codes.Unauthenticated, "wrong": codes.Unauthenticated, jobCred: codes.PermissionDenied} {
		read.Store(0)
		err := call(bad)
		if status.Code(err) != code {
			t.Fatalf("token %q: got %v, want %v", bad, err, code)
		}
		if n := read.Load(); n > 24<<20 {
			t.Errorf("token %q: the server read %d bytes of a refused call's 48 MiB", bad, n)
		}
	}
	if js.calls.Load() != 0 {
		t.Fatal("the handler ran for a call without the token")
	}
	read.Store(0)
	if err := call("s3cret"); err != nil {
		t.Fatal(err)
	}
	if n := read.Load(); n < 48<<20 || js.calls.Load() != 1 {
		t.Fatalf("with the token: read %d bytes, %d calls", n, js.calls.Load())
	}
}

func TestCheckTokenStrength(t *testing.T) {
	for _, tc := range []struct {
		token string
		ok    bool
		says  string
	}{
		{"", false, "openssl rand -hex 32"}, {"short", false, "openssl rand -hex 32"}, {"fifteen-chars!!", false, "openssl rand -hex 32"},
		{"sixteen-chars!!!", true, ""}, {NewToken(), true, ""},
		// (a job credential given as the cluster token: it would be
		// taken for one wherever it is presented)
		{credential.ForJob(NewToken(), ids.Random()), false, "job's credential"},
	} {
		err := CheckTokenStrength(tc.token, "--token")
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.token, err)
		}
		if err != nil && (!strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "--token")) {
			t.Errorf("%q: the error does not say %q or where the token came from: %v", tc.token, tc.says, err)
		}
	}
}

// Every method of the services the head serves is in its access table: a
// new method is a decision to make, not a default to inherit.
func TestHeadAccessListsEveryMethod(t *testing.T) {
	for _, sd := range []grpc.ServiceDesc{pb.Head_ServiceDesc, envpb.Packages_ServiceDesc} {
		var names []string
		for _, m := range sd.Methods {
			names = append(names, m.MethodName)
		}
		for _, st := range sd.Streams {
			names = append(names, st.StreamName)
		}
		for _, name := range names {
			if _, ok := HeadAccess["/"+sd.ServiceName+"/"+name]; !ok {
				t.Errorf("%s.%s is not in HeadAccess: decide whether a job's credential may call it", sd.ServiceName, name)
			}
		}
	}
}

// principalServer records the principal each call's handler saw.
type principalServer struct {
	pb.UnimplementedHeadServer
	mu   sync.Mutex
	seen map[string]credential.Principal
}

func (s *principalServer) saw(ctx context.Context, method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[method] = credential.FromContext(ctx)
}

func (s *principalServer) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusReply, error) {
	s.saw(ctx, "Status")
	return &pb.StatusReply{}, nil
}

func (s *principalServer) Drain(ctx context.Context, _ *pb.DrainRequest) (*pb.DrainReply, error) {
	s.saw(ctx, "Drain")
	return &pb.DrainReply{}, nil
}

func (s *principalServer) Session(ss grpc.BidiStreamingServer[pb.ClientMessage, pb.HeadMessage]) error {
	s.saw(ss.Context(), "Session")
	return nil
}

// A job's credential is admitted to what the access table allows, with
// its job as the principal the handler sees; refused (PermissionDenied,
// saying why) what it does not, before the handler runs; and refused
// everything on a server without a table (a node's package server).
func TestJobCredentialsAreAuthorizedByTable(t *testing.T) {
	const token = "cluster-s3cret-token"
	job := ids.Random()
	jobCred := credential.ForJob(token, job)
	start := func(access map[string]Access) (*principalServer, string) {
		opts, err := ServerOptions(token, access, 0, TLSConfig{})
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(opts...)
		ps := &principalServer{seen: map[string]credential.Principal{}}
		pb.RegisterHeadServer(srv, ps)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(srv.Stop)
		return ps, ln.Addr().String()
	}
	head, headAddr := start(HeadAccess)
	_, nodeAddr := start(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name, addr, token, method string
		want                      codes.Code
		principal                 credential.Principal
	}{
		{name: "cluster drains", addr: headAddr, token: token, method: "Drain", principal: credential.Cluster},
		{name: "job asks the status", addr: headAddr, token: jobCred, method: "Status", principal: credential.Job(job)},
		{name: "job opens a session", addr: headAddr, token: jobCred, method: "Session", principal: credential.Job(job)},
		{name: "job drains", addr: headAddr, token: jobCred, method: "Drain", want: codes.PermissionDenied},
		{name: "another cluster's job", addr: headAddr, token: credential.ForJob("another token!!!", job), method: "Status", want: codes.Unauthenticated},
		{name: "job on a server with no table", addr: nodeAddr, token: jobCred, method: "Status", want: codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := grpc.NewClient(tc.addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(tokenCreds{token: tc.token}))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c := pb.NewHeadClient(conn)
			head.mu.Lock()
			delete(head.seen, tc.method)
			head.mu.Unlock()
			switch tc.method {
			case "Drain":
				_, err = c.Drain(ctx, &pb.DrainRequest{})
			case "Status":
				_, err = c.Status(ctx, &pb.StatusRequest{})
			case "Session":
				var s grpc.BidiStreamingClient[pb.ClientMessage, pb.HeadMessage]
				if s, err = c.Session(ctx); err == nil {
					_, err = s.Recv()
					if err == io.EOF {
						err = nil
					}
				}
			}
			if status.Code(err) != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			head.mu.Lock()
			p, ran := head.seen[tc.method]
			head.mu.Unlock()
			if tc.want != codes.OK {
				if tc.addr == headAddr && ran {
					t.Fatal("the handler ran for a refused call")
				}
				if tc.want == codes.PermissionDenied {
					e := errs.FromStatus(err)
					if !errors.Is(e, errs.ErrPermissionDenied) || !strings.Contains(e.Error(), "calling "+tc.method+" is refused") ||
						!strings.Contains(e.Error(), "scoped to job "+job.Abbrev()) || !strings.Contains(e.Error(), "cluster token") {
						t.Fatalf("the refusal does not say what was refused, the job and what to use: %v", e)
					}
				}
				return
			}
			if !ran || p != tc.principal {
				t.Fatalf("the handler saw principal %v (ran: %v), want %v", p, ran, tc.principal)
			}
		})
	}
}
