package shoal_test

import (
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/clustertest"
)

// buildProbe builds testdata/jobprobe with a version stamped in.
func buildProbe(t *testing.T, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "jobprobe-"+version)
	cmd := exec.Command("go", "build", "-o", out, "-ldflags", "-X main.version="+version, "./testdata/jobprobe")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building jobprobe: %v\n%s", err, b)
	}
	return out
}

// shoalCmd runs the shoal CLI against cluster c and returns its stdout and
// stderr.
func shoalCmd(t *testing.T, c *clustertest.Cluster, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{args[0], args[1], "--address", c.HeadAddr, "--token-file", c.TokenFile}, args[2:]...)
	cmd := exec.CommandContext(ctx, mustBinary(t), full...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func TestJobSubmitShipsCodeAndFiles(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "2")
	tmp := t.TempDir()
	probeA, probeB := buildProbe(t, tmp, "A"), buildProbe(t, tmp, "B")
	wd := filepath.Join(tmp, "wd")
	os.MkdirAll(filepath.Join(wd, ".git"), 0o755)
	os.WriteFile(filepath.Join(wd, "data.txt"), []byte("hello from the working directory\n"), 0o644)
	os.WriteFile(filepath.Join(wd, ".git", "HEAD"), []byte("not shipped"), 0o644)

	out, errOut, err := shoalCmd(t, c, "job", "submit", "--working-dir", wd, "--env", "PROBE_ENV=set", "--", probeA, "-file", "data.txt")
	if err != nil {
		t.Fatalf("submit: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "driver version=A nodes=2") || strings.Count(out, "version=A env=set file=hello from the working directory") != 2 {
		t.Fatalf("the job did not read its files on every node:\n%s\n%s", out, errOut)
	}
	// The node that ran the driver fetched the package from the head; the
	// other fetched it from that node.
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var fromHead, fromPeer int
	for _, e := range st.Events {
		fromHead += strings.Count(e, "fetched from the head")
		fromPeer += strings.Count(e, "fetched from peer")
	}
	if fromHead != 1 || fromPeer != 1 {
		t.Fatalf("package fetches: %d from the head, %d from a peer; want 1 and 1. Events:\n%s", fromHead, fromPeer, strings.Join(st.Events, "\n"))
	}
	// The same content again: nothing is uploaded.
	out, errOut, err = shoalCmd(t, c, "job", "submit", "--working-dir", wd, "--env", "PROBE_ENV=set", "--", probeA, "-file", "data.txt")
	if err != nil || !strings.Contains(errOut, "unchanged: nothing uploaded") {
		t.Fatalf("second submit: %v\n%s\n%s", err, out, errOut)
	}
	// Two jobs with different binaries side by side each see their own code.
	idA, errA, err := shoalCmd(t, c, "job", "submit", "--no-wait", "--working-dir", wd, "--", probeA)
	if err != nil {
		t.Fatalf("submit A: %v\n%s", err, errA)
	}
	idB, errB, err := shoalCmd(t, c, "job", "submit", "--no-wait", "--working-dir", wd, "--", probeB)
	if err != nil {
		t.Fatalf("submit B: %v\n%s", err, errB)
	}
	for id, v := range map[string]string{strings.TrimSpace(idA): "A", strings.TrimSpace(idB): "B"} {
		logs, errOut, err := shoalCmd(t, c, "job", "logs", "--follow", id)
		if err != nil || !strings.Contains(logs, "driver version="+v) || strings.Count(logs, "version="+v+" env=") != 2 || strings.Contains(logs, "version="+map[string]string{"A": "B", "B": "A"}[v]) {
			t.Fatalf("job %s (%s): %v\n%s\n%s", id, v, err, logs, errOut)
		}
		status, _, err := shoalCmd(t, c, "job", "status", id)
		if err != nil || !strings.Contains(status, "succeeded") {
			t.Fatalf("status of %s: %v\n%s", id, err, status)
		}
	}
	// Its executors' output, kept by each node, by a prefix of its ID.
	id := strings.TrimSpace(idA)
	logs, errOut, err := shoalCmd(t, c, "logs", id[:8], "--tail", "1MiB")
	if err != nil || strings.Count(logs, "==> job "+id[:12]+", node ") != 2 || strings.Count(logs, "version=A\n") != 4 ||
		strings.Count(logs, "more bytes of this line cut]") != 2 || strings.Contains(logs, "version=B") {
		t.Fatalf("shoal logs %s: %v\n%.3000s\n%s", id[:8], err, logs, errOut)
	}
	for _, n := range st.Nodes {
		node := hex.EncodeToString(n.NodeId)
		logs, errOut, err := shoalCmd(t, c, "logs", id, "--node", node[:6], "--tail", "1KiB")
		if err != nil || strings.Count(logs, "==> job ") != 1 || !strings.Contains(logs, "probe stderr after the long line node="+node+" version=A") ||
			!strings.Contains(logs, "earlier bytes; --tail prints more]") || len(logs) > 2<<10 {
			t.Fatalf("shoal logs --node %s: %v\n%.3000s\n%s", node[:6], err, logs, errOut)
		}
	}
	if _, errOut, err := shoalCmd(t, c, "logs", "zz"); err == nil || !strings.Contains(errOut, "not a job ID or a prefix of one") {
		t.Fatalf("shoal logs with a bad ID: %v\n%s", err, errOut)
	}
	list, _, err := shoalCmd(t, c, "job", "list")
	if err != nil || strings.Count(list, "succeeded") != 4 {
		t.Fatalf("job list: %v\n%s", err, list)
	}
	// A failing job reports its exit code.
	out, errOut, err = shoalCmd(t, c, "job", "submit", "--working-dir", wd, "--", probeA, "-file", "missing.txt")
	if err == nil || !strings.Contains(errOut, "failed") || !strings.Contains(out+errOut, "missing.txt") {
		t.Fatalf("failing job: %v\n%s\n%s", err, out, errOut)
	}
}

func TestJobSubmitOverLimitSaysWhy(t *testing.T) {
	c := startCluster(t, 1, "--cpus", "1")
	tmp := t.TempDir()
	probe := buildProbe(t, tmp, "A")
	wd := filepath.Join(tmp, "wd")
	os.MkdirAll(wd, 0o755)
	os.WriteFile(filepath.Join(wd, "big.bin"), make([]byte, 3<<20), 0o644)
	_, errOut, err := shoalCmd(t, c, "job", "submit", "--package-limit", "1MiB", "--working-dir", wd, "--", probe)
	if err == nil {
		t.Fatal("an over-limit package was submitted")
	}
	for _, want := range []string{"big.bin", "--exclude", "--package-limit"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error lacks %q:\n%s", want, errOut)
		}
	}
}
