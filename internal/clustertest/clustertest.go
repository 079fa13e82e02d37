// Package clustertest starts real multi-process clusters on loopback for
// tests and benchmarks: a `shoal head` process and `shoal node` processes on
// free ports, awaited with deadlines and stopped by pid.
package clustertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/proctree"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// BuildShoal builds the shoal command once per process into a temporary
// directory and returns its path.
func BuildShoal() (string, error) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shoal-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		out := filepath.Join(dir, "shoal")
		cmd := exec.Command("go", "build", "-o", out, "github.com/shoal-dev/shoal/cmd/shoal")
		if b, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("building the shoal command: %v\n%s", err, b)
			return
		}
		buildOnce.path = out
	})
	return buildOnce.path, buildOnce.err
}

// RemoveBuild removes what BuildShoal built (at the end of a test binary's
// run: testmain.Run calls it), so that test runs leave no binaries behind.
func RemoveBuild() {
	buildOnce.Do(func() {}) // (nothing built: nothing to remove, and nothing will be)
	if buildOnce.path != "" {
		os.RemoveAll(filepath.Dir(buildOnce.path))
	}
}

// Options describe a cluster to start.
type Options struct {
	// Binary is the shoal command to run (BuildShoal's, or os.Executable()
	// when the caller is the shoal command itself).
	Binary string
	// Dir holds the token file and logs; a temporary directory if empty.
	Dir string
	// Nodes is how many nodes to start, each with NodeArgs (e.g. "--cpus", "2").
	Nodes    int
	NodeArgs []string
	HeadArgs []string
	// Output receives the processes' output (nil: discarded unless a start
	// fails, when it is part of the error).
	Output io.Writer
	// TLS runs the cluster with TLS: a test CA and a head certificate for
	// 127.0.0.1 are written to Dir (Cluster.TLSCAFile is the CA).
	TLS bool
}

// Cluster is a running head and its nodes.
type Cluster struct {
	opts      Options
	Dir       string
	TokenFile string
	Token     string
	// TLSCAFile is the CA of the head's certificate (Options.TLS; empty
	// otherwise): what nodes and drivers verify the head with.
	TLSCAFile string
	HeadAddr  string
	Head      *Proc
	Nodes     []*Proc
	mu        sync.Mutex
	procs     []*Proc
}

// Proc is one process of the cluster.
type Proc struct {
	Name   string
	Cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	out    strings.Builder
}

// Pid is the process ID.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Output returns what the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Proc) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop sends SIGTERM, and SIGKILL if the process has not exited in 5 s.
func (p *Proc) Stop() {
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.Kill()
	}
}

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Start starts a head and opts.Nodes nodes and waits until every node is a
// live member. On failure everything started is stopped.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	c := &Cluster{opts: opts, Dir: opts.Dir}
	if c.Dir == "" {
		dir, err := os.MkdirTemp("", "shoal-cluster-")
		if err != nil {
			return nil, err
		}
		c.Dir = dir
	}
	c.TokenFile = filepath.Join(c.Dir, "token")
	headArgs := []string{"head", "--listen", "127.0.0.1:0", "--dashboard", "127.0.0.1:0", "--token-file", c.TokenFile}
	if opts.TLS {
		certFile, keyFile, err := c.writeTLSFiles()
		if err != nil {
			c.Stop()
			return nil, err
		}
		headArgs = append(headArgs, "--tls-cert", certFile, "--tls-key", keyFile)
	}
	head, line, err := c.spawn(ctx, "head", "shoal head listening on ", append(headArgs, opts.HeadArgs...)...)
	if err != nil {
		c.Stop()
		return nil, err
	}
	c.Head = head
	c.HeadAddr = strings.TrimSpace(strings.TrimPrefix(line, "shoal head listening on "))
	if c.Token, err = rpc.ResolveToken("", c.TokenFile); err != nil {
		c.Stop()
		return nil, err
	}
	for range opts.Nodes {
		if _, err := c.AddNode(ctx, opts.NodeArgs...); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if err := c.WaitNodes(ctx, opts.Nodes); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// AddNode starts one more node with args and waits until it has joined.
func (c *Cluster) AddNode(ctx context.Context, args ...string) (*Proc, error) {
	nodeArgs := []string{"node", "--head", c.HeadAddr, "--token-file", c.TokenFile}
	if c.TLSCAFile != "" {
		nodeArgs = append(nodeArgs, "--tls-ca", c.TLSCAFile)
	}
	p, _, err := c.spawn(ctx, fmt.Sprintf("node%d", len(c.Nodes)), "shoal node ", append(nodeArgs, args...)...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.Nodes = append(c.Nodes, p)
	c.mu.Unlock()
	return p, nil
}

// spawn starts the shoal binary with args and waits for a line starting
// with ready on its stdout.
func (c *Cluster) spawn(ctx context.Context, name, ready string, args ...string) (*Proc, string, error) {
	cmd := exec.Command(c.opts.Binary, args...)
	cmd.Env = append(os.Environ(), rpc.TokenFileEnv+"="+c.TokenFile)
	// Whatever the processes put in temporary directories (a node's
	// package cache and spill files, its executors' files) goes inside
	// c.Dir, removed by Stop, also when a test killed the process.
	if tmp := filepath.Join(c.Dir, "tmp"); os.MkdirAll(tmp, 0o700) == nil {
		cmd.Env = append(removeEnv(cmd.Env, "TMPDIR"), "TMPDIR="+tmp)
	}
	cmd.Env = removeEnv(cmd.Env, rpc.TokenEnv)
	// Children die with the test process even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, exited: make(chan struct{})}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	lines := make(chan string, 16)
	var pipes sync.WaitGroup
	pipes.Add(2)
	go p.copy(&pipes, stdout, c.opts.Output, lines)
	go p.copy(&pipes, stderr, c.opts.Output, nil)
	go func() {
		pipes.Wait()
		cmd.Wait()
		close(lines)
		close(p.exited)
	}()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return nil, "", fmt.Errorf("%s exited before it was ready:\n%s", name, p.Output())
			}
			if strings.HasPrefix(l, ready) {
				go func() {
					for range lines {
					}
				}()
				return p, l, nil
			}
		case <-deadline.C:
			p.Kill()
			return nil, "", fmt.Errorf("%s was not ready within 60s:\n%s", name, p.Output())
		case <-ctx.Done():
			p.Kill()
			return nil, "", ctx.Err()
		}
	}
}

func (p *Proc) copy(wg *sync.WaitGroup, r io.Reader, out io.Writer, lines chan<- string) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		p.mu.Lock()
		if p.out.Len() < 1<<20 {
			p.out.WriteString(l + "\n")
		}
		p.mu.Unlock()
		if out != nil {
			fmt.Fprintf(out, "[%s] %s\n", p.Name, l)
		}
		if lines != nil {
			select {
			case lines <- l:
			default:
			}
		}
	}
	io.Copy(io.Discard, r)
}

func removeEnv(env []string, key string) []string {
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// Status asks the head for the cluster's status.
func (c *Cluster) Status(ctx context.Context) (*pb.StatusReply, error) {
	conn, err := rpc.Dial(ctx, c.HeadAddr, c.Token, 0, rpc.TLSConfig{CAFile: c.TLSCAFile}, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return client.GRPCHead{Conn: conn}.Status(ctx)
}

// WaitNodes waits until exactly n nodes are alive.
func (c *Cluster) WaitNodes(ctx context.Context, n int) error {
	return c.WaitFor(ctx, 30*time.Second, func(st *pb.StatusReply) bool { return AliveNodes(st) == n },
		fmt.Sprintf("%d live nodes", n))
}

// WaitFor polls the head's status until cond holds or timeout passes.
func (c *Cluster) WaitFor(ctx context.Context, timeout time.Duration, cond func(*pb.StatusReply) bool, what string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *pb.StatusReply
	for {
		st, err := c.Status(ctx)
		if err == nil {
			last = st
			if cond(st) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("waited %v for %s; last status: %v (error %v)", timeout, what, last, err)
			}
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// AliveNodes counts the live nodes in a status report.
func AliveNodes(st *pb.StatusReply) int {
	n := 0
	for _, nd := range st.Nodes {
		if nd.Alive {
			n++
		}
	}
	return n
}

// Stop stops every process (nodes first) and removes a temporary directory.
func (c *Cluster) Stop() {
	c.mu.Lock()
	procs := append([]*Proc(nil), c.procs...)
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
	if c.opts.Dir == "" && c.Dir != "" {
		os.RemoveAll(c.Dir)
	}
}

// OutputTail returns the last n bytes each process printed, under its
// name: what a failed test shows of a cluster it ran quietly.
func (c *Cluster) OutputTail(n int) string {
	c.mu.Lock()
	procs := append([]*Proc(nil), c.procs...)
	c.mu.Unlock()
	var b strings.Builder
	for _, p := range procs {
		out := p.Output()
		if len(out) > n {
			out = "…" + out[len(out)-n:]
		}
		fmt.Fprintf(&b, "--- %s (pid %d):\n%s\n", p.Name, p.Pid(), out)
	}
	return b.String()
}

// NodeProc returns the process of the node with the given ID (whole, or
// abbreviated as its "joined" line printed it), or nil.
func (c *Cluster) NodeProc(id string) *Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.Nodes {
		if strings.Contains(p.Output(), "shoal node "+ids.AbbrevHex(id)+" joined") {
			return p
		}
	}
	return nil
}

// SignalTree sends sig to the process and then to every process descending
// from it (a node's executors). Signalling the root first matters for
// SIGSTOP: a stopped process forks no new children, so the scan of its
// descendants that follows is complete.
func (p *Proc) SignalTree(sig syscall.Signal) error {
	root := p.Pid()
	if err := syscall.Kill(root, sig); err != nil {
		return fmt.Errorf("signalling %s (pid %d) with %v: %w", p.Name, root, sig, err)
	}
	for _, pid := range proctree.Descendants(root) {
		// A descendant may have exited since the scan: that is not an error.
		syscall.Kill(pid, sig)
	}
	return nil
}

// Freeze stops the process and its descendants (SIGSTOP): they send and
// read nothing until Thaw, which the rest of the cluster sees as a node
// gone silent, as behind a network partition.
func (p *Proc) Freeze() error { return p.SignalTree(syscall.SIGSTOP) }

// Thaw continues a frozen process and its descendants (SIGCONT).
func (p *Proc) Thaw() error { return p.SignalTree(syscall.SIGCONT) }
