package shoal_test

import (
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/testwait"
)

// Job credentials, end to end on a real cluster (a `shoal head` and two
// `shoal node` processes): jobs submitted with `shoal job submit` get their
// own job's credential, never the cluster token, in their driver's and
// executors' environment. With it, job A's driver is refused stopping job B,
// draining a node and downloading job B's package, while its own work runs:
// tasks on both nodes, an object made on one node and read on the other and
// by the driver, an actor called directly from the driver and from a task,
// and a call on job B's named actor (through the head: B's executor serves
// B's processes only).
func TestJobCredentialsScopeSubmittedJobs(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "2")
	tmp := t.TempDir()
	probe := filepath.Join(tmp, "scopeprobe")
	if b, err := exec.Command("go", "build", "-o", probe, "./testdata/scopeprobe").CombinedOutput(); err != nil {
		t.Fatalf("building scopeprobe: %v\n%s", err, b)
	}
	wd := filepath.Join(tmp, "wd")
	os.MkdirAll(wd, 0o755)

	out, errOut, err := shoalCmd(t, c, "job", "submit", "--no-wait", "--working-dir", wd, "--env", "SECRET=of-job-b", "--", probe, "-serve", "job-b-counter")
	if err != nil {
		t.Fatalf("submitting job B: %v\n%s", err, errOut)
	}
	jobB, err := ids.Parse(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("job B's ID %q: %v", out, err)
	}
	admin, err := rpc.Dial(context.Background(), c.HeadAddr, c.Token, 0, rpc.TLSConfig{}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	head := pb.NewHeadClient(admin)
	ctx := within(t, context.Background(), 3*time.Minute)
	b, err := head.GetJob(ctx, &pb.GetJobRequest{JobId: jobB.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	// Job B is up when its named actor is.
	testwait.Within(t, time.Minute, "job B to serve its actor", func() bool {
		logs, _, err := shoalCmd(t, c, "job", "logs", jobB.String())
		return err == nil && strings.Contains(logs, "serving")
	})
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nodeID := hex.EncodeToString(st.Nodes[0].NodeId)

	out, errOut, err = shoalCmd(t, c, "job", "submit", "--working-dir", wd, "--env", "SECRET=of-job-a", "--", probe,
		"-other-job", jobB.String(), "-other-package", b.PackageHash, "-node", nodeID, "-other-actor", "job-b-counter")
	if err != nil {
		t.Fatalf("job A: %v\n%s\n%s", err, out, errOut)
	}
	jobA := driverJob(t, out)
	if !strings.Contains(errOut, "job "+jobA.Abbrev()+" ") {
		t.Fatalf("job A's driver says it is job %s; the submit said:\n%s", jobA, errOut)
	}
	if a, err := head.GetJob(ctx, &pb.GetJobRequest{JobId: jobA.Bytes()}); err != nil || a.PackageHash == b.PackageHash {
		t.Fatalf("jobs A and B share package %s (%v): B's would be A's own", b.PackageHash, err)
	}
	credA, credB := credential.ForJob(c.Token, jobA), credential.ForJob(c.Token, jobB)
	if strings.Contains(out, c.Token) {
		t.Fatalf("the cluster token reached job A's processes:\n%s", out)
	}
	for _, want := range []string{
		// refused, each saying why
		"stop-other: PermissionDenied: ",
		"stopping job " + jobB.Abbrev() + " is refused: this credential is scoped to job " + jobA.Abbrev(),
		"drain: PermissionDenied: ",
		"calling Drain is refused",
		"download-other bytes=0: PermissionDenied: ",
		"reading package " + b.PackageHash[:12] + " (not its job's) is refused",
		// its own credential everywhere: the driver and an executor on each node
		"driver-env job=" + jobA.String() + " token=" + credA + ` tokenfile=""`,
		"executor-env node=" + hex.EncodeToString(st.Nodes[0].NodeId) + " token=" + credA + ` tokenfile=""`,
		"executor-env node=" + hex.EncodeToString(st.Nodes[1].NodeId) + " token=" + credA + ` tokenfile=""`,
		// its own work
		"len=4194304 sum=12582912",
		"object-in-driver len=4194304",
		"driver-calls n=20 ",
		"task-call n=30 ",
		// job B's actor, through the head
		"other-actor n=5 direct=0",
		"done",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("job A's output lacks %q", want)
		}
	}
	// (made on one node, read on the other: which is which is the probe's
	// order of the nodes, not necessarily this status's)
	both := []string{hex.EncodeToString(st.Nodes[0].NodeId), hex.EncodeToString(st.Nodes[1].NodeId)}
	if m := regexp.MustCompile(`object-across-nodes made=(\w+) node=(\w+) `).FindStringSubmatch(out); m == nil || m[1] == m[2] ||
		!slices.Contains(both, m[1]) || !slices.Contains(both, m[2]) {
		t.Errorf("the object was not read on the other node: %v (nodes %v)", m, both)
	}
	// The direct calls went direct: from the driver and from a task.
	for _, re := range []string{`driver-calls n=20 direct=([1-9]\d*)`, `task-call n=30 direct=([1-9]\d*)`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("job A's output lacks %s: its direct calls went through the head", re)
		}
	}
	if t.Failed() {
		t.Fatalf("job A's output:\n%s\n%s", out, errOut)
	}
	// Job B ran on, untouched, with its own credential; the operator
	// stops it.
	if b, err = head.GetJob(ctx, &pb.GetJobRequest{JobId: jobB.Bytes()}); err != nil || b.State != pb.JobState_JOB_STATE_RUNNING {
		t.Fatalf("job B after job A's attempts: %v, %v", b, err)
	}
	logsB, _, err := shoalCmd(t, c, "job", "logs", jobB.String())
	if err != nil || !strings.Contains(logsB, "driver-env job="+jobB.String()+" token="+credB+` tokenfile=""`) {
		t.Fatalf("job B's driver does not hold job B's credential: %v\n%s", err, logsB)
	}
	if _, errOut, err := shoalCmd(t, c, "job", "stop", jobB.String()); err != nil {
		t.Fatalf("the operator stopping job B: %v\n%s", err, errOut)
	}
}

// driverJob reads the job ID a scopeprobe driver reports.
func driverJob(t *testing.T, out string) ids.ID {
	t.Helper()
	m := regexp.MustCompile(`driver-env job=([0-9a-f]{32}) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no job ID in the driver's output:\n%s", out)
	}
	id, err := ids.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return id
}
