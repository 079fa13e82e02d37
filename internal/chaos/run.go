package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// Config describes a chaos run.
type Config struct {
	// Binary is the shoal command that runs the head and the nodes.
	Binary string
	// Workload is a registered workload's name (tasks, actors, objects).
	Workload string
	// Nodes is the cluster's size, kept by replacements; each node offers
	// CPUsPerNode CPUs.
	Nodes       int
	CPUsPerNode float64
	// Mode is how nodes are hit; KillInterval and MaxKills shape the plan,
	// Seed makes it (and the workload's data) reproducible.
	Mode         Mode
	KillInterval time.Duration
	MaxKills     int
	Seed         int64
	// PartitionFor is how long a partitioned node stays cut off.
	PartitionFor time.Duration
	// DrainDeadline is how long a drained node's running tasks get.
	DrainDeadline time.Duration
	// Scale and Sleep size the workload (see each workload).
	Scale int
	Sleep time.Duration
	// Timeout bounds the workload; RestoreTimeout is how soon after the last
	// result the cluster's free resources must be back to the baseline.
	Timeout        time.Duration
	RestoreTimeout time.Duration
	// HeadArgs are extra flags for `shoal head` (e.g. --heartbeat-timeout).
	HeadArgs []string
	// Dir receives the logs (cluster.log: every process's output; chaos.log:
	// the run's events; result.json). Empty: a temporary directory, removed
	// after a run that passed unless KeepLogs.
	Dir      string
	KeepLogs bool
	// Log receives the run's events as they happen; Output, if set, every
	// process's output too.
	Log    io.Writer
	Output io.Writer
}

// Defaults for the Config fields left zero.
const (
	DefaultNodes          = 4
	DefaultCPUsPerNode    = 2
	DefaultKillInterval   = 10 * time.Second
	DefaultMaxKills       = 2
	DefaultScale          = 75
	DefaultSleep          = 200 * time.Millisecond
	DefaultPartitionFor   = 4 * time.Second
	DefaultDrainDeadline  = 10 * time.Second
	DefaultTimeout        = 10 * time.Minute
	DefaultRestoreTimeout = 10 * time.Second
)

func (c *Config) setDefaults() {
	if c.Workload == "" {
		c.Workload = "tasks"
	}
	if c.Nodes == 0 {
		c.Nodes = DefaultNodes
	}
	if c.CPUsPerNode == 0 {
		c.CPUsPerNode = DefaultCPUsPerNode
	}
	if c.Mode == "" {
		c.Mode = ModeProcess
	}
	if c.KillInterval == 0 {
		c.KillInterval = DefaultKillInterval
	}
	if c.Scale == 0 {
		c.Scale = DefaultScale
	}
	if c.PartitionFor == 0 {
		c.PartitionFor = DefaultPartitionFor
	}
	if c.DrainDeadline == 0 {
		c.DrainDeadline = DefaultDrainDeadline
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RestoreTimeout == 0 {
		c.RestoreTimeout = DefaultRestoreTimeout
	}
}

func (c *Config) validate() error {
	switch {
	case c.Binary == "":
		return errors.New("no shoal binary to run the cluster with")
	case c.Nodes < 1:
		return fmt.Errorf("--nodes must be ≥ 1, got %d", c.Nodes)
	case c.CPUsPerNode <= 0:
		return fmt.Errorf("--cpus-per-node must be > 0, got %v", c.CPUsPerNode)
	case c.KillInterval < 0 || c.MaxKills < 0:
		return fmt.Errorf("--kill-interval and --max-kills must be ≥ 0")
	case c.Scale < 1:
		return fmt.Errorf("--scale must be ≥ 1, got %d", c.Scale)
	case c.Sleep < 0:
		return fmt.Errorf("--sleep must be ≥ 0, got %v", c.Sleep)
	case c.Mode == ModePartition && c.PartitionFor <= 0:
		return fmt.Errorf("--partition-duration must be > 0")
	}
	if !slices.Contains(Modes, c.Mode) {
		return fmt.Errorf("unknown mode %q (want one of %v)", c.Mode, Modes)
	}
	return nil
}

// Result is what a run did and found. The first eight fields are the ones
// `shoal chaos --json` promises; the others help to reproduce and debug.
type Result struct {
	Workload          string  `json:"workload"`
	Tasks             int64   `json:"tasks"`
	Correct           bool    `json:"correct"`
	NodesKilled       int     `json:"nodes_killed"`
	DurationS         float64 `json:"duration_s"`
	ResourcesRestored bool    `json:"resources_restored"`
	RestoreS          float64 `json:"restore_s"`
	HeadPeakRSSMB     float64 `json:"head_peak_rss_mb"`

	Mode         Mode             `json:"mode"`
	Seed         int64            `json:"seed"`
	Nodes        int              `json:"nodes"`
	CPUs         float64          `json:"cpus"`
	KillInterval string           `json:"kill_interval"`
	MaxKills     int              `json:"max_kills"`
	Expected     int64            `json:"expected"`
	Verified     int64            `json:"verified"`
	Wrong        int64            `json:"wrong"`
	Details      map[string]int64 `json:"details,omitempty"`
	Problems     []string         `json:"problems,omitempty"`
	Plan         []Event          `json:"plan"`
	Kills        []KillRecord     `json:"kills"`
	// NodeCrashes are node processes that exited without being hit.
	NodeCrashes []string `json:"node_crashes,omitempty"`
	// Leftover is what the cluster still held once the driver had gone.
	Leftover *Leftover `json:"leftover,omitempty"`
	Error    string    `json:"error,omitempty"`
	LogDir   string    `json:"log_dir,omitempty"`
}

// Leftover is what the cluster held after the driver disconnected (and a
// few seconds for the head and the nodes to catch up): none of it should
// remain.
type Leftover struct {
	Clean           bool             `json:"clean"`
	Objects         int64            `json:"objects"`
	ObjectBytes     int64            `json:"object_bytes"`
	StoreBytes      int64            `json:"store_bytes"`
	UnfinishedTasks map[string]int64 `json:"unfinished_tasks,omitempty"`
	LiveActors      int64            `json:"live_actors"`
}

// OK reports whether the run passed: every result was verified, the
// cluster's free resources came back to the baseline in time, and no node
// process died unless it was hit.
func (r *Result) OK() bool {
	return r.Correct && r.ResourcesRestored && len(r.NodeCrashes) == 0 && r.Error == ""
}

// Run starts a cluster, runs the workload while hitting nodes as planned,
// and checks the results and the cluster's recovery. An error means the run
// could not be set up; a run that went wrong returns a Result saying how.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	wl, err := Lookup(cfg.Workload)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: &cfg, wl: wl}
	if err := r.openLogs(); err != nil {
		return nil, err
	}
	res, err := r.run(ctx)
	r.closeLogs(res, err)
	return res, err
}

type runner struct {
	cfg      *Config
	wl       Workload
	dir      string
	tempDir  bool
	logMu    sync.Mutex
	events   *os.File
	procOut  *os.File
	output   io.Writer // processes' output: cluster.log (and cfg.Output)
	start    time.Time
	baseline int64 // free CPU of the idle cluster, in scheduler units
}

func (r *runner) openLogs() error {
	r.dir = r.cfg.Dir
	if r.dir == "" {
		d, err := os.MkdirTemp("", fmt.Sprintf("shoal-chaos-%s-%s-%d-", r.cfg.Workload, r.cfg.Mode, r.cfg.Seed))
		if err != nil {
			return fmt.Errorf("creating the log directory: %w", err)
		}
		r.dir, r.tempDir = d, true
	} else if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("creating the log directory: %w", err)
	}
	var err error
	if r.events, err = os.Create(filepath.Join(r.dir, "chaos.log")); err != nil {
		return fmt.Errorf("creating the run's log: %w", err)
	}
	if r.procOut, err = os.Create(filepath.Join(r.dir, "cluster.log")); err != nil {
		r.events.Close()
		return fmt.Errorf("creating the cluster's log: %w", err)
	}
	var out io.Writer = r.procOut
	if r.cfg.Output != nil {
		out = io.MultiWriter(r.procOut, r.cfg.Output)
	}
	r.output = &lockedWriter{w: out}
	r.start = time.Now()
	return nil
}

func (r *runner) closeLogs(res *Result, err error) {
	keep := r.cfg.KeepLogs || !r.tempDir || err != nil || res == nil || !res.OK()
	if res != nil && keep {
		res.LogDir = r.dir
		if b, err := json.MarshalIndent(res, "", "  "); err == nil {
			os.WriteFile(filepath.Join(r.dir, "result.json"), append(b, '\n'), 0o644)
		}
	}
	r.events.Close()
	r.procOut.Close()
	if !keep {
		os.RemoveAll(r.dir)
	} else if err != nil {
		r.logf("logs kept in %s", r.dir)
	}
}

// logf records an event of the run.
func (r *runner) logf(format string, args ...any) {
	line := fmt.Sprintf("%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	r.logMu.Lock()
	defer r.logMu.Unlock()
	r.events.WriteString(line)
	if r.cfg.Log != nil {
		io.WriteString(r.cfg.Log, line)
	}
	fmt.Fprintf(r.output, "[chaos] %s", line)
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	res := &Result{Workload: cfg.Workload, Mode: cfg.Mode, Seed: cfg.Seed, Nodes: cfg.Nodes,
		CPUs: float64(cfg.Nodes) * cfg.CPUsPerNode, KillInterval: cfg.KillInterval.String(), MaxKills: cfg.MaxKills}
	r.logf("chaos: workload %s, %d nodes × %v CPUs, mode %s, a fault every %v up to %d, seed %d; logs in %s",
		cfg.Workload, cfg.Nodes, cfg.CPUsPerNode, cfg.Mode, cfg.KillInterval, cfg.MaxKills, cfg.Seed, r.dir)

	// Debug logs (which task is retried, which executor starts where) go
	// to cluster.log: they are what a failed run is triaged from.
	headArgs := append([]string{"--verbose"}, cfg.HeadArgs...)
	c, err := clustertest.Start(ctx, clustertest.Options{Binary: cfg.Binary, Dir: r.dir, HeadArgs: headArgs, Output: r.output})
	if err != nil {
		return nil, fmt.Errorf("starting the head: %w", err)
	}
	k := newKiller(cfg, c, r.logf)
	defer k.shutdown()

	rss := sampleRSS(c.Head.Pid(), 100*time.Millisecond)
	defer func() { res.HeadPeakRSSMB = float64(rss.stop()) / (1 << 20) }()

	// The cluster: slot node0 first (the kept node, when the workload
	// needs one), then the others.
	nodeArgs := []string{"--verbose", "--cpus", strconv.FormatFloat(cfg.CPUsPerNode, 'f', -1, 64)}
	var targets []Target
	for i := range cfg.Nodes {
		name, args := fmt.Sprintf("node%d", i), nodeArgs
		keep := i == 0 && r.wl.KeepNode()
		if keep {
			args = append(slices.Clone(nodeArgs), "--labels", "chaos=keep")
		}
		if _, err := k.addSlot(ctx, name, args); err != nil {
			return nil, err
		}
		targets = append(targets, Target{Name: name, Protected: keep})
	}
	if err := r.measureBaseline(ctx, c); err != nil {
		return nil, err
	}
	plan := Plan(cfg.Seed, cfg.KillInterval, cfg.MaxKills, targets)
	k.plan, res.Plan = plan, plan
	for _, ev := range plan {
		r.logf("plan: at %v hit slot %s", ev.At.Round(time.Millisecond), ev.Node)
	}

	// The driver: this process joins the cluster; its executors are this
	// binary, re-executed by the nodes.
	driverLog := slog.New(slog.NewTextHandler(&prefixWriter{prefix: "[driver] ", w: r.output}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dctx, err := shoal.Init(ctx, shoal.WithAddress(c.HeadAddr), shoal.WithTokenFile(c.TokenFile),
		shoal.WithJobName("chaos-"+cfg.Workload), shoal.WithLogger(driverLog))
	if err != nil {
		return nil, fmt.Errorf("joining the cluster as the driver: %w", err)
	}
	driverUp := true
	defer func() {
		if driverUp {
			shoal.Shutdown(dctx)
		}
	}()
	if k.fault, err = newFault(cfg, dctx); err != nil {
		return nil, err
	}
	env := Env{CPUs: res.CPUs, Seed: cfg.Seed, Scale: cfg.Scale, Sleep: cfg.Sleep, Logf: r.logf}
	for i := range cfg.Nodes {
		s := k.slots[fmt.Sprintf("node%d", i)]
		env.Nodes = append(env.Nodes, s.nodeID)
		if targets[i].Protected {
			env.KeepNode = s.nodeID
		}
	}

	wctx, cancel := context.WithTimeout(dctx, cfg.Timeout)
	t0 := time.Now()
	go k.run(t0)
	out := r.wl.Run(wctx, env)
	cancel()
	if out.LastResult.IsZero() {
		out.LastResult = time.Now()
	}
	res.DurationS = out.LastResult.Sub(t0).Seconds()
	k.stop()
	res.Tasks, res.Expected, res.Verified, res.Wrong = out.Tasks, out.Expected, out.Verified, out.Wrong
	res.Details, res.Problems, res.Correct = out.Details, out.Problems, out.Correct()
	if out.Err != nil {
		res.Error = out.Err.Error()
		// What the head knew when the workload gave up, for the report.
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := c.Status(sctx)
		cancel()
		if err == nil {
			res.Problems = append(res.Problems, "the cluster when the workload gave up: "+describeNodes(st))
		}
	}
	r.logf("workload %s: %d/%d results verified, %d wrong, in %.1fs", cfg.Workload, out.Verified, out.Expected, out.Wrong, res.DurationS)
	for _, p := range out.Problems {
		r.logf("problem: %s", p)
	}

	// Recovery: the free resources come back to the baseline.
	res.ResourcesRestored, res.RestoreS = r.awaitRestore(ctx, c, out.LastResult, res)
	// The head's counters of recovery work, while the driver is still
	// connected (when it leaves, its unfinished tasks are cancelled and
	// count as failed).
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if st, err := c.Status(sctx); err == nil {
		if res.Details == nil {
			res.Details = map[string]int64{}
		}
		for _, k := range clusterCounters {
			res.Details["cluster_"+k] = st.TasksByState[k]
		}
	}
	cancel()

	// Leaks: what the cluster still holds once the driver has gone.
	shoal.Shutdown(dctx)
	driverUp = false
	res.Leftover = r.leftover(ctx, c)
	res.Kills, res.NodesKilled, res.NodeCrashes = k.results()
	r.logf("result: correct=%v nodes_killed=%d resources_restored=%v (%.2fs) leftover_clean=%v node_crashes=%d",
		res.Correct, res.NodesKilled, res.ResourcesRestored, res.RestoreS, res.Leftover.Clean, len(res.NodeCrashes))
	return res, nil
}

// freeCPU sums the available CPU of the live nodes, in scheduler units.
func freeCPU(st *pb.StatusReply) (free, total int64, alive int) {
	for _, n := range st.Nodes {
		if n.Alive {
			alive++
			free += n.GetAvailable().GetCpu()
			total += n.GetTotal().GetCpu()
		}
	}
	return free, total, alive
}

// measureBaseline waits until every node is up and idle and records the
// cluster's free CPU.
func (r *runner) measureBaseline(ctx context.Context, c *clustertest.Cluster) error {
	want := int64(float64(r.cfg.Nodes) * r.cfg.CPUsPerNode * scheduler.Unit)
	err := c.WaitFor(ctx, 30*time.Second, func(st *pb.StatusReply) bool {
		free, total, alive := freeCPU(st)
		if alive == r.cfg.Nodes && free == total && total == want {
			r.baseline = free
			return true
		}
		return false
	}, fmt.Sprintf("%d idle nodes with %v CPUs in all", r.cfg.Nodes, float64(want)/scheduler.Unit))
	if err != nil {
		return fmt.Errorf("measuring the baseline: %w", err)
	}
	r.logf("baseline: %d live nodes, %v CPUs free", r.cfg.Nodes, float64(r.baseline)/scheduler.Unit)
	return nil
}

// awaitRestore waits until the cluster has its size again and its free CPU
// equals the baseline. It reports whether that happened within the restore
// timeout of the last result, and how long after the last result it
// happened (it keeps watching a little past the deadline, to tell slow from
// never).
func (r *runner) awaitRestore(ctx context.Context, c *clustertest.Cluster, last time.Time, res *Result) (bool, float64) {
	watch := r.cfg.RestoreTimeout + 20*time.Second
	var lastSt *pb.StatusReply
	err := c.WaitFor(ctx, time.Until(last.Add(watch)), func(st *pb.StatusReply) bool {
		lastSt = st
		free, _, alive := freeCPU(st)
		return alive == r.cfg.Nodes && free == r.baseline
	}, "the free CPU to come back to the baseline")
	took := time.Since(last).Seconds()
	if err != nil {
		msg := fmt.Sprintf("free resources not back to the baseline (%v CPUs on %d nodes) %.1fs after the last result: %s",
			float64(r.baseline)/scheduler.Unit, r.cfg.Nodes, took, describeNodes(lastSt))
		res.Problems = append(res.Problems, msg)
		r.logf("%s", msg)
		return false, took
	}
	ok := took <= r.cfg.RestoreTimeout.Seconds()
	r.logf("free resources back to the baseline %.2fs after the last result", took)
	if !ok {
		res.Problems = append(res.Problems, fmt.Sprintf("free resources came back to the baseline only %.1fs after the last result (limit %v)", took, r.cfg.RestoreTimeout))
	}
	return ok, took
}

// leftover waits a few seconds for the cluster to drop everything the
// driver held and reports what remains.
func (r *runner) leftover(ctx context.Context, c *clustertest.Cluster) *Leftover {
	var l Leftover
	measure := func(st *pb.StatusReply) bool {
		l = Leftover{Objects: st.Objects, ObjectBytes: st.ObjectBytes, LiveActors: st.Actors}
		for _, n := range st.Nodes {
			if n.Alive {
				l.StoreBytes += n.StoreBytes
			}
		}
		for state, n := range st.TasksByState {
			if unfinishedStates[state] && n != 0 {
				if l.UnfinishedTasks == nil {
					l.UnfinishedTasks = map[string]int64{}
				}
				l.UnfinishedTasks[state] = n
			}
		}
		l.Clean = l.Objects == 0 && l.StoreBytes == 0 && len(l.UnfinishedTasks) == 0 && l.LiveActors == 0
		return l.Clean
	}
	if err := c.WaitFor(ctx, 10*time.Second, measure, "the cluster to drop the driver's objects"); err != nil {
		r.logf("leftover after the driver left: %d objects (%d bytes), %d bytes in node stores, unfinished tasks %v, %d live actors",
			l.Objects, l.ObjectBytes, l.StoreBytes, l.UnfinishedTasks, l.LiveActors)
	}
	return &l
}

// unfinishedStates are the head's task states short of done (its status
// also carries counters: finished, failed, retried, rebuilt, ...).
var unfinishedStates = map[string]bool{"idle": true, "waiting_for_args": true, "waiting_for_resources": true, "running": true}

// clusterCounters are the head's counters of recovery work, copied into the
// result's details.
var clusterCounters = []string{"retried", "rebuilt", "actor_restarts", "failed"}

func describeNodes(st *pb.StatusReply) string {
	if st == nil {
		return "no status"
	}
	var parts []string
	for _, n := range st.Nodes {
		state := "dead"
		if n.Alive {
			state = "alive"
		}
		parts = append(parts, fmt.Sprintf("%s %s %v/%v CPUs free, %d running",
			ids.AbbrevHex(idString(n.NodeId)), state, float64(n.GetAvailable().GetCpu())/scheduler.Unit, float64(n.GetTotal().GetCpu())/scheduler.Unit, n.RunningTasks))
	}
	tasks := make([]string, 0, len(st.TasksByState))
	for _, k := range slices.Sorted(maps.Keys(st.TasksByState)) {
		tasks = append(tasks, fmt.Sprintf("%s=%d", k, st.TasksByState[k]))
	}
	return strings.Join(parts, "; ") + "; tasks " + strings.Join(tasks, " ")
}

func idString(b []byte) string {
	id, err := ids.FromBytes("node id", b)
	if err != nil {
		return fmt.Sprintf("%x", b)
	}
	return id.String()
}

// lockedWriter serializes writes from the processes' output copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter prefixes each write (a slog record is one write).
type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if _, err := p.w.Write(append([]byte(p.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}
