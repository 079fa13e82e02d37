package node

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

func TestExitCause(t *testing.T) {
	panicReport := "panic: boom in a goroutine\n\ngoroutine 7 [running]:\nmain.crash.func1()\n\t/src/main.go:12 +0x25\nexit status 2"
	for _, tc := range []struct {
		name    string
		err     error
		output  string
		want    []string
		notWant []string
	}{
		{"os.Exit, no output", errors.New("exit status 3"), "", []string{"exit status 3", "no output"}, nil},
		{"panic after log lines", errors.New("exit status 2"), "time=… level=WARN msg=earlier\n" + panicReport,
			[]string{"exit status 2: panic: boom in a goroutine", "goroutine 7 [running]"}, []string{"earlier"}},
		{"fatal error", errors.New("exit status 2"), "fatal error: concurrent map writes\n\ngoroutine 1 [running]:",
			[]string{"exit status 2: fatal error: concurrent map writes"}, nil},
		{"killed, plain output", errors.New("signal: killed"), "line 1\nline 2",
			[]string{"signal: killed; its last output:", "line 2"}, nil},
		{"long output is cut", errors.New("exit status 1"), strings.Repeat("x", 10<<10),
			[]string{"exit status 1; its last output:\n[…]"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := exitCause(tc.err, tc.output)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("exitCause = %q, want it to hold %q", got, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("exitCause = %q, holds %q", got, w)
				}
			}
			if len(got) > 5<<10 {
				t.Errorf("exitCause is %d bytes long", len(got))
			}
		})
	}
}

// A job's process gets its job's credential in place of every token the
// node's environment held; a derived job's executors get its root's.
func TestJobProcessesGetTheirCredential(t *testing.T) {
	const cluster = "cluster-token-of-the-node"
	n := &Node{cfg: Config{Token: cluster}}
	root, derived := ids.Random(), ids.Random()
	inherited := []string{"PATH=/bin", rpc.TokenEnv + "=" + cluster, rpc.TokenFileEnv + "=/home/op/.shoal/token", "APP=1", rpc.TokenEnv + "=set-by-the-job"}
	for _, tc := range []struct {
		name string
		job  *pb.JobInfo
		id   ids.ID
		want ids.ID
	}{
		{"a root job", &pb.JobInfo{JobId: root.Bytes()}, root, root},
		{"a derived job", &pb.JobInfo{JobId: derived.Bytes(), RootJobId: root.Bytes()}, derived, root},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := n.withCredential(slices.Clone(inherited), credentialJob(tc.job, tc.id))
			want := []string{"PATH=/bin", "APP=1", rpc.TokenEnv + "=" + credential.ForJob(cluster, tc.want)}
			if !slices.Equal(env, want) {
				t.Fatalf("environment %q, want %q", env, want)
			}
			if strings.Contains(strings.Join(env, "\n"), cluster) {
				t.Fatal("the cluster token is in a job's environment")
			}
		})
	}
}
