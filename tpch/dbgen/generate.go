package dbgen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
)

// Options says what Generate writes.
type Options struct {
	// SF is the TPC-H scale factor, > 0 and < 30000. As with dbgen, a scale
	// factor below 1 scales row counts by its thousandths and one of 1 or
	// more is truncated to an integer (2.5 generates SF 2).
	SF float64
	// OutDir is the directory the <table>.tbl files are written to. It is
	// created if missing; existing files of the generated tables are
	// replaced.
	OutDir string
	// Tables lists the tables to generate (names from Tables()); nil or
	// empty means all eight.
	Tables []string
	// Workers is the number of goroutines generating rows; 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// Progress, if set, is called with a table's rows written so far and
	// its total: once with 0 when generation starts, then after each
	// written block, the last time with rowsDone == rowsTotal. Calls are
	// serialized but come from Generate's goroutines, so Progress must not
	// block for long.
	Progress func(table string, rowsDone, rowsTotal int64)
}

// Generate writes the TPC-H tables at scale factor opts.SF into opts.OutDir
// as <table>.tbl files, byte for byte as dbgen writes them. Tables are split
// into chunks that opts.Workers goroutines generate concurrently; each file
// is written in order through a temporary file that is renamed into place
// when the table is complete, so a .tbl file is either whole or absent.
//
// On error or cancellation no temporary file is left behind; files already
// renamed into place stay. Memory use is bounded: a few chunks of a few
// megabytes per worker plus the shared 300 MiB text pool.
func Generate(ctx context.Context, opts Options) error {
	p, err := newPlan(opts)
	if err != nil {
		return fmt.Errorf("dbgen: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dbgen: generation not started: %w", err)
	}
	return p.run(ctx)
}

// Validate reports what is wrong with o, if anything, as Generate would
// before it writes: the scale factor, the table names, Workers and OutDir
// (whether OutDir can be written is only known when writing).
func (o Options) Validate() error {
	if _, err := newPlan(o); err != nil {
		return fmt.Errorf("dbgen: %w", err)
	}
	return nil
}

// plan is a validated Generate call.
type plan struct {
	opts    Options
	sc      scaling
	want    [numTables]bool
	workers int
}

func newPlan(opts Options) (*plan, error) {
	p := &plan{opts: opts}
	var err error
	if p.sc, err = newScaling(opts.SF); err != nil {
		return nil, err
	}
	if len(opts.Tables) == 0 {
		for t := range p.want {
			p.want[t] = true
		}
	}
	for _, name := range opts.Tables {
		t, err := lookupTable(name)
		if err != nil {
			return nil, err
		}
		p.want[t] = true
	}
	switch {
	case opts.Workers < 0:
		return nil, fmt.Errorf("Workers is %d; use a positive number, or 0 for one per CPU", opts.Workers)
	case opts.Workers == 0:
		p.workers = runtime.GOMAXPROCS(0)
	default:
		p.workers = opts.Workers
	}
	if opts.OutDir == "" {
		return nil, errors.New("OutDir is empty; set it to the directory to write the .tbl files into")
	}
	return p, nil
}

// unit is a range of a group's driving rows generated as one piece of work.
type unit struct {
	group     group
	seq       int64 // position among the group's units
	first, n  int64
	remaining atomic.Int32 // outputs not yet written
}

// unitRows is how many driving rows one unit of work covers: a few
// megabytes of text, but at least four units per worker when the table
// is small enough for that to matter.
func unitRows(g group, rows int64, workers int) int64 {
	var size int64
	switch g {
	case gOrders:
		size = 8192
	case gPart:
		size = 4096
	default:
		size = 16384
	}
	perWorker := (rows + int64(4*workers) - 1) / int64(4*workers)
	return max(min(size, perWorker), 256)
}

// tableOutput is one .tbl file being written, in unit order.
type tableOutput struct {
	table     tableID
	final     string
	file      *os.File
	results   chan unitResult
	rowsTotal int64
	rowsDone  int64
	units     int64 // number of units that write to this table
}

// unitSchedule lists the units of every group to generate, in order; units
// are made when a worker takes them.
type unitSchedule []groupUnits

type groupUnits struct {
	group      group
	rows, step int64 // driving rows and rows per unit
	count      int64 // units
}

// unit returns the i-th unit of the schedule, or nil past the end.
func (s unitSchedule) unit(i int64) *unit {
	for _, g := range s {
		if i < g.count {
			first := i*g.step + 1
			return &unit{group: g.group, seq: i, first: first, n: min(g.step, g.rows-first+1)}
		}
		i -= g.count
	}
	return nil
}

type unitResult struct {
	u    *unit
	buf  *[]byte
	rows int64
}

func (p *plan) run(ctx context.Context) (err error) {
	// Row totals (lineitem's needs a pass over the order lines stream).
	outs := make(map[tableID]*tableOutput)
	for t := range numTables {
		if p.want[t] {
			outs[t] = &tableOutput{table: t, final: filepath.Join(p.opts.OutDir, t.String()+".tbl")}
		}
	}
	for t, o := range outs {
		o.rowsTotal = p.sc.rowCount(t, p.workers)
	}

	// Units of work, largest group first.
	var sched unitSchedule
	for g := range numGroups {
		primary, secondary := groupTables(g)
		if outs[primary] == nil && (secondary < 0 || outs[secondary] == nil) {
			continue
		}
		rows := p.sc.drivingRows(g)
		step := unitRows(g, rows, p.workers)
		count := (rows + step - 1) / step
		sched = append(sched, groupUnits{group: g, rows: rows, step: step, count: count})
		for _, t := range []tableID{primary, secondary} {
			if t >= 0 && outs[t] != nil {
				outs[t].units = count
			}
		}
	}

	// At most maxPending units are generated but not yet written; a worker
	// takes a token before it takes the next unit, so the oldest unwritten
	// unit of every table always holds one and is being generated.
	maxPending := 2 * p.workers

	// Files first, so that an unwritable directory is reported at once.
	if err := os.MkdirAll(p.opts.OutDir, 0o755); err != nil {
		return fmt.Errorf("dbgen: cannot create output directory: %w; choose a directory you can write to", err)
	}
	defer func() {
		for _, o := range outs {
			if o.file != nil {
				o.file.Close()
				os.Remove(o.file.Name())
			}
		}
	}()
	for _, o := range outs {
		f, err := os.CreateTemp(p.opts.OutDir, "."+o.table.String()+".tbl.*.tmp")
		if err != nil {
			return fmt.Errorf("dbgen: cannot write %s in %s: %w; choose a directory you can write to", o.final, p.opts.OutDir, err)
		}
		o.file = f
		// A unit sends at most one result per table and holds a token
		// until its results are written, so sends never block.
		o.results = make(chan unitResult, maxPending)
	}
	var progressMu sync.Mutex
	progress := func(o *tableOutput) {
		if p.opts.Progress != nil {
			progressMu.Lock()
			defer progressMu.Unlock()
			p.opts.Progress(o.table.String(), o.rowsDone, o.rowsTotal)
		}
	}
	for t := range numTables {
		if o := outs[t]; o != nil {
			progress(o)
		}
	}
	// The text pool is needed by every table: build it (once per process).
	env, err := sharedEnv()
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	tokens := make(chan struct{}, maxPending)
	bufs := make(bufferList, 2*maxPending)
	var next atomic.Int64
	var writers, workers sync.WaitGroup

	for _, o := range outs {
		writers.Go(func() {
			if err := o.write(ctx, tokens, bufs, progress); err != nil {
				cancel(err)
			}
		})
	}
	for range p.workers {
		workers.Go(func() {
			for {
				select {
				case tokens <- struct{}{}:
				case <-ctx.Done():
					return
				}
				u := sched.unit(next.Add(1) - 1)
				if u == nil {
					<-tokens
					return
				}
				p.generate(env, u, outs, bufs)
			}
		})
	}
	workers.Wait()
	writers.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("dbgen: generating SF %v into %s stopped: %w", p.opts.SF, p.opts.OutDir, err)
	}
	for _, o := range outs {
		f := o.file
		o.file = nil
		// CreateTemp made the file 0600; a finished table is read by
		// others as the Parquet files are (os.Create's 0644 under the
		// usual umask).
		if err := f.Chmod(0o644); err != nil {
			f.Close()
			os.Remove(f.Name())
			return fmt.Errorf("dbgen: writing %s: %w", o.final, err)
		}
		if err := f.Close(); err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("dbgen: writing %s: %w", o.final, err)
		}
		if err := os.Rename(f.Name(), o.final); err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("dbgen: moving the finished %s into place: %w", o.final, err)
		}
	}
	return nil
}

// generate produces one unit and hands its text to the tables' writers.
func (p *plan) generate(env *genEnv, u *unit, outs map[tableID]*tableOutput, bufs bufferList) {
	primary, secondary := groupTables(u.group)
	po := outs[primary]
	var so *tableOutput
	if secondary >= 0 {
		so = outs[secondary]
	}
	var pb, sb *[]byte
	if po != nil {
		pb = bufs.get()
		u.remaining.Add(1)
	}
	if so != nil {
		sb = bufs.get()
		u.remaining.Add(1)
	}
	gen := newGroupGen(env, p.sc, u.group, u.first, po != nil, so != nil)
	secondaryRows := gen.appendRows(u.n, pb, sb)
	// A results channel holds maxPending results and this unit holds one of
	// the maxPending tokens, so these sends never block.
	if po != nil {
		po.results <- unitResult{u: u, buf: pb, rows: u.n}
	}
	if so != nil {
		so.results <- unitResult{u: u, buf: sb, rows: secondaryRows}
	}
}

// write writes the table's units in order as they arrive.
func (o *tableOutput) write(ctx context.Context, tokens chan struct{}, bufs bufferList, progress func(*tableOutput)) error {
	pending := make(map[int64]unitResult)
	for want := int64(0); want < o.units; {
		r, ok := pending[want]
		if !ok {
			select {
			case r = <-o.results:
			case <-ctx.Done():
				return nil
			}
			if r.u.seq != want {
				pending[r.u.seq] = r
				continue
			}
		}
		delete(pending, want)
		want++
		if _, err := o.file.Write(*r.buf); err != nil {
			return fmt.Errorf("writing %s: %w", o.final, err)
		}
		bufs.put(r.buf)
		if r.u.remaining.Add(-1) == 0 {
			<-tokens
		}
		o.rowsDone += r.rows
		progress(o)
	}
	return nil
}

// bufferList recycles the text buffers of written units, so that after the
// first few units no buffer grows any more.
type bufferList chan *[]byte

func (l bufferList) get() *[]byte {
	select {
	case b := <-l:
		*b = (*b)[:0]
		return b
	default:
		return new([]byte)
	}
}

func (l bufferList) put(b *[]byte) {
	select {
	case l <- b:
	default:
	}
}
