package dataframe

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shoal-dev/shoal/dataframe/internal/cluster"
	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/optimize"
	"github.com/shoal-dev/shoal/dataframe/internal/physical"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/runner"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// DefaultMemoryBudget bounds the state of hash aggregates, hash join builds and
// sorts of one query (spilling to disk past it): 8 GiB, a third of the 24 GiB
// machines Shoal is developed on.
const DefaultMemoryBudget = 8 << 30

// DefaultBroadcastRows is the estimated build-side size above which joins are
// planned as partitioned (shuffled) joins rather than broadcast ones.
const DefaultBroadcastRows = 8_000_000

// DefaultClusterBroadcastRows is DefaultBroadcastRows for a query on a
// cluster, where every partition task builds its own copy of a broadcast
// side (in one process the partitions share one build): lower, as Spark's
// 10 MB autoBroadcastJoinThreshold. Measured on TPC-H SF1 (2 nodes x 1
// CPU), Q4 broadcast 3.8 M rows to both partitions and took 7x the time of
// one process.
const DefaultClusterBroadcastRows = 500_000

// CollectOption configures execution.
type CollectOption func(*config)

type config struct {
	parallelism   int
	batchSize     int
	budget        int64
	spillDir      string
	onSpill       func(string)
	cache         *Cache
	broadcastRows int64
	noOptimize    bool
	// local: run in this process even under a cluster; partitionsSet: the
	// partition count was chosen (WithParallelism).
	local         bool
	partitionsSet bool
	broadcastSet  bool
	onStage       func(StageStats)
	targetBytes   int64
	skewBytes     int64
}

func newConfig(opts []CollectOption) *config {
	c := &config{parallelism: runtime.GOMAXPROCS(0), batchSize: coldata.DefaultBatchSize,
		budget: DefaultMemoryBudget, broadcastRows: DefaultBroadcastRows, targetBytes: DefaultTargetPartitionBytes,
		skewBytes: DefaultSkewedPartitionBytes}
	for _, o := range opts {
		o(c)
	}
	return c
}

// WithParallelism sets how many partitions run at once (default GOMAXPROCS).
func WithParallelism(n int) CollectOption {
	return func(c *config) { c.parallelism, c.partitionsSet = max(1, n), true }
}

// StageStats is what one stage of a query run on a cluster did: its rows
// and bytes written, where its partitions' outputs were made, how long it
// took.
type StageStats = cluster.StageStats

// FetchFailedError says a partition task of a query on a cluster could
// not read a map output of an earlier stage (after the cluster's own
// retries and rebuilds): the shuffle (the stage that wrote it), the map
// partition and the node the failure names. The coordinator runs the map
// task and the stage again, up to MaxStageAttempts times; a query that
// keeps failing returns it (errors.As finds it).
type FetchFailedError = cluster.FetchFailedError

// MaxStageAttempts bounds how many times a stage of a query on a cluster
// runs when its partitions cannot read their input.
const MaxStageAttempts = cluster.MaxStageAttempts

// OnStage registers a function told what each stage of a query run on a
// cluster did, once it finished (before the stages that read it start;
// independent stages run at the same time, and f is called once at a
// time).
func OnStage(f func(StageStats)) CollectOption { return func(c *config) { c.onStage = f } }

// Locally runs the query in this process even when ctx carries a cluster
// (shoal.Init's context), where Collect otherwise runs its stages'
// partitions as tasks on the cluster (when every source can be read there:
// files; a frame over an in-memory table runs in this process).
func Locally() CollectOption { return func(c *config) { c.local = true } }

// DefaultTargetPartitionBytes is the input size a stage's task aims for on
// a cluster when small shuffled partitions are coalesced (Spark's
// spark.sql.adaptive.advisoryPartitionSizeInBytes).
const DefaultTargetPartitionBytes = 64 << 20

// WithTargetPartitionBytes sets the input a task of a query on a cluster
// aims for: a stage that reads only shuffled rows runs one task per run of
// consecutive partitions holding up to n bytes, the sizes known exactly
// once the shuffle's map side finished (adaptive coalescing). 0 runs every
// stage with its planned partitions.
func WithTargetPartitionBytes(n int64) CollectOption {
	return func(c *config) { c.targetBytes = max(0, n) }
}

// DefaultSkewedPartitionBytes is the size past which a shuffled partition
// of a query on a cluster counts as skewed (when it is also over
// cluster.SkewFactor times its input's median partition): Spark's
// spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes.
const DefaultSkewedPartitionBytes = 256 << 20

// WithSkewedPartitionBytes sets the size past which a shuffled partition
// of a query on a cluster is split (when it is also over 5 times its
// input's median partition): a join's partition whose probe side holds
// that many bytes runs as several tasks, each probing with about the
// target partition bytes (WithTargetPartitionBytes) of its rows and
// building the partition's whole build side, as Spark's adaptive skew
// join does. Only stages whose operators take the skewed side's rows one
// by one up to their output are split (joins probing with it, filters,
// projections, partial aggregates). 0 turns it off.
func WithSkewedPartitionBytes(n int64) CollectOption {
	return func(c *config) { c.skewBytes = max(0, n) }
}

// WithBatchSize sets the target number of rows per batch.
func WithBatchSize(n int) CollectOption { return func(c *config) { c.batchSize = max(1, n) } }

// WithMemoryBudget bounds operator state in bytes; operators spill past it.
func WithMemoryBudget(bytes int64) CollectOption { return func(c *config) { c.budget = bytes } }

// WithSpillDir sets the directory for spill files (default the system temp dir).
func WithSpillDir(dir string) CollectOption { return func(c *config) { c.spillDir = dir } }

// OnSpill registers a function told about each operator that spills.
func OnSpill(f func(operator string)) CollectOption { return func(c *config) { c.onSpill = f } }

// WithCache looks results up in (and stores them into) c, keyed by the plan's token.
func WithCache(cache *Cache) CollectOption { return func(c *config) { c.cache = cache } }

// WithBroadcastRows sets the build-side size above which joins are partitioned.
func WithBroadcastRows(n int64) CollectOption {
	return func(c *config) { c.broadcastRows, c.broadcastSet = n, true }
}

// WithoutOptimizer runs the plan as written (for tests and comparisons).
func WithoutOptimizer() CollectOption { return func(c *config) { c.noOptimize = true } }

func (c *config) plan(n plan.Node, distributed bool) (plan.Node, *physical.Plan, error) {
	opt := n
	if !c.noOptimize {
		opt = optimize.Optimize(n)
	}
	phys, err := physical.Build(opt, physical.Options{Partitions: c.parallelism, BroadcastRows: c.broadcastRows, Distributed: distributed})
	if err != nil {
		return nil, nil, err
	}
	return opt, phys, nil
}

// errLocalSource: a plan reads a source only this process can read.
var errLocalSource = errors.New("a source only this process can read")

// distributedPlan plans n for the cluster of ctx: one partition per CPU
// unless the partition count was chosen, sources described so that the
// nodes open them (errLocalSource when one cannot be).
func (c *config) distributedPlan(ctx context.Context, n plan.Node) (plan.Node, *physical.Plan, error) {
	if !c.partitionsSet {
		cpus, err := cluster.CPUs(ctx)
		if err != nil {
			return nil, nil, err
		}
		c.parallelism = cpus
	}
	if !c.broadcastSet {
		c.broadcastRows = DefaultClusterBroadcastRows
	}
	opt, phys, err := c.plan(n, true)
	if err != nil {
		return nil, nil, err
	}
	if err := phys.AttachSpecs(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errLocalSource, err)
	}
	return opt, phys, nil
}

func (c *config) clusterOptions(n plan.Node) cluster.Options {
	return cluster.Options{BatchSize: c.batchSize, MemoryBudget: c.budget, OnStage: c.onStage, TargetPartitionBytes: c.targetBytes,
		BroadcastRows: c.broadcastRows, SkewedPartitionBytes: c.skewBytes, Label: queryLabel(n)}
}

// queryLabel describes a query to the cluster's dashboard: its plan's top
// operator and the tables it reads.
func queryLabel(n plan.Node) string {
	var sources []string
	seen := map[string]bool{}
	var walk func(plan.Node)
	walk = func(n plan.Node) {
		if s, ok := n.(*plan.Scan); ok {
			if d := s.Source.Describe(); !seen[d] {
				seen[d] = true
				sources = append(sources, d)
			}
			return
		}
		for _, c := range n.Children() {
			walk(c)
		}
	}
	walk(n)
	label := n.Describe()
	if len(label) > 120 {
		label = label[:120] + "…"
	}
	if len(sources) > 4 {
		sources = append(sources[:4], fmt.Sprintf("%d more", len(sources)-4))
	}
	if len(sources) > 0 {
		label += " ← " + strings.Join(sources, ", ")
	}
	return label // (shoal.ReportQueryStage makes it valid UTF-8)
}

// Collect runs the query and returns its result.
func (df *DataFrame) Collect(ctx context.Context, opts ...CollectOption) (*Result, error) {
	if df.err != nil {
		return nil, df.err
	}
	cfg := newConfig(opts)
	var token string
	if cfg.cache != nil {
		token = plan.Token(df.node)
		if r := cfg.cache.get(token); r != nil {
			return r, nil
		}
	}
	distributed := !cfg.local && cluster.InCluster(ctx)
	var res *Result
	var stats []StageStats
	err := colexecop.Catch(func() {
		var batches []*coldata.Batch
		var phys *physical.Plan
		var err error
		if distributed {
			_, phys, err = cfg.distributedPlan(ctx, df.node)
			if errors.Is(err, errLocalSource) {
				// A source only this process can read (an in-memory table, a
				// stream): the query runs here (the plan shares no state
				// across partitions, which is correct here too).
				distributed, err = false, nil
			}
		} else {
			_, phys, err = cfg.plan(df.node, false)
		}
		if err != nil {
			colexecop.Throw(err)
		}
		if distributed {
			copts := cfg.clusterOptions(df.node)
			copts.OnStage = func(s StageStats) {
				stats = append(stats, s)
				if cfg.onStage != nil {
					cfg.onStage(s)
				}
			}
			batches, err = cluster.Run(ctx, phys, copts)
			slices.SortFunc(stats, func(a, b StageStats) int { return a.Stage - b.Stage }) // (they finish in any order)
		} else {
			batches, err = runner.Run(ctx, phys, cfg.runnerOptions())
		}
		if err != nil {
			colexecop.Throw(err)
		}
		res = newResult(df.node.Schema(), batches, stats)
	})
	if err != nil {
		return nil, err
	}
	if cfg.cache != nil {
		cfg.cache.put(token, res)
	}
	return res, nil
}

// runnerOptions are the options of a run on this machine.
func (c *config) runnerOptions() runner.Options {
	return runner.Options{Parallelism: c.parallelism, BatchSize: c.batchSize,
		MemoryBudget: c.budget, SpillDir: c.spillDir, OnSpill: c.onSpill}
}

// newResult is the result of a query run: its batches, their rows counted.
func newResult(s Schema, batches []*coldata.Batch, stats []StageStats) *Result {
	r := &Result{schema: s, batches: batches, stats: stats}
	for _, b := range batches {
		r.rows += b.Len()
	}
	return r
}

// Result is a collected query result. It is immutable.
type Result struct {
	dml     bool // the count of rows a statement changed (Catalog.ExecStatement)
	schema  Schema
	stats   []StageStats
	batches []*coldata.Batch
	rows    int
	once    sync.Once
	flat    *coldata.Batch
}

// Stats returns what each stage of the query did when it ran on a cluster
// (rows and bytes in and out, map output bytes read locally and remotely,
// spills, tasks run again, time), in the order the stages ran; nil when it
// ran in this process or came from a cache.
func (r *Result) Stats() []StageStats { return r.stats }

// Schema returns the result's columns.
func (r *Result) Schema() Schema { return r.schema }

// NumRows is the number of rows.
func (r *Result) NumRows() int { return r.rows }

func (r *Result) concat() *coldata.Batch {
	r.once.Do(func() { r.flat = coldata.Concat(r.schema, r.batches) })
	return r.flat
}

// Value returns the cell at row i, column j.
func (r *Result) Value(i, j int) Value {
	return eval.ValueAt(r.concat().Vecs[j], i)
}

// Row returns row i.
func (r *Result) Row(i int) []Value {
	out := make([]Value, len(r.schema))
	for j := range out {
		out[j] = r.Value(i, j)
	}
	return out
}

// Records converts the result to Arrow record batches (the caller releases them).
func (r *Result) Records(mem memory.Allocator) []arrow.RecordBatch {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	out := make([]arrow.RecordBatch, 0, len(r.batches))
	for _, b := range r.batches {
		out = append(out, coldata.ToRecord(mem, r.schema, b))
	}
	return out
}

// FormatValue prints a value the way SQL engines print it: decimals with their
// scale, dates as YYYY-MM-DD, floats in shortest form (PostgreSQL's: an
// exponent only below 1e-4 or from 1e15), NULL for nulls.
func FormatValue(v Value) string {
	if v.Null {
		return "NULL"
	}
	switch v.T.ID {
	case types.Decimal:
		return expr.FormatDecimal(v.I, v.T.Scale)
	case types.Date:
		return expr.FormatDate(int32(v.I))
	case types.String:
		return v.S
	case types.Float64:
		return expr.FormatFloat(v.F)
	case types.Bool:
		return fmt.Sprint(v.B)
	}
	return fmt.Sprint(v.I)
}

// String prints the result as a '|'-separated table with a header line.
func (r *Result) String() string {
	var sb strings.Builder
	sb.WriteString(strings.Join(r.schema.Names(), "|"))
	sb.WriteByte('\n')
	for i := 0; i < r.rows; i++ {
		for j := range r.schema {
			if j > 0 {
				sb.WriteByte('|')
			}
			sb.WriteString(FormatValue(r.Value(i, j)))
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

func (r *Result) bytes() int64 {
	var n int64
	for _, b := range r.batches {
		n += b.Bytes()
	}
	return n
}

// Cache keeps query results by plan token. A token covers the plan and the
// identity of its inputs as they were when the frame was built (a file's path,
// size and content digest, with its ctime and inode when it is too large to
// hash whole; an in-memory table's unique id), so a changed input never hits an
// old entry, even when its old mtime was restored. It is safe for concurrent
// use and evicts least recently used results past its byte limit.
type Cache struct {
	mu           sync.Mutex
	max          int64
	bytes        int64
	entries      map[string]*list.Element
	lru          *list.List
	hits, misses int64
}

type cacheEntry struct {
	token string
	res   *Result
	size  int64
}

// NewCache returns a cache holding at most maxBytes of results.
func NewCache(maxBytes int64) *Cache {
	return &Cache{max: maxBytes, entries: map[string]*list.Element{}, lru: list.New()}
}

func (c *Cache) get(token string) *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[token]; ok {
		c.lru.MoveToFront(el)
		c.hits++
		return el.Value.(*cacheEntry).res
	}
	c.misses++
	return nil
}

func (c *Cache) put(token string, r *Result) {
	size := r.bytes()
	c.mu.Lock()
	defer c.mu.Unlock()
	if size > c.max {
		return
	}
	if el, ok := c.entries[token]; ok {
		c.lru.Remove(el)
		c.bytes -= el.Value.(*cacheEntry).size
	}
	c.entries[token] = c.lru.PushFront(&cacheEntry{token: token, res: r, size: size})
	c.bytes += size
	for c.bytes > c.max {
		el := c.lru.Back()
		e := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.entries, e.token)
		c.bytes -= e.size
	}
}

// Stats returns the number of cache hits and misses so far.
func (c *Cache) Stats() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}
