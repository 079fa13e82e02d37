package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/executor"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/peerauth"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/runtimeenv"
)

// Environment a submitted job's driver finds, read by shoal.Init.
const (
	EnvAddress = "SHOAL_ADDRESS"
	EnvPackage = "SHOAL_PACKAGE"
	EnvJobName = "SHOAL_JOB_NAME"
)

// headConn returns the node's gRPC connection to the head, for packages.
func (n *Node) headConn(ctx context.Context) (*grpc.ClientConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn != nil {
		return n.conn, nil
	}
	conn, err := rpc.Dial(ctx, n.cfg.HeadAddr, n.cfg.Token, 0, n.cfg.TLS, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connecting to the head for packages: %w", err)
	}
	n.conn = conn
	return conn, nil
}

// acquirePackage fetches (once), verifies and unpacks a job's package into
// the node's cache and returns its layout; the job holds a reference on it.
// It fetches from the peers the head named for the package first, the head
// last (a source that fails hands over at the byte reached; the hash is
// checked whatever the source), and tells the head where the bytes came
// from.
func (n *Node) acquirePackage(ctx context.Context, hash string, job ids.ID) (*runtimeenv.Layout, error) {
	if n.pkgs == nil {
		return nil, errors.New("this node keeps no package cache")
	}
	head, err := n.headConn(ctx)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	peers := n.pkgSources[hash]
	delete(n.pkgSources, hash)
	n.mu.Unlock()
	var conns []grpc.ClientConnInterface
	var names []string
	for _, addr := range peers {
		c, err := rpc.Dial(ctx, addr, n.cfg.Token, 0, rpc.TLSConfig{}, peerDialTimeout)
		if err != nil {
			n.log.Info("a peer named for a package is unreachable; trying the next source", "package", shortHash(hash), "peer", addr, "error", err)
			continue
		}
		defer c.Close()
		conns, names = append(conns, c), append(names, "peer "+addr)
	}
	conns, names = append(conns, head), append(names, "the head")
	var from []string
	report := func(source int, bytes int64) {
		from = append(from, fmt.Sprintf("%s (%s)", names[source], bytesize.Format(bytes)))
	}
	dir, err := n.pkgs.Acquire(ctx, hash, job.String(), runtimeenv.ReportingFetcher(report, conns...))
	if err != nil {
		return nil, fmt.Errorf("fetching package %s: %w", shortHash(hash), err)
	}
	if len(from) > 0 && n.pkgAddr != "" {
		held := &pb.PackageHeld{Hash: hash, Source: strings.Join(from, ", ")}
		n.report(func(m *pb.NodeMessage) { m.PackagesHeld = append(m.PackagesHeld, held) })
	}
	return runtimeenv.ReadLayout(dir)
}

// peerDialTimeout bounds connecting to a peer for a package; the head is
// the fallback.
const peerDialTimeout = 2 * time.Second

func shortHash(h string) string { return h[:min(12, len(h))] }

// servePackages starts the server of the package cache to peers, unless
// configured off or the cluster uses TLS (see Config.PackageListen).
func (n *Node) servePackages() error {
	addr := n.cfg.PackageListen
	if addr == "off" || n.cfg.TLS.Enabled() {
		return nil
	}
	if addr == "" {
		host, _, err := net.SplitHostPort(n.ln.Addr().String())
		if err != nil {
			return fmt.Errorf("node package server: %w", err)
		}
		addr = net.JoinHostPort(host, "0")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("node package server: listening on %s: %w", addr, err)
	}
	peerauth.WarnPlaintext(n.log, nil, ln.Addr(), "the node's package server (--package-listen)")
	// (the cluster token only: its clients are nodes, and a job's
	// credential reads no package here; the head's table lets a job read
	// its own there)
	opts, err := rpc.ServerOptions(n.cfg.Token, nil, 0, rpc.TLSConfig{})
	if err != nil {
		ln.Close()
		return err
	}
	g := grpc.NewServer(opts...)
	runtimeenv.NewPeerServer(n.pkgs, n.log).Register(g)
	n.pkgServer, n.pkgAddr = g, ln.Addr().String()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		// (at most 1,024 peers' connections at once: more wait)
		if err := g.Serve(netutil.LimitListener(ln, 1024)); err != nil {
			n.log.Error("package server stopped", "error", err)
		}
	}()
	return nil
}

type driverProc struct{ childProc }

// startDriver runs a submitted job's driver from its package, streaming its
// output to the head.
func (n *Node) startDriver(ds *pb.DriverStart) {
	jobID, err := ids.FromBytes("job id", ds.JobId)
	if err != nil {
		return
	}
	report := func(e *pb.DriverEvent) {
		n.report(func(m *pb.NodeMessage) { m.Drivers = append(m.Drivers, e) })
	}
	fail := func(err error) {
		n.log.Error("cannot start a driver", "job", jobID.Abbrev(), "error", err)
		report(&pb.DriverEvent{JobId: ds.JobId, Exited: true, ExitCode: -1, Error: err.Error()})
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		l, err := n.acquirePackage(n.ctx, ds.PackageHash, jobID)
		if err != nil {
			fail(err)
			return
		}
		cmd := exec.Command(l.Binary, ds.Args...)
		cmd.Dir = l.WorkDir
		cmd.Env = append(append(append(os.Environ(), l.Env...), ds.Env...),
			EnvAddress+"="+n.cfg.HeadAddr,
			executor.EnvJobID+"="+jobID.String(),
			EnvPackage+"="+ds.PackageHash,
			EnvJobName+"="+ds.Name,
		)
		cmd.Env = n.withCredential(cmd.Env, jobID)
		if n.cfg.TLS.CAFile != "" {
			cmd.Env = append(cmd.Env, executor.EnvTLSCA+"="+n.cfg.TLS.CAFile)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdout, _ := cmd.StdoutPipe()
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			fail(fmt.Errorf("starting %s: %w", filepath.Base(l.Binary), err))
			return
		}
		p := &driverProc{childProc{cmd: cmd, exited: make(chan struct{})}}
		n.mu.Lock()
		n.drivers[jobID] = p
		n.mu.Unlock()
		n.log.Info("driver started", "job", jobID.Abbrev(), "name", ds.Name, "pid", cmd.Process.Pid)
		lines := make(chan string, 1024)
		var pipes sync.WaitGroup
		pipes.Add(2)
		go scanLines(&pipes, stdout, lines)
		go scanLines(&pipes, stderr, lines)
		go func() { pipes.Wait(); close(lines) }()
		// Output goes to the head in batches, at most every 50 ms.
		// (and 1 MiB: reports stay far below the message limit).
		var batch []string
		batchBytes := 0
		flush := func() {
			if len(batch) > 0 {
				report(&pb.DriverEvent{JobId: ds.JobId, Lines: batch})
				batch, batchBytes = nil, 0
			}
		}
		tick := time.NewTicker(50 * time.Millisecond)
		for open := true; open; {
			select {
			case l, ok := <-lines:
				if !ok {
					open = false
					break
				}
				batch = append(batch, l)
				batchBytes += len(l)
				if len(batch) >= 512 || batchBytes >= 1<<20 {
					flush()
				}
			case <-tick.C:
				flush()
			}
		}
		tick.Stop()
		flush()
		err = cmd.Wait()
		close(p.exited)
		n.mu.Lock()
		delete(n.drivers, jobID)
		n.mu.Unlock()
		ev := &pb.DriverEvent{JobId: ds.JobId, Exited: true}
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			ev.ExitCode = int32(exit.ExitCode())
			if ev.ExitCode < 0 {
				ev.Error = exit.String()
			}
		case err != nil:
			ev.ExitCode, ev.Error = -1, err.Error()
		}
		n.log.Info("driver exited", "job", jobID.Abbrev(), "exit_code", ev.ExitCode)
		report(ev)
		n.pkgs.ReleaseJob(jobID.String())
	}()
}

// maxLineBytes bounds one line of a driver's or an executor's output as
// reported and kept: a longer line keeps its first maxLineBytes and says how
// much was cut (a 1 MiB line used to stop the output there, silently).
const maxLineBytes = 64 << 10

func scanLines(wg *sync.WaitGroup, r io.Reader, out chan<- string) {
	defer wg.Done()
	readLines(r, func(line string) { out <- line })
}

// stopDriver ends a submitted job's driver: SIGTERM, then SIGKILL.
func (n *Node) stopDriver(job ids.ID) {
	n.mu.Lock()
	p := n.drivers[job]
	n.mu.Unlock()
	if p == nil {
		return
	}
	n.stopChild(&p.childProc, 5*time.Second)
}

func (n *Node) stopAllDrivers() {
	n.mu.Lock()
	var procs []*childProc
	for _, p := range n.drivers {
		procs = append(procs, &p.childProc)
	}
	n.mu.Unlock()
	stopChildren(procs, 5*time.Second)
}
