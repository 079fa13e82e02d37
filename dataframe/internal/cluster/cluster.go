// Package cluster runs a physical plan's stages as tasks on a Shoal
// cluster: the driver plans and coordinates, and never carries the bulk
// data (only the result).
//
//	driver (coordinator)                       executors (partition tasks)
//	────────────────────                       ───────────────────────────
//	stage 0: a task per partition  ─────────▶  scan → operators → map output (one object, stored on its node)
//	         (map outputs held as futures)
//	stage 1: a task per partition  ─────────▶  read its range of every map output (in place on its node,
//	         with the futures of stage 0           ranged fetch elsewhere) → operators → map output
//	...
//	result stage                   ─────────▶  operators → result rows (one object the driver reads)
//
// Exchanges are pull-based peer-to-peer shuffles (Spark's and Ballista's
// shape): each map task writes one object for all reducers, with an index
// of each reducer's byte range (exchange.MapOutputWriter), and each reducer
// reads its ranges from wherever those objects are. The coordinator holds
// only the map outputs' futures: O(maps) per stage. Map outputs are task
// results, so the cluster's lineage makes a lost one again by running its
// map task once more (and only that task) when the node holding it dies; a
// reducer reading it waits for the new copy. Partitioning is deterministic
// (exchange.Hasher), so a rerun reproduces the same output.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/exchange"
	"github.com/shoal-dev/shoal/dataframe/internal/physical"
	"github.com/shoal-dev/shoal/dataframe/internal/runner"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Options configure a run.
type Options struct {
	BatchSize int
	// MemoryBudget bounds each partition task's operator state (spilling to
	// the executor's temporary directory past it).
	MemoryBudget int64
	// OnStage, when set, is told what each stage did once it finished
	// (before the stages reading it start; one call at a time).
	OnStage func(StageStats)
	// TargetPartitionBytes: a stage that only reads shuffled rows runs one
	// task per run of consecutive reducer partitions holding up to this
	// many bytes (adaptive coalescing, Spark's 64 MiB); 0 turns it off.
	TargetPartitionBytes int64
	// BroadcastRows bounds the build side an adaptive join broadcasts
	// once its rows are known (physical.AdaptiveJoin); 0: none does.
	BroadcastRows int64
	// SkewedPartitionBytes: a partition of a stage's shuffled input
	// holding more than this many bytes, and more than SkewFactor times
	// the input's median partition, runs as several tasks, each reading
	// about TargetPartitionBytes of it (and all of the partition's rows
	// of the stage's other inputs) where the stage allows it
	// (physical.Stage.SplitsOn: Spark's adaptive skew join); 0 turns it
	// off.
	SkewedPartitionBytes int64
	// Label describes the query to the head (its dashboard's queries
	// page): the query's stages are reported there as they start and
	// finish.
	Label string
}

// SkewFactor is how many times its input's median partition a partition
// must hold to count as skewed (Spark's
// spark.sql.adaptive.skewJoin.skewedPartitionFactor).
const SkewFactor = 5

// StageStats is what a stage did.
type StageStats struct {
	Stage      int
	Partitions int
	// Output is how its rows were exchanged ("hash", "broadcast", "single",
	// "result").
	Output string
	// Rows and Bytes are what its partitions wrote (map output segments).
	Rows, Bytes int64
	// RowsIn counts the rows its partitions read from earlier stages;
	// LocalBytes and RemoteBytes the map output bytes they read on their
	// own node (in place) and fetched from other nodes.
	RowsIn, LocalBytes, RemoteBytes int64
	// Spills counts the times its operators spilled to disk.
	Spills int64
	// Coalesced: the stage ran fewer tasks than its plan's partitions,
	// small reducer partitions merged (Partitions is the tasks it ran).
	Coalesced bool
	// Split counts its skewed partitions that ran as several tasks each
	// (Options.SkewedPartitionBytes; Partitions counts those tasks).
	Split int
	// Nodes counts the partitions' outputs by the node they were made on.
	Nodes map[string]int
	// Inputs are the stages it read.
	Inputs []int
	// Started is when its inputs were ready and its tasks went out;
	// Duration how long until they all finished.
	Started  time.Time
	Duration time.Duration
	// Broadcast are the stages whose hash output this stage read whole, as
	// the build side of a join planned partitioned that turned out small
	// (an adaptive join: the stage partitioning its probe side did not
	// run, this one reading that side's input itself).
	Broadcast []int
	// Reruns counts the tasks the coordinator ran again after fetch
	// failures: this stage's partitions and the map tasks of earlier
	// stages whose outputs could not be read (a map output lost with its
	// node is rebuilt by the cluster's lineage, without a rerun here).
	Reruns int
}

// stageArgs is what one partition task of a stage gets.
type stageArgs struct {
	Stage     []byte // the stage, JSON
	Partition int
	Inputs    []input
	Sources   []partFutures // the futures this partition reads of its Futures sources
	BatchSize int
	Budget    int64
}

// input is the output of a stage that a stage reads: its map outputs, and
// how they are split between readers.
type input struct {
	Stage    int
	Kind     exchange.Kind
	Reducers int
	// Maps are the stage's map outputs that hold rows (empty ones are not
	// read); Index is each one's map partition.
	Maps  []*shoal.Future[[]byte]
	Index []int
	// Origins are the nodes the Maps were made on ("" when unknown).
	Origins []string
	// Segments, for a hash input of a coalesced stage, are the reducer
	// partitions the task reads (consecutive); empty: its own partition.
	Segments []int
	// Only, for the input a skewed partition was split on, are the map
	// partitions whose rows this task reads (in order; a part of the
	// partition's); empty: all of them.
	Only []int
}

// segments is how many segments each of the map outputs has: one per
// reducer of a hash output, one of the others.
func (in input) segments() int {
	if in.Kind == exchange.Hash {
		return in.Reducers
	}
	return 1
}

// mapIndex is the map partition of r.Maps[k].
func (in input) mapIndex(k int) int {
	if k < len(in.Index) {
		return in.Index[k]
	}
	return k
}

// stageTask runs one partition of a stage and returns its output: a map
// output (or, for the result stage, the result rows in one segment).
var stageTask = shoal.Func1("shoal.dataframe.stage", func(ctx context.Context, a stageArgs) ([]byte, error) {
	var st physical.Stage
	if err := json.Unmarshal(a.Stage, &st); err != nil {
		return nil, fmt.Errorf("decoding stage: %w", err)
	}
	if err := st.OpenSpecs(resolveSource(a.Partition, a.Sources)); err != nil {
		return nil, err
	}
	exchanges := map[int]exchange.Exchange{}
	var readers []*mapReader
	closeReaders := func() {
		for _, r := range readers {
			r.Close()
		}
	}
	// finish lets go of what the task holds when it ends, unless the
	// executor took it with the result's parts.
	finish := closeReaders
	defer func() {
		if finish != nil {
			finish()
		}
	}()
	for _, in := range a.Inputs {
		r := &mapReader{in: in, schema: readSchema(st.Root, in.Stage), node: shoal.NodeID(ctx)}
		readers = append(readers, r)
		exchanges[in.Stage] = r
	}
	spec := st.Output
	if spec.Kind == exchange.Result {
		spec = exchange.Spec{Kind: exchange.Single}
	}
	w, err := exchange.NewMapOutputWriter(spec, st.Root.Schema)
	if err != nil {
		return nil, err
	}
	w.Origin = shoal.NodeID(ctx)
	// A stage that passes on what it read as it is (a repartition's
	// reducers) emits the readers' batches, which hold until the readers
	// close: the output keeps them by reference, and the readers close
	// with the output's parts.
	write := w.Write
	if st.Root.Kind == physical.KindExchangeRead {
		write = w.WriteStable
	}
	var spills atomic.Int64
	err = runner.RunPartition(ctx, &st, a.Partition, exchanges, runner.Options{BatchSize: a.BatchSize, MemoryBudget: a.Budget,
		OnSpill: func(string) { spills.Add(1) }},
		func(b *coldata.Batch) error {
			write(b)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("stage %d, partition %d: %w", st.ID, a.Partition, err)
	}
	w.Read.Spills = spills.Load()
	for _, r := range readers {
		r.mu.Lock()
		w.Read.Rows += r.read.Rows
		w.Read.LocalBytes += r.read.LocalBytes
		w.Read.RemoteBytes += r.read.RemoteBytes
		r.mu.Unlock()
	}
	parts, _, release, err := w.FinishParts()
	finish = func() {
		release()
		closeReaders()
	}
	if err != nil {
		return nil, err
	}
	if shoal.GatherResult(ctx, parts, finish) {
		finish = nil
		return nil, nil // (the executor stores the parts as the result)
	}
	return bytes.Join(parts, nil), nil // (before the deferred finish)
}).StoreResults() // (map outputs stay on their node, read in ranges there: never inline at the coordinator)

// shuffledStageTask runs the partitions of a stage whose input is only
// shuffled rows: spread over the nodes, as each reads a slice of every map
// output (the head, counting whole objects, would keep them waiting for
// the node holding the most).
var shuffledStageTask = stageTask.With(shoal.WithSpread())

// readSchema finds the schema of what o's stage reads of stage id.
func readSchema(o *physical.Op, id int) types.Schema {
	if o == nil {
		return nil
	}
	if o.Kind == physical.KindExchangeRead && o.Stage == id {
		return o.Schema
	}
	if s := readSchema(o.Input, id); s != nil {
		return s
	}
	return readSchema(o.Build, id)
}

// mapReader serves a partition task's reads of a stage's map outputs: its
// segment of each, read in place where the output is on this node.
type mapReader struct {
	in     input
	schema types.Schema
	// columns are those decoded (nil: all; the others' vectors are nil):
	// a scan of a table left on the cluster reads only its own.
	columns []int
	// node is the node this task runs on; read counts what was read.
	node     string
	mu       sync.Mutex
	releases []func()
	read     exchange.ReadStats
}

// Reads of one reducer's ranges run concurrently, to hide each remote
// read's round trip, within a bound on the bytes fetched and not yet
// decoded (Spark's maxBytesInFlight is 48 MiB).
const (
	readsInFlight    = 8
	maxBytesInFlight = 64 << 20
	// headerReadsInFlight bounds the coordinator's concurrent reads of map
	// output headers and indexes (a few KiB each: a stage's 20 take one
	// round trip instead of three).
	headerReadsInFlight = 32
)

// Read implements exchange.Exchange: partition p's segment of every map
// output, index entries first (24 bytes each), then the segments, each
// from the node that holds it (in place when that is this node).
func (r *mapReader) Read(ctx context.Context, p int) ([]*coldata.Batch, error) {
	if r.in.Kind != exchange.Hash {
		return r.readSegment(ctx, p, 0)
	}
	if len(r.in.Segments) == 0 {
		return r.readSegment(ctx, p, p)
	}
	var out []*coldata.Batch
	for _, seg := range r.in.Segments { // (a coalesced partition)
		bs, err := r.readSegment(ctx, p, seg)
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	return out, nil
}

// readSegment reads segment seg of every map output, for partition p.
func (r *mapReader) readSegment(ctx context.Context, p, seg int) ([]*coldata.Batch, error) {
	segs := make([]exchange.Segment, len(r.in.Maps))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readsInFlight)
	for m, f := range r.in.Maps {
		g.Go(func() error {
			entry, release, err := shoal.ReadRange(gctx, f, exchange.IndexEntryOffset(r.in.segments(), seg), exchange.IndexEntrySize)
			if err != nil {
				return fetchFailed(r.in, r.in.mapIndex(m), p, fmt.Errorf("reading the index: %w", err))
			}
			defer release()
			if segs[m], err = exchange.ParseEntry(entry, -1); err != nil {
				return fmt.Errorf("map output %d of stage %d: %w", m, r.in.Stage, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	parts := make([][]*coldata.Batch, len(r.in.Maps))
	budget := semaphore.NewWeighted(maxBytesInFlight)
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(readsInFlight)
	for m, f := range r.in.Maps {
		s := segs[m]
		if s.Rows == 0 {
			continue
		}
		weight := min(s.Length, maxBytesInFlight)
		if err := budget.Acquire(gctx, weight); err != nil {
			break // (the group's error, or ctx's, is returned below)
		}
		g.Go(func() error {
			defer budget.Release(weight)
			data, release, err := shoal.ReadRange(gctx, f, s.Offset, s.Length)
			if err != nil {
				return fetchFailed(r.in, r.in.mapIndex(m), p, fmt.Errorf("reading segment %d: %w", seg, err))
			}
			r.mu.Lock()
			r.releases = append(r.releases, release)
			r.read.Rows += s.Rows
			if k := m; k < len(r.in.Origins) && r.in.Origins[k] != "" && r.in.Origins[k] == r.node {
				r.read.LocalBytes += s.Length
			} else {
				r.read.RemoteBytes += s.Length
			}
			r.mu.Unlock()
			bs, err := exchange.DecodeSegmentColumns(r.schema, data, r.columns)
			if err != nil {
				return fmt.Errorf("partition %d of map output %d of stage %d: %w", seg, m, r.in.Stage, err)
			}
			parts[m] = bs
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []*coldata.Batch
	for _, bs := range parts {
		out = append(out, bs...)
	}
	return out, nil
}

// Write, CloseWrite: a reader does not write.
func (r *mapReader) Write(context.Context, int, *coldata.Batch) error {
	return fmt.Errorf("a partition task does not write into the exchange it reads")
}

// CloseWrite implements exchange.Exchange.
func (r *mapReader) CloseWrite(int) error { return nil }

// Close lets go of the map outputs' memory the batches read in place.
func (r *mapReader) Close() error {
	r.mu.Lock()
	rs := r.releases
	r.releases = nil
	r.mu.Unlock()
	for _, release := range rs {
		release()
	}
	return nil
}

// Run executes p on the cluster of ctx and returns the result batches
// (owned, in partition order).
func Run(ctx context.Context, p *physical.Plan, opts Options) ([]*coldata.Batch, error) {
	st, parts, err := runStages(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, f := range parts {
			f.Release()
		}
	}()
	return results(ctx, st, parts)
}

// Persist executes p on the cluster of ctx and leaves its result there:
// a table over the result partitions, each on the node that made it (as
// Dask's persist and Ray Data's materialize). The partitions live as long
// as the table is referenced.
func Persist(ctx context.Context, p *physical.Plan, opts Options) (*Futures, error) {
	st, parts, err := runStages(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	hs, _, _, err := readHeaders(ctx, st, parts)
	if err != nil {
		for _, f := range parts {
			f.Release()
		}
		return nil, err
	}
	return newOutputFutures(st.Root.Schema, parts, stageStats(st, hs).Rows), nil
}

// runStages runs p's stages and returns the result stage and its
// partitions' outputs (the caller's to release). Each stage starts once
// the stages it reads have finished, so independent stages (the two sides
// of a join, a subquery's scan) run at the same time, as Spark's DAG
// scheduler submits every stage whose parents are done.
func runStages(ctx context.Context, p *physical.Plan, opts Options) (*physical.Stage, []*shoal.Future[[]byte], error) {
	if err := p.AttachSpecs(); err != nil {
		return nil, nil, err
	}
	q := &query{plan: p, opts: opts, outputs: map[int]*stageOutput{}, done: map[int]chan struct{}{},
		adaptive: map[int]physical.AdaptiveJoin{}, whole: map[int][]int{}, report: newQueryReport(ctx, opts.Label, len(p.Stages))}
	for _, a := range p.Adaptive {
		q.adaptive[a.Probe] = a
	}
	var result *physical.Stage
	for _, st := range p.Stages {
		q.done[st.ID] = make(chan struct{})
		if st.Output.Kind == exchange.Result {
			result = st
		}
	}
	if result == nil {
		return nil, nil, fmt.Errorf("the plan has no result stage")
	}
	before := map[int]bool{} // (the stages are in an order where each reads earlier ones)
	for _, st := range p.Stages {
		for _, id := range st.Inputs {
			if !before[id] {
				return nil, nil, fmt.Errorf("stage %d reads stage %d, which the plan does not have before it", st.ID, id)
			}
		}
		before[st.ID] = true
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, st := range p.Stages {
		g.Go(func() error { return q.run(gctx, st) })
	}
	err := g.Wait()
	q.report.end(err)
	var maps []*shoal.Future[[]byte]
	if err == nil {
		maps = q.outputs[result.ID].maps
		delete(q.outputs, result.ID) // the caller's
	}
	for _, o := range q.outputs {
		// Every stage's outputs stay (and their nodes pinned) until the
		// query ends, also once no later stage reads them: a map output
		// lost with its node is made again by running its task, which
		// reads the outputs of the stages before it (as Spark keeps a
		// job's shuffle files). The chaos workload found a rebuild reading
		// a released input when they went as soon as they were read.
		o.release()
	}
	if err != nil {
		return nil, nil, err
	}
	return result, maps, nil
}

// query is the coordinator's state of one run: the stages' outputs, each
// registered before its stage's tasks start and complete once done[stage]
// is closed.
type query struct {
	plan    *physical.Plan
	opts    Options
	mu      sync.Mutex // guards outputs (the map), and stages' Inputs and whole while adaptive joins change them
	outputs map[int]*stageOutput
	// adaptive maps the probe stage of each adaptive join to it; whole
	// maps a stage to the hash outputs it reads whole (the build sides
	// of the joins it now broadcasts).
	adaptive map[int]physical.AdaptiveJoin
	whole    map[int][]int
	done     map[int]chan struct{}
	onStage  sync.Mutex // one OnStage call at a time
	report   *queryReport
	// cpus is the cluster's CPUs, asked of the head once per query (a
	// round trip per stage otherwise).
	cpusOnce sync.Once
	cpus     int
	cpusErr  error
}

// clusterCPUs is CPUs(ctx), once per query.
func (q *query) clusterCPUs(ctx context.Context) (int, error) {
	q.cpusOnce.Do(func() { q.cpus, q.cpusErr = CPUs(ctx) })
	return q.cpus, q.cpusErr
}

// output is stage id's output, once that stage finished.
func (q *query) output(id int) *stageOutput {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.outputs[id]
}

// run runs stage st once its inputs are done: its partitions' tasks, then
// what the stages reading it need to know of their outputs.
func (q *query) run(ctx context.Context, st *physical.Stage) error {
	if a, ok := q.adaptive[st.ID]; ok {
		if broadcast, err := q.broadcastJoin(ctx, a); err != nil || broadcast {
			return err
		}
	}
	if err := q.awaitInputs(ctx, st); err != nil {
		return err
	}
	js, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("stage %d: %w", st.ID, err)
	}
	q.mu.Lock()
	whole := q.whole[st.ID]
	q.mu.Unlock()
	sources := futuresSources(st.Root, nil)
	start := time.Now()
	var groups [][]int
	if len(whole) == 0 { // (a stage reading a hash output whole runs as planned)
		if groups, err = coalesce(ctx, st, q.output, q.opts.TargetPartitionBytes, q.clusterCPUs); err != nil {
			return err
		}
	}
	shapes := taskShapes(st, groups)
	split := 0
	if len(whole) == 0 {
		shapes, split = splitSkewed(st, shapes, q.output, q.opts)
	}
	tasks := len(shapes)
	task := stageTask
	if !hasScan(st.Root) {
		// Its input is shuffled rows, a slice of every map output: where
		// they are says nothing of where it should run.
		task = shuffledStageTask
	}
	args := make([]stageArgs, tasks)
	maps := make([]*shoal.Future[[]byte], tasks)
	for k, sh := range shapes {
		part := sh.part
		a := stageArgs{Stage: js, Partition: part, BatchSize: q.opts.BatchSize, Budget: q.opts.MemoryBudget}
		for _, id := range st.Inputs {
			o := q.output(id)
			switch {
			case slices.Contains(whole, id):
				a.Inputs = append(a.Inputs, o.asInput(id, allSegments(o.spec.Partitions), part, nil))
			case id == sh.splitOn:
				a.Inputs = append(a.Inputs, o.asInput(id, sh.segments, part, sh.only))
			default:
				a.Inputs = append(a.Inputs, o.asInput(id, sh.segments, part, nil))
			}
		}
		for _, src := range sources {
			a.Sources = append(a.Sources, src.forPartition(part, st.Partitions))
		}
		args[k] = a
		maps[k] = task.Remote(ctx, a)
	}
	q.report.started(st, tasks, start)
	out := &stageOutput{spec: st.Output, maps: maps, args: args, task: task}
	q.mu.Lock()
	q.outputs[st.ID] = out
	q.mu.Unlock()
	reruns, err := awaitStage(ctx, st, out, q.output)
	if err != nil {
		return err
	}
	var hs []exchange.Header
	if st.Output.Kind != exchange.Result || q.opts.OnStage != nil {
		if hs, out.nonEmpty, out.segmentBytes, err = readHeaders(ctx, st, maps); err != nil {
			return err
		}
		if out.segmentBytes != nil {
			out.reducerBytes = make([]int64, st.Output.Partitions)
			for k, n := range out.segmentBytes {
				out.reducerBytes[k%st.Output.Partitions] += n
			}
		}
	}
	if st.Output.Kind != exchange.Result {
		// Later stages read these outputs: their nodes stay (an
		// autoscaler keeps them, saying why) until the outputs go.
		if err := locateOutputs(ctx, st, out, hs); err != nil {
			return err
		}
	}
	stats := stageStats(st, hs)
	stats.Partitions, stats.Coalesced, stats.Split = tasks, groups != nil, split
	stats.Inputs, stats.Started, stats.Duration, stats.Reruns = st.Inputs, start, time.Since(start), reruns
	stats.Broadcast = whole
	q.report.finished(stats)
	if q.opts.OnStage != nil {
		q.onStage.Lock() // (before the stages reading st start)
		q.opts.OnStage(stats)
		q.onStage.Unlock()
	}
	close(q.done[st.ID])
	return nil
}

// awaitInputs waits until the stages st reads are done, its inputs read
// again once they are (an adaptive join may have changed them meanwhile:
// broadcastJoin changes them before it lets the stage go on).
func (q *query) awaitInputs(ctx context.Context, st *physical.Stage) error {
	for {
		q.mu.Lock()
		inputs := slices.Clone(st.Inputs)
		q.mu.Unlock()
		for _, id := range inputs {
			select {
			case <-q.done[id]:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		q.mu.Lock()
		same := slices.Equal(inputs, st.Inputs)
		q.mu.Unlock()
		if same {
			return nil
		}
	}
}

// broadcastJoin decides adaptive join a once its build side is done (a
// is run by its probe stage, which waits for that): when the build side
// holds at most Options.BroadcastRows rows, the join's stage broadcasts
// it and reads the probe side's input itself, and the probe stage does
// not run (it reports true). Otherwise the probe stage runs as planned.
func (q *query) broadcastJoin(ctx context.Context, a physical.AdaptiveJoin) (bool, error) {
	select {
	case <-q.done[a.Build]:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	if q.opts.BroadcastRows <= 0 {
		return false, nil
	}
	build := q.output(a.Build)
	if build == nil || build.spec.Kind != exchange.Hash {
		return false, nil
	}
	build.mu.Lock()
	var rows int64
	for _, n := range build.rows {
		if n < 0 {
			rows = -1 // (made again since: not known)
			break
		}
		rows += n
	}
	build.mu.Unlock()
	if rows < 0 || rows > q.opts.BroadcastRows {
		return false, nil
	}
	q.mu.Lock()
	join := q.plan.BroadcastJoin(a)
	if join != nil {
		q.whole[join.ID] = append(q.whole[join.ID], a.Build)
	}
	q.mu.Unlock()
	if join == nil {
		return false, nil
	}
	slog.Debug("shoal: a join's build side turned out small: broadcast", "join_stage", join.ID, "build_stage", a.Build, "rows", rows,
		"probe_stage", a.Probe)
	close(q.done[a.Probe]) // (the join's stage goes on, reading its new inputs)
	return true, nil
}

// maxCoalesceEntries bounds the index entries (maps x reducers) the
// coordinator reads with a stage's headers to know its reducer
// partitions' sizes: past it the stages reading it run as planned.
const maxCoalesceEntries = 1 << 18

// coalesce decides, for a stage whose partitioned input is only shuffled
// rows (hash exchanges of its partition count: no scans), which runs of
// consecutive reducer partitions each of its tasks reads, so that each
// holds up to target bytes of input (nil: run as planned). The sizes come
// from the inputs' map output indexes (read with their headers).
func coalesce(ctx context.Context, st *physical.Stage, output func(stage int) *stageOutput, target int64, cpusOf func(context.Context) (int, error)) ([][]int, error) {
	if target <= 0 || st.Partitions <= 1 || hasScan(st.Root) {
		return nil, nil
	}
	size := make([]int64, st.Partitions)
	hashed := 0
	for _, id := range st.Inputs {
		o := output(id)
		if o.spec.Kind != exchange.Hash {
			continue
		}
		if o.spec.Fixed || o.spec.Partitions != st.Partitions || o.reducerBytes == nil {
			return nil, nil
		}
		hashed++
		for r, n := range o.reducerBytes {
			size[r] += n
		}
	}
	if hashed == 0 {
		return nil, nil
	}
	groups := groupSizes(size, target)
	if cpus, err := cpusOf(ctx); err == nil && len(groups) < min(cpus, st.Partitions) {
		// Not fewer tasks than the cluster's CPUs (Spark's
		// parallelismFirst): smaller groups, about even in bytes.
		var total int64
		for _, n := range size {
			total += n
		}
		groups = groupSizes(size, max(1, (total+int64(cpus)-1)/int64(cpus)))
	}
	if len(groups) >= st.Partitions {
		return nil, nil
	}
	return groups, nil
}

// groupSizes splits partitions of the given sizes into runs of consecutive
// ones holding up to target bytes (a larger partition alone).
func groupSizes(size []int64, target int64) [][]int {
	var groups [][]int
	var cur []int
	var bytes int64
	for r, n := range size {
		if len(cur) > 0 && bytes+n > target {
			groups = append(groups, cur)
			cur, bytes = nil, 0
		}
		cur = append(cur, r)
		bytes += n
	}
	return append(groups, cur)
}

func hasScan(o *physical.Op) bool {
	if o == nil {
		return false
	}
	return o.Kind == physical.KindScan || hasScan(o.Input) || hasScan(o.Build)
}

// taskShape is what one task of a stage reads: partition part (the
// task's index when coalesced) and, of its hash inputs, the reducer
// partitions segments (none: part's); of input splitOn (-1: none), only
// the map outputs only.
type taskShape struct {
	part     int
	segments []int
	splitOn  int
	only     []int
}

// taskShapes is a task per partition of st, or per group of coalesced
// partitions.
func taskShapes(st *physical.Stage, groups [][]int) []taskShape {
	if groups == nil {
		shapes := make([]taskShape, st.Partitions)
		for p := range shapes {
			shapes[p] = taskShape{part: p, splitOn: -1}
		}
		return shapes
	}
	shapes := make([]taskShape, len(groups))
	for k, g := range groups {
		shapes[k] = taskShape{part: k, segments: g, splitOn: -1}
	}
	return shapes
}

// splitSkewed runs each skewed partition of st as several tasks (Spark's
// adaptive skew join): a partition whose rows of one of st's hash inputs
// are more than opts.SkewedPartitionBytes and SkewFactor times that
// input's median partition, when st allows it (physical.Stage.SplitsOn),
// is read by one task per run of consecutive map outputs holding about
// opts.TargetPartitionBytes of it, each task reading all of the
// partition's rows of st's other inputs. It returns the new shapes and
// how many partitions it split. The sizes are those of the inputs' map
// output indexes (not known past maxCoalesceEntries entries: no split).
func splitSkewed(st *physical.Stage, shapes []taskShape, output func(stage int) *stageOutput, opts Options) ([]taskShape, int) {
	if opts.SkewedPartitionBytes <= 0 || opts.TargetPartitionBytes <= 0 || hasScan(st.Root) {
		return shapes, 0
	}
	type skew struct {
		input  int
		groups [][]int
		bytes  int64
	}
	skewed := map[int]skew{} // by partition
	for _, id := range st.Inputs {
		o := output(id)
		if o.spec.Kind != exchange.Hash || o.spec.Fixed || o.spec.Partitions != st.Partitions || o.segmentBytes == nil || !st.SplitsOn(id) {
			continue
		}
		median := slices.Clone(o.reducerBytes)
		slices.Sort(median)
		bound := max(opts.SkewedPartitionBytes, SkewFactor*median[len(median)/2])
		for p, n := range o.reducerBytes {
			if n <= bound || n <= skewed[p].bytes {
				continue
			}
			// Consecutive map outputs of about the target bytes of p each.
			var groups [][]int
			var cur []int
			var bytes int64
			r := o.spec.Partitions
			for m := range len(o.segmentBytes) / r {
				b := o.segmentBytes[m*r+p]
				if b == 0 {
					continue
				}
				if len(cur) > 0 && bytes+b > opts.TargetPartitionBytes {
					groups = append(groups, cur)
					cur, bytes = nil, 0
				}
				cur = append(cur, m)
				bytes += b
			}
			if groups = append(groups, cur); len(groups) > 1 {
				skewed[p] = skew{input: id, groups: groups, bytes: n}
			}
		}
	}
	if len(skewed) == 0 {
		return shapes, 0
	}
	var out []taskShape
	split := 0
	for _, sh := range shapes {
		p := sh.part
		if sh.segments != nil {
			if len(sh.segments) != 1 {
				out = append(out, sh)
				continue
			}
			p = sh.segments[0]
		}
		sk, ok := skewed[p]
		if !ok {
			out = append(out, sh)
			continue
		}
		split++
		for _, only := range sk.groups {
			out = append(out, taskShape{part: sh.part, segments: sh.segments, splitOn: sk.input, only: only})
		}
	}
	return out, split
}

// allSegments lists the reducer partitions 0..n-1 (a stage reading a
// hash output whole reads them all).
func allSegments(n int) []int {
	segs := make([]int, n)
	for r := range segs {
		segs[r] = r
	}
	return segs
}

// MaxStageAttempts bounds how many times a stage runs when its partitions
// cannot read their input (Spark's spark.stage.maxConsecutiveAttempts).
const MaxStageAttempts = 4

// awaitStage waits for a stage's partitions. A partition that failed to
// fetch a map output (FetchFailedError) runs again after the map task
// that made the output runs again (once, however many partitions, of this
// stage or another, failed on it), up to MaxStageAttempts; any other
// failure (the task's own retries are spent) ends the query. It returns
// how many tasks it ran again.
func awaitStage(ctx context.Context, st *physical.Stage, out *stageOutput, output func(stage int) *stageOutput) (int, error) {
	reruns := 0
	for attempt := 1; ; attempt++ {
		if _, _, err := shoal.Wait(ctx, out.maps, len(out.maps), -1); err != nil {
			return reruns, err
		}
		var failed []int
		for part, f := range out.maps {
			err := f.Err()
			if err == nil {
				continue
			}
			var ff *FetchFailedError
			if !errors.As(err, &ff) {
				return reruns, fmt.Errorf("stage %d, partition %d: %w", st.ID, part, err)
			}
			if attempt == MaxStageAttempts {
				return reruns, fmt.Errorf("stage %d failed %d times, the most allowed (partition %d could not read its input each time; the last time: %w)",
					st.ID, attempt, part, err)
			}
			in := output(ff.Shuffle)
			if in == nil || ff.Map < 0 || ff.Map >= len(in.args) {
				return reruns, fmt.Errorf("stage %d, partition %d: %w (the coordinator does not hold that map output)", st.ID, part, err)
			}
			if in.remake(ctx, ff.Map, readBy(out.args[part], ff.Shuffle, ff.Map)) {
				slog.Warn("shoal: a shuffle fetch failed; running its map task again", "stage", st.ID, "partition", part,
					"map_stage", ff.Shuffle, "map", ff.Map, "node", ff.Node, "attempt", attempt, "error", ff.Cause)
				reruns++
			}
			failed = append(failed, part)
		}
		if len(failed) == 0 {
			return reruns, nil
		}
		for _, part := range failed {
			a := &out.args[part]
			for i, in := range a.Inputs {
				a.Inputs[i] = output(in.Stage).asInput(in.Stage, in.Segments, part, in.Only) // (with the map outputs made again)
			}
			out.maps[part].Release()
			out.maps[part] = out.task.Remote(ctx, *a)
			reruns++
		}
	}
}

// readBy is the future of map output m of stage shuffle that a task with
// args a read (nil if none).
func readBy(a stageArgs, shuffle, m int) *shoal.Future[[]byte] {
	for _, in := range a.Inputs {
		if in.Stage != shuffle {
			continue
		}
		for k, idx := range in.Index {
			if idx == m {
				return in.Maps[k]
			}
		}
	}
	return nil
}

// remake runs map task m again, unless the output a reader failed to read
// (read) was already replaced by a run since. It says whether it did.
func (o *stageOutput) remake(ctx context.Context, m int, read *shoal.Future[[]byte]) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if read != nil && o.maps[m] != read {
		return false
	}
	o.maps[m].Release()
	o.maps[m] = o.task.Remote(ctx, o.args[m])
	o.rows[m], o.origins[m] = -1, "" // (read it whatever it holds, wherever it is)
	if m < len(o.nonEmpty) {
		o.nonEmpty[m] = nil
	}
	return true
}

// FetchFailedError says a partition task could not read a map output of
// an earlier stage (after the cluster's own retries and rebuilds): which
// shuffle (the stage that wrote it), which map partition, and the node
// the failure names.
type FetchFailedError struct {
	Shuffle int    // the stage whose map output could not be read
	Map     int    // its map partition
	Reduce  int    // the partition reading it
	Node    string // the node named by the failure ("" when unknown)
	Cause   string
}

func (e *FetchFailedError) Error() string {
	node := e.Node
	if node == "" {
		node = "unknown"
	}
	return fmt.Sprintf("shuffle fetch failed: map output %d of stage %d (read by partition %d; node %s): %s", e.Map, e.Shuffle, e.Reduce, node, e.Cause)
}

func init() { shoal.RegisterErrorType[*FetchFailedError]("shoal.dataframe.FetchFailed") }

// fetchFailed wraps a failed read of map output m of in as a FetchFailedError.
func fetchFailed(in input, m, reduce int, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	ff := &FetchFailedError{Shuffle: in.Stage, Map: m, Reduce: reduce, Cause: err.Error()}
	var te *shoal.TaskError
	if errors.As(err, &te) && !te.Node.IsNil() {
		ff.Node = te.Node.String()
	}
	return ff
}

// futuresSources lists the Futures tables o's scans read.
func futuresSources(o *physical.Op, acc []*Futures) []*Futures {
	if o == nil {
		return acc
	}
	if f, ok := o.Source.(*Futures); ok && o.Kind == physical.KindScan && !slices.Contains(acc, f) {
		acc = append(acc, f)
	}
	return futuresSources(o.Build, futuresSources(o.Input, acc))
}

// stageOutput is a stage's map outputs, held by the coordinator while a
// later stage reads them (so the cluster keeps, or rebuilds, them). Once
// its stage finished, mu guards maps, rows and origins: the stages reading
// it run its map tasks again when they cannot fetch an output.
type stageOutput struct {
	spec    exchange.Spec
	mu      sync.Mutex
	maps    []*shoal.Future[[]byte]
	args    []stageArgs // each partition's task's, to run one again
	task    *shoal.Func[[]byte]
	pin     *shoal.Pin // on the nodes holding maps, while a later stage reads them
	rows    []int64    // each map output's rows (-1: unknown)
	origins []string   // each map output's node ("" when unknown)
	// nonEmpty, for a hash output, is which reducer partitions each map
	// output holds rows for (nil: unknown), from its header: a reducer is
	// given only the outputs holding its rows (and the coordinator keeps
	// maps × reducers bits, not a future per pair).
	nonEmpty []exchange.NonEmpty
	// reducerBytes is the bytes each reducer partition of a hash output
	// holds (nil when not read: too many index entries), segmentBytes
	// those of each map output's (reducer partition r of map m at
	// m*reducers+r); a map task run again writes the same rows, so they
	// stay about true.
	reducerBytes, segmentBytes []int64
}

// asInput describes o to a task of a stage that reads it (as stage id):
// the map outputs that may hold rows for it, of those in only (none: of
// all). Of a hash output the task reads the reducer partitions segments
// (none: its own, part); of the others, their one segment.
func (o *stageOutput) asInput(id int, segments []int, part int, only []int) input {
	o.mu.Lock()
	defer o.mu.Unlock()
	in := input{Stage: id, Kind: o.spec.Kind, Reducers: o.spec.Partitions, Only: only}
	reads := []int{0}
	if o.spec.Kind == exchange.Hash {
		in.Segments, reads = segments, segments
		if len(reads) == 0 {
			reads = []int{part}
		}
	}
	for m, f := range o.maps {
		if o.rows != nil && o.rows[m] == 0 {
			continue
		}
		if len(only) > 0 {
			if _, in := slices.BinarySearch(only, m); !in {
				continue
			}
		}
		if in.Kind == exchange.Hash && m < len(o.nonEmpty) && o.nonEmpty[m] != nil &&
			!slices.ContainsFunc(reads, o.nonEmpty[m].Has) {
			continue
		}
		in.Maps = append(in.Maps, f)
		in.Index = append(in.Index, m)
		origin := ""
		if m < len(o.origins) {
			origin = o.origins[m]
		}
		in.Origins = append(in.Origins, origin)
	}
	return in
}

func (o *stageOutput) release() {
	for _, f := range o.maps {
		f.Release()
	}
	if o.pin != nil {
		if err := o.pin.Unpin(); err != nil {
			slog.Warn("shoal: unpinning a query's shuffle nodes", "error", err)
		}
		o.pin = nil
	}
}

// results reads the result stage's rows: each partition's one segment,
// copied (the driver owns the result; the objects go with the query). The
// partitions are fetched several at a time (each is a round trip to the
// node holding it) and kept in partition order.
func results(ctx context.Context, st *physical.Stage, parts []*shoal.Future[[]byte]) ([]*coldata.Batch, error) {
	got := make([][]*coldata.Batch, len(parts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readsInFlight)
	for part, f := range parts {
		g.Go(func() error {
			data, err := f.Get(gctx)
			if err != nil {
				return fmt.Errorf("the result of partition %d: %w", part, err)
			}
			segs, err := exchange.SplitMapOutput(data)
			if err != nil || len(segs) != 1 {
				return fmt.Errorf("the result of partition %d: %d segments, %v", part, len(segs), err)
			}
			if segs[0].Rows == 0 {
				return nil
			}
			own := append([]byte(nil), data[segs[0].Offset:segs[0].Offset+segs[0].Length]...)
			runtime.KeepAlive(f) // (data is a view of its value until copied)
			bs, err := exchange.DecodeSegment(st.Root.Schema, own)
			if err != nil {
				return fmt.Errorf("the result of partition %d: %w", part, err)
			}
			got[part] = bs
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []*coldata.Batch
	for _, bs := range got {
		out = append(out, bs...)
	}
	return out, nil
}

// InCluster reports whether ctx carries a connection to a cluster (Init's
// context), where a query's stages can run.
func InCluster(ctx context.Context) bool {
	_, err := shoal.ClusterStatus(ctx)
	return err == nil
}

// CPUs is the cluster's CPUs, the default partition count of a query on it.
func CPUs(ctx context.Context) (int, error) {
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		return 0, err
	}
	cpus := 0.0
	for _, n := range st.Nodes {
		if n.Alive {
			cpus += n.Total.CPU
		}
	}
	return max(1, int(cpus)), nil
}

// readHeaders reads the header of each map output, several at a time,
// with a hash output's non-empty bitmaps (R/8 bytes each) and, for at most
// maxCoalesceEntries index entries, its index too (in the same read): the
// bytes of each reducer partition of each map output (that of map m's
// reducer r at m*R+r; nil when not read).
func readHeaders(ctx context.Context, st *physical.Stage, maps []*shoal.Future[[]byte]) ([]exchange.Header, []exchange.NonEmpty, []int64, error) {
	hs := make([]exchange.Header, len(maps))
	var nonEmpty []exchange.NonEmpty
	reducers := 0
	if st.Output.Kind == exchange.Hash {
		reducers = st.Output.Partitions
		nonEmpty = make([]exchange.NonEmpty, len(maps))
	}
	var sizes []int64
	if reducers > 0 && int64(len(maps))*int64(reducers) <= maxCoalesceEntries {
		sizes = make([]int64, len(maps)*reducers)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(headerReadsInFlight)
	for m, f := range maps {
		g.Go(func() error {
			var index func([]byte) error
			if sizes != nil {
				index = func(index []byte) error {
					for r := range reducers {
						e, err := exchange.ParseEntry(index[r*exchange.IndexEntrySize:(r+1)*exchange.IndexEntrySize], -1)
						if err != nil {
							return err
						}
						sizes[m*reducers+r] = e.Length
					}
					return nil
				}
			}
			h, ne, err := mapHeader(gctx, f, reducers, index)
			if err != nil {
				return fmt.Errorf("stage %d, map output %d: %w", st.ID, m, err)
			}
			hs[m] = h
			if nonEmpty != nil {
				nonEmpty[m] = ne
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, nil, err
	}
	return hs, nonEmpty, sizes, nil
}

// locateOutputs records where each of a stage's map outputs is and how
// many rows it holds (so that readers skip empty ones), and pins the nodes
// holding them.
func locateOutputs(ctx context.Context, st *physical.Stage, out *stageOutput, hs []exchange.Header) error {
	var nodes []string
	out.rows, out.origins = make([]int64, len(out.maps)), make([]string, len(out.maps))
	for m, h := range hs {
		out.rows[m], out.origins[m] = h.Rows, h.Origin
		if h.Origin != "" && !slices.Contains(nodes, h.Origin) {
			nodes = append(nodes, h.Origin)
		}
	}
	lease, err := shoal.PinNodes(ctx, nodes, fmt.Sprintf("a query's stage %d wrote %d map outputs there that a later stage reads", st.ID, len(out.maps)), 0)
	if err != nil {
		return fmt.Errorf("stage %d: pinning the nodes of its outputs: %w", st.ID, err)
	}
	out.pin = lease
	return nil
}

// mapHeader reads a map output's header and, for a hash output of
// reducers segments (reducers > 0), its non-empty bitmap; with index set,
// it hands its index to index too.
func mapHeader(ctx context.Context, f *shoal.Future[[]byte], reducers int, index func([]byte) error) (exchange.Header, exchange.NonEmpty, error) {
	n := int64(exchange.HeaderSize)
	if reducers > 0 {
		n += exchange.NonEmptySize(reducers)
		if index != nil {
			n = exchange.IndexEntryOffset(reducers, reducers)
		}
	}
	b, release, err := shoal.ReadRange(ctx, f, 0, n)
	if err != nil {
		return exchange.Header{}, nil, err
	}
	defer release()
	h, err := exchange.ParseHeader(b[:exchange.HeaderSize])
	if err != nil || reducers == 0 {
		return h, nil, err
	}
	if h.Segments != reducers {
		return h, nil, fmt.Errorf("the map output has %d segments, its stage %d", h.Segments, reducers)
	}
	bitmap := b[exchange.HeaderSize : exchange.HeaderSize+exchange.NonEmptySize(reducers)]
	ne, err := exchange.ParseNonEmpty(bitmap, reducers)
	if err != nil || index == nil {
		return h, ne, err
	}
	return h, ne, index(b[exchange.HeaderSize+len(bitmap):])
}

// stageStats sums what a finished stage's map outputs' headers say.
func stageStats(st *physical.Stage, hs []exchange.Header) StageStats {
	s := StageStats{Stage: st.ID, Partitions: st.Partitions, Output: string(st.Output.Kind), Nodes: map[string]int{}}
	for _, h := range hs {
		s.Nodes[h.Origin]++
		s.Rows += h.Rows
		s.Bytes += h.Bytes
		s.RowsIn += h.Read.Rows
		s.LocalBytes += h.Read.LocalBytes
		s.RemoteBytes += h.Read.RemoteBytes
		s.Spills += h.Read.Spills
	}
	return s
}
