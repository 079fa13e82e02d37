package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/hugepages"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
)

// cli runs the shoal command built by clustertest.BuildShoal in an
// environment of its own: no SHOAL_ variables but those in env, and an
// empty config directory unless env names one.
type cli struct {
	t   *testing.T
	bin string
	env []string
}

func newCLI(t *testing.T, env ...string) *cli {
	t.Helper()
	bin, err := clustertest.BuildShoal()
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"XDG_CONFIG_HOME=" + t.TempDir(), rpc.TokenFileEnv + "=" + filepath.Join(t.TempDir(), "no-token")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SHOAL_") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			base = append(base, kv)
		}
	}
	return &cli{t: t, bin: bin, env: append(base, env...)}
}

// run runs the command and returns its stdout, stderr, error and how long
// it took.
func (c *cli) run(args ...string) (stdout, stderr string, took time.Duration, err error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	return out.String(), errOut.String(), time.Since(start), err
}

// freeAddr is a loopback address where nothing listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// noHeadWithin is how long a command may take to say there is no head:
// generous, as the machine may be busy; without the fast path it takes
// its whole dial timeout or, for a node, 30 s.
const noHeadWithin = 10 * time.Second

func TestRefusedConnectionFailsAtOnce(t *testing.T) {
	addr := freeAddr(t)
	configDir := t.TempDir()
	os.MkdirAll(filepath.Join(configDir, "shoal"), 0o755)
	os.WriteFile(filepath.Join(configDir, "shoal", "config"), []byte("address = "+addr+"\n"), 0o644)
	tests := []struct {
		name string
		env  []string
		args []string
		says []string
	}{
		{name: "status --address", args: []string{"status", "--address", addr},
			says: []string{"shoal: no Shoal head at " + addr + ": start one with `shoal head` or pass --address / SHOAL_ADDRESS"}},
		{name: "job list with SHOAL_ADDRESS", env: []string{"SHOAL_ADDRESS=" + addr}, args: []string{"job", "list"},
			says: []string{"no Shoal head at " + addr + " (from $SHOAL_ADDRESS): start one"}},
		{name: "drain with the config file's address", env: []string{"XDG_CONFIG_HOME=" + configDir}, args: []string{"drain", "3f2a"},
			says: []string{"no Shoal head at " + addr + " (from " + filepath.Join(configDir, "shoal", "config") + ")"}},
		{name: "node without a token", args: []string{"node", "--head", addr, "--cpus", "1"},
			says: []string{"shoal: no Shoal head at " + addr + ": start one with `shoal head` or pass --head / SHOAL_ADDRESS"}},
		{name: "node", env: []string{rpc.TokenEnv + "=t0k3n"}, args: []string{"node", "--head", addr, "--cpus", "1"},
			says: []string{"joining the cluster at " + addr + ": no Shoal head at " + addr + ": start one with `shoal head` or pass --head / SHOAL_ADDRESS"}},
	}
	c := newCLI(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &cli{t: t, bin: c.bin, env: append(append([]string(nil), c.env...), tc.env...)}
			out, errOut, took, err := c.run(tc.args...)
			if err == nil {
				t.Fatalf("succeeded with nothing at %s:\n%s", addr, out)
			}
			for _, s := range tc.says {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr does not say %q:\n%s", s, errOut)
				}
			}
			if strings.Contains(errOut, "shoal: shoal:") {
				t.Errorf("doubled prefix:\n%s", errOut)
			}
			if took > noHeadWithin {
				t.Errorf("took %v to fail; want well under %v", took, noHeadWithin)
			}
		})
	}
}

func TestSomethingElseIsNotAHead(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }))
	defer web.Close()
	// A listener that never accepts: the kernel completes the connection,
	// and nothing is ever said on it.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	webAddr := strings.TrimPrefix(web.URL, "http://")
	c := newCLI(t, rpc.TokenEnv+"=t0k3n")
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"status", "--address", webAddr}, webAddr + " is not a Shoal head: it answered as an HTTP/1 server"},
		{[]string{"node", "--cpus", "1", "--head", webAddr}, webAddr + " is not a Shoal head"},
		{[]string{"status", "--address", silent.Addr().String()}, silent.Addr().String() + " is not a Shoal head: it accepted the connection but sent nothing"},
	} {
		out, errOut, took, err := c.run(tc.args...)
		if err == nil || !strings.Contains(errOut, tc.says) || took > noHeadWithin {
			t.Errorf("shoal %s: %v after %v; want a failure within %v saying %q\n%s%s", strings.Join(tc.args, " "), err, took, noHeadWithin, tc.says, out, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	out, errOut, _, err := newCLI(t).run("--version")
	if err != nil || !regexp.MustCompile(`^shoal \S+, go1\.\S+ \w+/\w+\n(revision [0-9a-f]{12}|revision unknown)`).MatchString(out) {
		t.Fatalf("shoal --version: %v\n%s%s", err, out, errOut)
	}
}

// abbrevColumn finds the node IDs in the first column of status's table.
var abbrevColumn = regexp.MustCompile(`(?m)^([0-9a-f]{12})\s+(alive|dead)\s`)

func TestNodeIDsShownOneWayAndTakenByPrefix(t *testing.T) {
	bin, err := clustertest.BuildShoal()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := clustertest.Start(ctx, clustertest.Options{Binary: bin, Nodes: 2, NodeArgs: []string{"--cpus", "1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Stop()
	c := newCLI(t, "SHOAL_ADDRESS="+cl.HeadAddr, rpc.TokenFileEnv+"="+cl.TokenFile)

	st, err := cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var whole []ids.ID
	for _, n := range st.Nodes {
		id, _ := ids.FromBytes("node id", n.NodeId)
		whole = append(whole, id)
	}
	// One form everywhere: status's table, the node's startup line and
	// log, the head's log.
	out, errOut, _, err := c.run("status")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, errOut)
	}
	shown := abbrevColumn.FindAllStringSubmatch(out, -1)
	if len(shown) != 2 {
		t.Fatalf("status shows %d node IDs, want 2:\n%s", len(shown), out)
	}
	for _, id := range whole {
		if !strings.Contains(out, id.Abbrev()+"  alive") {
			t.Errorf("status does not show node %s as %s:\n%s", id, id.Abbrev(), out)
		}
		p := cl.NodeProc(id.String())
		if p == nil {
			t.Fatalf("no process printed \"shoal node %s joined\"", id.Abbrev())
		}
		if !strings.Contains(p.Output(), "node="+id.Abbrev()) || !strings.Contains(cl.Head.Output(), "node="+id.Abbrev()) {
			t.Errorf("the logs do not name node %s as %s:\nnode:\n%s\nhead:\n%s", id, id.Abbrev(), p.Output(), cl.Head.Output())
		}
	}
	if !strings.Contains(out, "drivers connected: 0") {
		t.Errorf("status does not say what it counts:\n%s", out)
	}

	// A prefix of none, and of one: the shortest that tells the two apart.
	if _, errOut, _, err := c.run("drain", "--deadline", "5s", strings.Repeat("0", 11)+"x"); err == nil || !strings.Contains(errOut, "is not a node ID or a prefix") {
		t.Errorf("drain of a non-hex prefix: %v\n%s", err, errOut)
	}
	a, b := whole[0].String(), whole[1].String()
	common := 0
	for a[common] == b[common] {
		common++
	}
	var none string
	for _, d := range "0123456789abcdef" {
		if !strings.HasPrefix(a, a[:common]+string(d)) && !strings.HasPrefix(b, a[:common]+string(d)) {
			none = a[:common] + string(d)
			break
		}
	}
	if _, errOut, _, err := c.run("drain", none); err == nil || !strings.Contains(errOut, `no node has an ID starting with "`+none+`"`) {
		t.Errorf("drain %s (no such node): %v\n%s", none, err, errOut)
	}
	victim := whole[0]
	prefix := a[:common+1]
	out, errOut, _, err = c.run("drain", "--deadline", "5s", prefix)
	if err != nil || !strings.Contains(out, "drained node "+victim.Abbrev()) {
		t.Fatalf("drain %s (node %s): %v\n%s%s", prefix, victim, err, out, errOut)
	}
	if err := cl.WaitNodes(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

// The data commands fill their heap ahead; the control plane does not.
func TestHeapOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		fill bool
	}{
		{[]string{"sql", "--data", "d"}, true},
		{[]string{"tpch", "run"}, true},
		{[]string{"head"}, false},
		{[]string{"node", "--address", "x"}, false},
		{[]string{"bench", "tasks"}, false},
		{nil, false},
	} {
		opts := heapOptions(tc.args)
		if opts.FillAhead != tc.fill || opts.Reserve != hugepages.Tool().Reserve {
			t.Errorf("heapOptions(%q) = %+v, want FillAhead %v and the tools' reserve", tc.args, opts, tc.fill)
		}
	}
}
