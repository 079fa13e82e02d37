package head

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Submitted jobs: `shoal job submit` uploads a job's package to the head's
// package store, then asks the head to run the job's driver on a node. The
// node fetches the package, runs the driver from it and streams its output
// here; the driver joins the cluster as that job, and its executors start
// from the same package on every node.

// maxLogLines and maxLogBytes bound the output kept per submitted job;
// older lines go. Of ended jobs, only the last keptEndedLogs keep theirs.
const (
	maxLogLines   = 200_000
	maxLogBytes   = 16 << 20
	keptEndedLogs = 100
)

type submittedJob struct {
	info   *pb.SubmittedJob
	args   []string
	env    []string
	lines  []string
	bytes  int64         // of lines
	endSeq int64         // order in which it ended (0: running)
	base   int64         // line number of lines[0]
	news   chan struct{} // closed (and replaced) when lines or the state change
}

func (j *submittedJob) changed() {
	close(j.news)
	j.news = make(chan struct{})
}

// ended reports whether the driver has exited (or was lost with its node).
func (j *submittedJob) ended() bool { return j.info.EndedUnixMs != 0 }

// SubmitJob runs a job's driver on a node, from a package already uploaded
// to this head.
func (h *Head) SubmitJob(req *pb.SubmitJobRequest) (*pb.SubmittedJob, error) {
	if h.packages == nil {
		return nil, fmt.Errorf("this head keeps no packages: start it with --package-dir (or --state-dir)")
	}
	if _, _, complete, err := h.packages.Stat(req.PackageHash); err != nil || !complete {
		return nil, fmt.Errorf("package %s is not (completely) uploaded to this head; upload it first (shoal job submit does): %v", shortHash(req.PackageHash), err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var node *nodeState
	for _, n := range h.alive {
		if !n.draining && (node == nil || n.running < node.running) {
			node = n
		}
	}
	if node == nil {
		return nil, fmt.Errorf("the cluster has no live node to run the driver on")
	}
	id := ids.Random()
	name := req.Name
	if name == "" {
		name = "job-" + id.Abbrev()
	}
	j := &submittedJob{
		info: &pb.SubmittedJob{JobId: id.Bytes(), Name: name, PackageHash: req.PackageHash, State: pb.JobState_JOB_STATE_RUNNING,
			NodeId: node.id.Bytes(), StartedUnixMs: time.Now().UnixMilli()},
		args: req.Args, env: req.Env, news: make(chan struct{}),
	}
	h.submitted[id] = j
	start := &pb.DriverStart{JobId: id.Bytes(), Name: name, PackageHash: req.PackageHash, Args: req.Args, Env: req.Env}
	src := h.packageSource(req.PackageHash, node)
	node.out.Add(256, func(m *pb.HeadToNode) {
		if src != nil {
			m.PackageSources = append(m.PackageSources, src)
		}
		m.StartDrivers = append(m.StartDrivers, start)
	})
	h.log.Info("job submitted", "job", id.Abbrev(), "name", name, "package", shortHash(req.PackageHash), "node", node.id.Abbrev())
	return j.info, nil
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func (h *Head) submittedJob(b []byte) (*submittedJob, error) {
	id, err := ids.FromBytes("job id", b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.ErrMalformed, err)
	}
	j := h.submitted[id]
	if j == nil {
		return nil, fmt.Errorf("no submitted job %s on this head", id.Abbrev())
	}
	return j, nil
}

// GetJob reports a submitted job.
func (h *Head) GetJob(req *pb.GetJobRequest) (*pb.SubmittedJob, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	j, err := h.submittedJob(req.JobId)
	if err != nil {
		return nil, err
	}
	return j.info, nil
}

// ListJobs reports every submitted job.
func (h *Head) ListJobs() *pb.ListJobsReply {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &pb.ListJobsReply{}
	for _, j := range h.submitted {
		r.Jobs = append(r.Jobs, j.info)
	}
	return r
}

// StopJob stops a submitted job's driver (and so the job).
func (h *Head) StopJob(req *pb.GetJobRequest) (*pb.SubmittedJob, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	j, err := h.submittedJob(req.JobId)
	if err != nil {
		return nil, err
	}
	if j.ended() {
		return j.info, nil
	}
	j.info.State = pb.JobState_JOB_STATE_STOPPED
	j.changed()
	nodeID, _ := ids.FromBytes("node id", j.info.NodeId)
	if n := h.nodes[nodeID]; n != nil && n.alive {
		id := j.info.JobId
		n.out.Add(24, func(m *pb.HeadToNode) { m.StopDrivers = append(m.StopDrivers, id) })
	}
	return j.info, nil
}

// JobLogs sends a submitted job's output from line from, and with follow
// keeps sending until the job ends or ctx does.
func (h *Head) JobLogs(ctx context.Context, req *pb.JobLogsRequest, send func(*pb.LogLines) error) error {
	next := req.FromLine
	for {
		h.mu.Lock()
		j, err := h.submittedJob(req.JobId)
		if err != nil {
			h.mu.Unlock()
			return err
		}
		out := &pb.LogLines{}
		if next < j.base {
			out.Lines = append(out.Lines, fmt.Sprintf("[shoal: %d earlier lines were dropped]", j.base-next))
			next = j.base
		}
		if i := next - j.base; i < int64(len(j.lines)) {
			out.Lines = append(out.Lines, j.lines[i:]...)
			next = j.base + int64(len(j.lines))
		}
		out.NextLine, out.Ended = next, j.ended()
		news := j.news
		h.mu.Unlock()
		if len(out.Lines) > 0 || out.Ended || !req.Follow {
			if err := send(out); err != nil {
				return err
			}
		}
		if out.Ended || !req.Follow {
			return nil
		}
		select {
		case <-news:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// driverEvent applies a node's report about a driver it runs.
func (h *Head) driverEvent(n *nodeState, e *pb.DriverEvent) {
	id, err := ids.FromBytes("driver job id", e.JobId)
	if err != nil {
		return
	}
	j := h.submitted[id]
	if j == nil || string(j.info.NodeId) != string(n.id[:]) {
		return
	}
	if len(e.Lines) > 0 {
		j.lines = append(j.lines, e.Lines...)
		for _, l := range e.Lines {
			j.bytes += int64(len(l))
		}
		drop := 0
		for drop < len(j.lines) && (len(j.lines)-drop > maxLogLines || j.bytes > maxLogBytes) {
			j.bytes -= int64(len(j.lines[drop]))
			drop++
		}
		if drop > 0 {
			j.lines = append(j.lines[:0], j.lines[drop:]...)
			j.base += int64(drop)
		}
	}
	if e.Exited && j.info.EndedUnixMs == 0 {
		if j.info.State != pb.JobState_JOB_STATE_STOPPED {
			j.info.State = pb.JobState_JOB_STATE_SUCCEEDED
			if e.ExitCode != 0 || e.Error != "" {
				j.info.State = pb.JobState_JOB_STATE_FAILED
			}
		}
		j.info.ExitCode, j.info.Error, j.info.EndedUnixMs = e.ExitCode, e.Error, time.Now().UnixMilli()
		h.log.Info("job ended", "job", id.Abbrev(), "state", j.info.State, "exit_code", e.ExitCode)
		h.jobEnds++
		j.endSeq = h.jobEnds
		h.trimEndedLogs()
	}
	j.info.LogLines = j.base + int64(len(j.lines))
	j.changed()
}

// trimEndedLogs lets go of the output of ended jobs past the last
// keptEndedLogs (their records stay; their lines are counted as gone).
func (h *Head) trimEndedLogs() {
	var ended []*submittedJob
	for _, j := range h.submitted {
		if j.endSeq != 0 && len(j.lines) > 0 {
			ended = append(ended, j)
		}
	}
	if len(ended) <= keptEndedLogs {
		return
	}
	slices.SortFunc(ended, func(a, b *submittedJob) int { return cmp.Compare(b.endSeq, a.endSeq) })
	for _, j := range ended[keptEndedLogs:] {
		j.base += int64(len(j.lines))
		j.lines, j.bytes = nil, 0
		j.changed()
	}
}

// driversLost fails the submitted jobs whose driver ran on a node that died.
func (h *Head) driversLost(n *nodeState, reason string) {
	for _, j := range h.submitted {
		if string(j.info.NodeId) == string(n.id[:]) && !j.ended() {
			j.info.State = pb.JobState_JOB_STATE_FAILED
			j.info.Error = fmt.Sprintf("the node running the driver (%s) went away: %s", n.id.Abbrev(), reason)
			j.info.EndedUnixMs = time.Now().UnixMilli()
			j.changed()
		}
	}
}
