package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/cwriter"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/tpch"
	"github.com/shoal-dev/shoal/tpch/dbgen"
)

// newTPCHGenCommand returns `shoal tpch gen`.
func newTPCHGenCommand() *cobra.Command {
	var (
		sf      float64
		format  string
		out     string
		tables  []string
		workers int
	)
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate TPC-H data exactly as the reference dbgen does",
		Long: `Generate the TPC-H tables at a scale factor, byte for byte as the reference
dbgen (TPC-H 2.14.0 to 2.17.3) writes them: one <table>.tbl file per table,
fields separated by '|', every line ending in "|". Tables are generated in
chunks on all CPUs. With --format parquet the same rows are converted to
one <table>.parquet file per table instead.

As with dbgen, a scale factor below 1 scales row counts by its thousandths
(0.01, 0.1, 0.5), and one of 1 or more is truncated to an integer (2.5
generates the same data as 2). Nation and region never scale.`,
		Example: `  shoal tpch gen --sf 1 --out data/sf1
  shoal tpch gen --sf 0.1 --out data/sf0.1 --tables lineitem,orders --workers 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := dbgen.Options{SF: sf, OutDir: out, Tables: genSplitTables(tables), Workers: workers}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			if format != "tbl" && format != "parquet" {
				return fmt.Errorf("unknown --format %q; use tbl or parquet", format)
			}
			return runTPCHGen(ctx, opts, format, cmd.ErrOrStderr(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.Float64Var(&sf, "sf", 1, "scale factor (> 0; 1 is about 1 GB of .tbl files)")
	f.StringVar(&format, "format", "tbl", "output format: tbl or parquet")
	f.StringVar(&out, "out", "", "directory to write the tables into (created if missing; existing table files are replaced)")
	f.StringSliceVar(&tables, "tables", nil, "tables to generate, comma-separated (default all: "+strings.Join(dbgen.Tables(), ",")+")")
	f.IntVar(&workers, "workers", 0, "generator goroutines (default: one per CPU)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// runTPCHGen writes the tables in format ("tbl" or "parquet") with progress
// on stderr: bars when stderr is a terminal, otherwise one line per
// finished table.
func runTPCHGen(ctx context.Context, opts dbgen.Options, format string, stderr, stdout io.Writer) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.SF >= 1 && opts.SF != math.Trunc(opts.SF) {
		fmt.Fprintf(stderr, "note: like dbgen, scale factor %v generates the SF %v data set (scale factors of 1 and above are truncated)\n",
			opts.SF, math.Trunc(opts.SF))
	}
	start := time.Now()
	var rep genProgress = &genLineProgress{w: stderr, start: start}
	if genIsTerminal(stderr) {
		rep = newGenBarProgress(ctx, stderr)
	}
	opts.Progress = rep.update
	var err error
	if format == "parquet" {
		err = genParquet(ctx, opts)
	} else {
		err = dbgen.Generate(ctx, opts)
	}
	rep.finish(err == nil)
	if err != nil {
		return err
	}
	var files int
	var size int64
	for _, t := range genTablesOrAll(opts.Tables) {
		if fi, err := os.Stat(filepath.Join(opts.OutDir, t+"."+format)); err == nil {
			files++
			size += fi.Size()
		}
	}
	fmt.Fprintf(stdout, "generated TPC-H SF %v as %s: %d tables, %s in %s, in %s\n",
		opts.SF, format, files, bytesize.Format(size), time.Since(start).Round(time.Millisecond), opts.OutDir)
	return nil
}

// genParquet writes every table of opts as <table>.parquet: dbgen's
// text of a table streams through a pipe into the Parquet converter of
// package tpch, several tables at a time (opts.Workers), largest first.
func genParquet(ctx context.Context, opts dbgen.Options) error {
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return fmt.Errorf("cannot create output directory: %w; choose a directory you can write to", err)
	}
	want := make(map[string]bool)
	for _, t := range genTablesOrAll(opts.Tables) {
		want[t] = true
	}
	workers := opts.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	slots := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, table := range []string{dbgen.Lineitem, dbgen.Orders, dbgen.PartSupp, dbgen.Part, dbgen.Customer, dbgen.Supplier, dbgen.Nation, dbgen.Region} {
		if !want[table] {
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := genTableParquet(ctx, table, opts); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("generating SF %v as Parquet into %s stopped: %w", opts.SF, opts.OutDir, err)
	}
	return nil
}

// genTableParquet generates one table and converts it to Parquet through a
// temporary file that is renamed into place when complete.
func genTableParquet(ctx context.Context, table string, opts dbgen.Options) error {
	total, err := dbgen.RowCount(table, opts.SF)
	if err != nil {
		return err
	}
	opts.Progress(table, 0, total)
	final := filepath.Join(opts.OutDir, table+".parquet")
	tmp := filepath.Join(opts.OutDir, "."+table+".parquet.tmp")
	pr, pw := io.Pipe()
	generated := make(chan struct{})
	go func() {
		defer close(generated)
		var rows int64
		var err error
		for block, blockErr := range dbgen.TextBlocks(ctx, table, opts.SF, 0, 1) {
			if err = blockErr; err != nil {
				break
			}
			if _, err = pw.Write(block); err != nil {
				break
			}
			rows += int64(bytes.Count(block, []byte{'\n'}))
			// The table is done when its Parquet file is, not before.
			opts.Progress(table, min(rows, total-1), total)
		}
		pw.CloseWithError(err)
	}()

	// PARQUET CALL SITE: the one place --format parquet converts a table;
	// the converter is the dataframe engine's, in package tpch.
	err = tpch.WriteParquet(ctx, table, pr, tmp)

	// Unblock the generator if the converter stopped before the end.
	pr.CloseWithError(errors.New("the Parquet converter stopped reading"))
	<-generated
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", final, err)
	}
	opts.Progress(table, total, total)
	return nil
}

// genSplitTables accepts both --tables a,b and repeated --tables flags, and
// drops blanks so that "lineitem," works.
func genSplitTables(in []string) []string {
	var out []string
	for _, t := range in {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, strings.ToLower(t))
		}
	}
	return out
}

func genTablesOrAll(tables []string) []string {
	if len(tables) == 0 {
		return dbgen.Tables()
	}
	return tables
}

// genIsTerminal reports whether w is a terminal that bars can be drawn on (a
// pseudo-terminal without a size, as under some CI runners, is not).
func genIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	cw := cwriter.New(f)
	if !cw.IsTerminal() {
		return false
	}
	width, height, err := cw.GetTermSize()
	return err == nil && width > 0 && height > 0
}

// genProgress receives dbgen.Options.Progress calls.
type genProgress interface {
	update(table string, done, total int64)
	finish(ok bool)
}

// genLineProgress prints a line when a table is complete.
type genLineProgress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (r *genLineProgress) update(table string, done, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if done == total {
		fmt.Fprintf(r.w, "%-8s %10d rows  done at %s\n", table, total, time.Since(r.start).Round(time.Millisecond))
	}
}

func (r *genLineProgress) finish(bool) {}

// genBarProgress shows a progress bar per table.
type genBarProgress struct {
	mu   sync.Mutex
	p    *mpb.Progress
	bars map[string]*mpb.Bar
}

func newGenBarProgress(ctx context.Context, w io.Writer) *genBarProgress {
	return &genBarProgress{
		p:    mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond)),
		bars: make(map[string]*mpb.Bar),
	}
}

func (r *genBarProgress) update(table string, done, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bar, ok := r.bars[table]
	if !ok {
		bar = r.p.AddBar(total,
			mpb.PrependDecorators(
				decor.Name(table, decor.WC{W: 9, C: decor.DindentRight}),
				decor.CountersNoUnit("%d / %d", decor.WC{W: 22}),
			),
			mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5})),
		)
		r.bars[table] = bar
	}
	bar.SetCurrent(done)
}

func (r *genBarProgress) finish(ok bool) {
	r.mu.Lock()
	for _, bar := range r.bars {
		if !bar.Completed() {
			bar.Abort(false)
		}
	}
	r.mu.Unlock()
	if ok {
		r.p.Wait()
	} else {
		r.p.Shutdown()
	}
}
