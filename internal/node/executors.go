package node

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoal-dev/shoal/internal/executor"
	"github.com/shoal-dev/shoal/internal/gctune"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// executorProc is one running executor process.
type executorProc struct {
	job  ids.ID
	info *pb.JobInfo
	childProc
	tail *tailBuffer
	// restart is set when the head asked for a new executor of the job
	// while this one was still dying: the new one starts when it is gone.
	restart bool
}

type cachedHash struct {
	size  int64
	mtime time.Time
	sum   []byte
}

// verifyBinary checks that path holds the job's binary. Hashes are cached
// by size and modification time.
func (n *Node) verifyBinary(path string, want []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("the job's binary %s is not on this node (%v); shipping binaries to nodes comes with runtime environments", path, err)
	}
	if len(want) == 0 {
		return nil
	}
	n.mu.Lock()
	c, ok := n.hashes[path]
	n.mu.Unlock()
	if !ok || c.size != st.Size() || !c.mtime.Equal(st.ModTime()) {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("reading the job's binary: %w", err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("hashing the job's binary %s: %w", path, err)
		}
		c = cachedHash{size: st.Size(), mtime: st.ModTime(), sum: h.Sum(nil)}
		n.mu.Lock()
		n.hashes[path] = c
		n.mu.Unlock()
	}
	if string(c.sum) != string(want) {
		return fmt.Errorf("the binary at %s on this node (sha256 %x) is not the job's binary (sha256 %x)", path, c.sum[:8], want[:min(8, len(want))])
	}
	return nil
}

func (n *Node) startExecutor(job *pb.JobInfo) {
	jobID, err := ids.FromBytes("job id", job.JobId)
	if err != nil {
		return
	}
	n.mu.Lock()
	if old, ok := n.execs[jobID]; ok {
		// The head asks for an executor only when it has none for the
		// job here, so this one is on its way out.
		old.restart = true
		n.mu.Unlock()
		return
	}
	if n.startingExec[jobID] {
		n.mu.Unlock()
		return
	}
	n.startingExec[jobID] = true
	n.mu.Unlock()
	if job.PackageHash == "" {
		n.launchExecutor(job, jobID, job.BinaryPath, n.cfg.WorkDir, nil)
		return
	}
	// A package may need fetching first: not on the session's goroutine.
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		l, err := n.acquirePackage(n.ctx, job.PackageHash, jobID)
		if err != nil {
			n.mu.Lock()
			delete(n.startingExec, jobID)
			n.mu.Unlock()
			n.executorFailed(job, jobID, err)
			return
		}
		n.launchExecutor(job, jobID, l.Binary, l.WorkDir, l.Env)
	}()
}

func (n *Node) executorFailed(job *pb.JobInfo, jobID ids.ID, err error) {
	n.log.Error("cannot start executor", "job", jobID.Abbrev(), "error", err)
	ev := &pb.ExecutorEvent{JobId: job.JobId, Exited: true, Error: err.Error()}
	n.report(func(m *pb.NodeMessage) { m.Executors = append(m.Executors, ev) })
}

// launchExecutor starts an executor process for job from binary.
func (n *Node) launchExecutor(job *pb.JobInfo, jobID ids.ID, binary, dir string, pkgEnv []string) {
	n.mu.Lock()
	nodeID := n.id
	delete(n.startingExec, jobID)
	n.mu.Unlock()
	fail := func(err error) { n.executorFailed(job, jobID, err) }
	if job.PackageHash == "" {
		if err := n.verifyBinary(binary, job.BinarySha256); err != nil {
			fail(err)
			return
		}
	}
	cmd := exec.Command(binary)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), pkgEnv...), job.Env...)
	cmd.Env = append(cmd.Env, n.cfg.ExecutorEnv...)
	cmd.Env = append(cmd.Env,
		executor.EnvExecutor+"=1",
		executor.EnvHeadAddr+"="+n.cfg.HeadAddr,
		executor.EnvJobID+"="+jobID.String(),
		executor.EnvNodeID+"="+nodeID.String(),
		executor.EnvNodeData+"="+n.DataAddr(),
		executor.EnvNodeStore+"="+n.localAddr,
	)
	cmd.Env = append(cmd.Env, gctune.ExecutorEnv(n.store.Usage().MemoryLimit, job.Env)...)
	cmd.Env = n.withCredential(cmd.Env, credentialJob(job, jobID))
	if n.cfg.TLS.CAFile != "" {
		cmd.Env = append(cmd.Env, executor.EnvTLSCA+"="+n.cfg.TLS.CAFile)
	}
	// The executor dies with its node, even if the node is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	tail := &tailBuffer{max: 8 << 10}
	prefix := fmt.Sprintf("[executor job=%s] ", jobID.Abbrev())
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		fail(fmt.Errorf("starting %s: %w", binary, err))
		return
	}
	p := &executorProc{job: jobID, info: job, childProc: childProc{cmd: cmd, exited: make(chan struct{})}, tail: tail}
	var pipes sync.WaitGroup
	pipes.Add(2)
	logw, closeLog, err := n.logs.open(jobID)
	if err != nil {
		n.log.Warn("the executor's output goes to the node's output only", "job", jobID.Abbrev(), "error", err)
		logw, closeLog = io.Discard, func() {}
	}
	pid := cmd.Process.Pid
	go copyLines(&pipes, os.Stdout, logw, pid, stdout, prefix, nil)
	go copyLines(&pipes, os.Stderr, logw, pid, stderr, prefix, tail)
	n.mu.Lock()
	n.execs[jobID] = p
	n.mu.Unlock()
	n.log.Debug("executor started", "job", jobID.Abbrev(), "pid", cmd.Process.Pid)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		pipes.Wait()
		closeLog()
		err := cmd.Wait()
		close(p.exited)
		n.mu.Lock()
		unexpected := n.execs[jobID] == p // not stopped by the node
		restart := false
		if unexpected {
			delete(n.execs, jobID)
			restart = p.restart && n.ctx.Err() == nil
		}
		n.mu.Unlock()
		msg := exitCause(err, tail.String())
		if unexpected {
			n.log.Warn("executor exited", "job", jobID.Abbrev(), "pid", cmd.Process.Pid, "status", msg)
		}
		if restart {
			// The head already asked for its replacement; an exit report
			// now would be taken for the replacement's failure.
			n.startExecutor(p.info)
			return
		}
		ev := &pb.ExecutorEvent{JobId: job.JobId, Pid: int32(cmd.Process.Pid), Exited: true, Error: msg}
		n.report(func(m *pb.NodeMessage) { m.Executors = append(m.Executors, ev) })
	}()
}

// exitCause says why an executor exited: its status (from cmd.Wait) and,
// when its output holds a Go crash report (an unrecovered panic, a fatal
// error), the report from its first line; otherwise the output's last
// lines.
func exitCause(waitErr error, output string) string {
	status := "exit status 0"
	if waitErr != nil {
		status = waitErr.Error()
	}
	output = strings.TrimSpace(output)
	if output == "" {
		return status + " (no output)"
	}
	const maxReport = 4 << 10
	for _, head := range []string{"panic: ", "fatal error: ", "runtime: "} {
		i := strings.LastIndex("\n"+output, "\n"+head)
		if i < 0 {
			continue
		}
		report := output[i:]
		if len(report) > maxReport {
			report = report[:maxReport] + "\n[…]"
		}
		return status + ": " + report
	}
	if len(output) > 1<<10 {
		output = "[…]" + output[len(output)-1<<10:]
	}
	return status + "; its last output:\n" + output
}

// stopExecutor ends a job's executor: SIGTERM, then SIGKILL after a grace
// period.
func (n *Node) stopExecutor(job ids.ID) {
	n.mu.Lock()
	p := n.execs[job]
	delete(n.execs, job)
	n.mu.Unlock()
	if n.pkgs != nil {
		n.pkgs.ReleaseJob(job.String())
	}
	if p == nil {
		return
	}
	n.stopChild(&p.childProc, 3*time.Second)
}

func (n *Node) stopAllExecutors() {
	n.mu.Lock()
	procs := make([]*childProc, 0, len(n.execs))
	for _, p := range n.execs {
		procs = append(procs, &p.childProc)
	}
	clear(n.execs)
	n.mu.Unlock()
	stopChildren(procs, 2*time.Second)
}

// copyLines copies an executor's output line by line with a prefix, keeping
// the last bytes in tail for error reports.
// copyLines copies src's lines to dst with prefix (the node's own output),
// to the job's log with the process's pid, and to tail when not nil.
func copyLines(wg *sync.WaitGroup, dst, log io.Writer, pid int, src io.Reader, prefix string, tail *tailBuffer) {
	defer wg.Done()
	logPrefix := fmt.Sprintf("[pid %d] ", pid)
	readLines(src, func(line string) {
		fmt.Fprintln(dst, prefix+line)
		io.WriteString(log, logPrefix+line+"\n")
		if tail != nil {
			tail.Write([]byte(line + "\n"))
		}
	})
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
