package runner

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashagg"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/sorter"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/spill"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/window"
	"github.com/shoal-dev/shoal/dataframe/internal/exchange"
	"github.com/shoal-dev/shoal/dataframe/internal/physical"
)

// Options configure execution.
type Options struct {
	// Parallelism is how many partitions run at once (GOMAXPROCS when 0).
	Parallelism int
	// BatchSize is the operators' target batch length.
	BatchSize int
	// MemoryBudget bounds the state of memory-hungry operators (hash aggregate,
	// hash join build, sort) in total; each running partition gets an equal share.
	MemoryBudget int64
	// SpillDir is where spill files go (the system temp dir when empty).
	SpillDir string
	// OnSpill is told whenever an operator spills.
	OnSpill func(operator string)
	// Sink, when set, receives the result batches (serialized, in the order
	// produced) instead of Run collecting them; the batch is valid during the call.
	Sink func(b *coldata.Batch) error
	// Profile, when set, gathers each operator's rows and time.
	Profile *Profile
}

// Run executes p and returns the result batches (owned, in order).
func Run(ctx context.Context, p *physical.Plan, opts Options) (out []*coldata.Batch, err error) {
	if opts.Parallelism <= 0 {
		opts.Parallelism = runtime.GOMAXPROCS(0)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = coldata.DefaultBatchSize
	}
	r := &run{opts: opts, exchanges: map[int]exchange.Exchange{}, tables: map[*physical.Op]*sharedTable{}}
	defer r.close()
	for _, st := range p.Stages {
		if st.Output.Kind == exchange.Result {
			res, err := r.runStage(ctx, st, true)
			if err != nil {
				return nil, err
			}
			return res, nil
		}
		if _, err := r.runStage(ctx, st, false); err != nil {
			return nil, err
		}
		// Exchanges no later stage reads can be dropped.
		for _, in := range st.Inputs {
			if !r.readLater(p, st.ID, in) {
				r.exchanges[in].Close()
			}
		}
	}
	return nil, fmt.Errorf("plan has no result stage")
}

type run struct {
	opts      Options
	mu        sync.Mutex
	exchanges map[int]exchange.Exchange
	tables    map[*physical.Op]*sharedTable
}

type sharedTable struct {
	once      sync.Once
	table     *hashjoin.Table
	preserved *hashjoin.Preserved
	err       error
}

func (r *run) readLater(p *physical.Plan, after, stage int) bool {
	for _, st := range p.Stages {
		if st.ID <= after {
			continue
		}
		for _, in := range st.Inputs {
			if in == stage {
				return true
			}
		}
	}
	return false
}

func (r *run) close() {
	for _, ex := range r.exchanges {
		ex.Close()
	}
}

func (r *run) runStage(ctx context.Context, st *physical.Stage, result bool) ([]*coldata.Batch, error) {
	if r.opts.Profile != nil {
		defer func(start time.Time) { r.opts.Profile.stage(st.ID, time.Since(start)) }(time.Now())
	}
	var ex exchange.Exchange
	results := make([][]*coldata.Batch, st.Partitions)
	var sinkMu sync.Mutex
	if !result {
		m, err := exchange.NewMemory(st.Output, st.Root.Schema, st.Partitions)
		if err != nil {
			return nil, err
		}
		ex = m
		r.exchanges[st.ID] = ex
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, r.opts.Parallelism)
	errs := make([]error, st.Partitions)
	var wg sync.WaitGroup
	for p := 0; p < st.Partitions; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[p] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			errs[p] = r.partition(ctx, st, p, func(b *coldata.Batch) error {
				switch {
				case result && r.opts.Sink != nil:
					sinkMu.Lock()
					defer sinkMu.Unlock()
					return r.opts.Sink(b)
				case result:
					results[p] = append(results[p], coldata.Compact(b))
					return nil
				default:
					return ex.Write(ctx, p, b)
				}
			})
			if errs[p] == nil && ex != nil {
				errs[p] = ex.CloseWrite(p)
			}
			if errs[p] != nil {
				cancel()
			}
		}(p)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && err != context.Canceled {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	var out []*coldata.Batch
	for _, rs := range results {
		out = append(out, rs...)
	}
	return out, nil
}

// RunPartition runs partition p of stage st alone, its exchange reads
// served by exchanges (by producing stage), handing each output batch to
// emit (valid during the call). A cluster's partition task runs it; Run
// runs every partition of every stage this way in one process, so the
// operators have one code path.
func RunPartition(ctx context.Context, st *physical.Stage, p int, exchanges map[int]exchange.Exchange, opts Options, emit func(*coldata.Batch) error) error {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 1
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = coldata.DefaultBatchSize
	}
	r := &run{opts: opts, exchanges: exchanges, tables: map[*physical.Op]*sharedTable{}}
	return r.partition(ctx, st, p, emit)
}

// partition runs partition p of st, handing its output to emit.
func (r *run) partition(ctx context.Context, st *physical.Stage, p int, emit func(*coldata.Batch) error) error {
	return colexecop.Catch(func() {
		op := r.build(ctx, st.Root, p, st.Partitions)
		defer func() {
			if err := op.Close(); err != nil {
				colexecop.Throw(err)
			}
		}()
		op.Init(ctx)
		for {
			b := op.Next()
			if b.Len() == 0 {
				return
			}
			if err := emit(b); err != nil {
				colexecop.Throw(err)
			}
		}
	})
}

func (r *run) spillConfig() *spill.Config {
	if r.opts.MemoryBudget <= 0 {
		return nil
	}
	return &spill.Config{Budget: r.opts.MemoryBudget / int64(r.opts.Parallelism), Dir: r.opts.SpillDir, OnSpill: r.opts.OnSpill}
}

// build instantiates the operator tree of o for partition p of parts,
// profiled when the run is.
func (r *run) build(ctx context.Context, o *physical.Op, p, parts int) colexecop.Operator {
	op := r.buildOp(ctx, o, p, parts)
	if r.opts.Profile != nil {
		return r.opts.Profile.wrap(o, op)
	}
	return op
}

func (r *run) buildOp(ctx context.Context, o *physical.Op, p, parts int) colexecop.Operator {
	bs := r.opts.BatchSize
	switch o.Kind {
	case physical.KindScan:
		op, err := o.Source.Open(ctx, scan.Request{Partition: p, Partitions: parts, Columns: o.Columns, Filter: o.Pred, BatchSize: bs})
		if err != nil {
			colexecop.Throw(err)
		}
		return op
	case physical.KindExchangeRead:
		ex := r.exchanges[o.Stage]
		data, err := ex.Read(ctx, p)
		if err != nil {
			colexecop.Throw(err)
		}
		return exchange.Reader(data, bs)
	case physical.KindFilter:
		return &colexecop.Filter{Input: r.build(ctx, o.Input, p, parts), Pred: o.Pred, Schema: o.Input.Schema}
	case physical.KindProject:
		return &colexecop.Project{Input: r.build(ctx, o.Input, p, parts), Exprs: o.Exprs, Schema: o.Input.Schema}
	case physical.KindLimit:
		return &colexecop.Limit{Input: r.build(ctx, o.Input, p, parts), N: o.Limit, Offset: o.Offset}
	case physical.KindUnion:
		return &colexecop.Concat{Inputs: []colexecop.Operator{r.build(ctx, o.Input, p, parts), r.build(ctx, o.Build, p, parts)}}
	case physical.KindSingleRow:
		return &colexecop.SingleRow{Input: r.build(ctx, o.Input, p, parts)}
	case physical.KindSort:
		return &sorter.Sort{Input: r.build(ctx, o.Input, p, parts), Schema: o.Schema, Keys: o.SortKeys,
			BatchSize: bs, Spill: r.spillConfig(), Limit: o.Limit}
	case physical.KindWindow:
		return &window.Window{Input: r.build(ctx, o.Input, p, parts), Schema: o.Input.Schema, Spec: *o.Window, BatchSize: bs}
	case physical.KindHashAgg:
		return &hashagg.HashAgg{Input: r.build(ctx, o.Input, p, parts), Schema: o.Input.Schema, Keys: o.Keys,
			Aggs: o.Aggs, Phase: o.Phase, BatchSize: bs, Spill: r.spillConfig(), GroupsHint: int(o.GroupsHint)}
	case physical.KindHashJoin:
		j := &hashjoin.HashJoin{Type: o.JoinType, Probe: r.build(ctx, o.Input, p, parts), ProbeSchema: o.Input.Schema,
			ProbeKeys: o.ProbeKeys, BuildSchema: o.Build.Schema, BuildKeys: o.BuildKeys, Residual: o.Residual,
			BatchSize: bs, Spill: r.spillConfig()}
		keepProbe := o.JoinType == hashjoin.Inner || o.JoinType == hashjoin.Left || !o.BuildLeft
		keepBuild := o.JoinType == hashjoin.Inner || o.JoinType == hashjoin.Left || o.BuildLeft
		if keepProbe {
			for i := range o.Input.Schema {
				j.ProbeOut = append(j.ProbeOut, i)
			}
		}
		if keepBuild {
			for i := range o.Build.Schema {
				j.BuildOut = append(j.BuildOut, i)
			}
		}
		if o.Broadcast {
			j.BuildLeft = o.BuildLeft
			j.Table = func(ctx context.Context) *hashjoin.Table {
				st := r.sharedTable(ctx, o, parts)
				j.Preserved = st.preserved
				return st.table
			}
		} else {
			j.Build = r.build(ctx, o.Build, p, parts)
			if o.BuildLeft {
				// (marks are kept in memory: a preserved side that does not
				// fit is not built, see physical.join)
				j.BuildLeft, j.Spill = true, nil
			}
		}
		return j
	}
	colexecop.Throwf("unknown physical operator %q", o.Kind)
	return nil
}

// sharedTable builds a broadcast join's table once for all probe partitions.
func (r *run) sharedTable(ctx context.Context, o *physical.Op, probeParts int) *sharedTable {
	r.mu.Lock()
	st := r.tables[o]
	if st == nil {
		st = &sharedTable{}
		r.tables[o] = st
	}
	r.mu.Unlock()
	st.once.Do(func() {
		st.err = colexecop.Catch(func() {
			data, err := r.exchanges[o.Build.Stage].Read(ctx, 0)
			if err != nil {
				colexecop.Throw(err)
			}
			st.table = hashjoin.BuildTable(o.Build.Schema, data, o.BuildKeys)
			if o.BuildLeft {
				st.preserved = hashjoin.NewPreserved(st.table, probeParts)
			}
		})
	})
	if st.err != nil {
		colexecop.Throw(st.err)
	}
	return st
}
