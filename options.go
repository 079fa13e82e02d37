package shoal

import (
	"log/slog"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/runtimeenv"
	"runtime"
	"time"
)

// Option configures Init.
type Option func(*config)

type config struct {
	address        string
	token          string
	tokenFile      string
	tlsCA          string
	nodes          int
	nodeResources  Resources
	connectTimeout time.Duration
	logger         *slog.Logger
	jobName        string
	heartbeat      time.Duration
	heartbeatLimit time.Duration
	storeMemory    int64
	storeDisk      int64
	reconnect      time.Duration
	runtimeEnv     *RuntimeEnv
	packageHash    string
	jobID          ids.ID
	dashboard      string
	maxPending     int
}

func defaultConfig() config {
	return config{
		nodes:          1,
		nodeResources:  Resources{CPU: float64(runtime.NumCPU())},
		connectTimeout: 10 * time.Second,
		reconnect:      60 * time.Second,
	}
}

// WithAddress joins the running cluster whose head listens at addr
// ("host:port"), instead of starting an embedded one.
func WithAddress(addr string) Option { return func(c *config) { c.address = addr } }

// WithToken sets the cluster token to present. By default it is read from
// $SHOAL_TOKEN or from the token file `shoal head` wrote.
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithTokenFile reads the cluster token from path.
func WithTokenFile(path string) Option { return func(c *config) { c.tokenFile = path } }

// WithTLS verifies the head's certificate against the CA in caFile.
func WithTLS(caFile string) Option { return func(c *config) { c.tlsCA = caFile } }

// WithLocalNodes sets how many nodes the embedded cluster starts (default 1).
func WithLocalNodes(n int) Option { return func(c *config) { c.nodes = n } }

// WithDashboard has the embedded cluster serve its web dashboard and its
// Prometheus metrics (/metrics) at addr ("127.0.0.1:0": a free port), as
// `shoal head --dashboard` does; the cluster logs the URL and
// ClusterStatus(ctx).DashboardURL gives it. Beyond loopback every request
// needs the cluster token. The program must import
// github.com/shoal-dev/shoal/dashboard for its effect (which keeps the
// dashboard out of programs without one). A joined cluster's head serves
// its own.
func WithDashboard(addr string) Option { return func(c *config) { c.dashboard = addr } }

// WithCPUsPerNode sets each embedded node's CPUs (default: this machine's).
func WithCPUsPerNode(cpus float64) Option { return func(c *config) { c.nodeResources.CPU = cpus } }

// WithLocalNodeResources sets each embedded node's resources.
func WithLocalNodeResources(r Resources) Option { return func(c *config) { c.nodeResources = r } }

// WithConnectTimeout bounds how long Init waits for the head (default 10s).
func WithConnectTimeout(d time.Duration) Option { return func(c *config) { c.connectTimeout = d } }

// WithLogger sets the logger of the client and the embedded cluster (by
// default, warnings and errors go to the default logger).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxPendingTasks bounds the tasks, actor creations and actor calls
// the driver has submitted that have not finished (default 100,000, or
// $SHOAL_MAX_PENDING_TASKS): at the bound, Remote waits until one finishes
// or its context ends (the future then fails with the context's error).
// The job's executors keep the same bound on what their tasks submit; a
// task waiting at it gives its CPUs back, as in Get. The head caps every
// session too (shoal head --max-pending-tasks, default 200,000; an
// embedded cluster's head takes n if it is larger): the bound is never
// above the cap. See docs/runtime.md.
func WithMaxPendingTasks(n int) Option { return func(c *config) { c.maxPending = n } }

// WithJobName names the job in the cluster's status and logs.
func WithJobName(name string) Option { return func(c *config) { c.jobName = name } }

// WithHeartbeat sets the embedded cluster's heartbeat interval and the
// silence after which a node is declared dead.
func WithHeartbeat(interval, timeout time.Duration) Option {
	return func(c *config) { c.heartbeat, c.heartbeatLimit = interval, timeout }
}

// WithObjectStore bounds each embedded node's object store: memory bytes
// before objects spill to disk, and disk bytes for spilled objects (0:
// defaults, 30% of available memory and the temporary directory's free
// space; -1: no limit / no spilling).
func WithObjectStore(memory, disk int64) Option {
	return func(c *config) { c.storeMemory, c.storeDisk = memory, disk }
}

// WithReconnect sets how long a driver joined to a cluster (WithAddress)
// tries to rejoin its head after losing it, as when the head restarts
// (default 60s; 0 gives up at once). On rejoining it declares the objects
// it owns again and resubmits the tasks that had not finished; its actors
// are created again (their state starts over).
func WithReconnect(d time.Duration) Option { return func(c *config) { c.reconnect = d } }

// RuntimeEnv is the code a job ships to the cluster's nodes: the binary its
// executors run (default: this program), a working directory (with
// exclude patterns; .git and build caches are left out, .gitignore is
// honoured), extra files and environment variables. See package runtimeenv.
type RuntimeEnv = runtimeenv.Spec

// WithRuntimeEnv packs env into a content-addressed package, uploads it to
// the head (nothing is sent when the head already holds it) and has the
// job's executors start from it on every node, in its working directory
// with its environment.
func WithRuntimeEnv(env RuntimeEnv) Option { return func(c *config) { c.runtimeEnv = &env } }
