package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/cwriter"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/shoal-dev/shoal/tpch/dbgen"
)

// errParquetUnavailable is what --format parquet returns until the
// dataframe engine's converter exists.
var errParquetUnavailable = errors.New("parquet output is not available yet; use --format tbl")

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
chunks on all CPUs.

As with dbgen, a scale factor below 1 scales row counts by its thousandths
(0.01, 0.1, 0.5), and one of 1 or more is truncated to an integer (2.5
generates the same data as 2). Nation and region never scale.`,
		Example: `  shoal tpch gen --sf 1 --out data/sf1
  shoal tpch gen --sf 0.1 --out data/sf0.1 --tables lineitem,orders --workers 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := dbgen.Options{SF: sf, OutDir: out, Tables: splitTables(tables), Workers: workers}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			switch format {
			case "tbl":
				return generateTBL(ctx, opts, cmd.ErrOrStderr(), cmd.OutOrStdout())
			case "parquet":
				return generateParquet(ctx, opts)
			default:
				return fmt.Errorf("unknown --format %q; use tbl or parquet", format)
			}
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

// generateParquet writes the tables as Parquet files.
//
// PARQUET CALL SITE: this is the one place `shoal tpch gen --format parquet`
// reaches. When package github.com/shoal-dev/shoal/tpch provides the
// converter from generated text to Parquet, call it here with opts (it can
// read the tables chunk by chunk through dbgen.TextBlocks) and remove
// errParquetUnavailable.
func generateParquet(ctx context.Context, opts dbgen.Options) error {
	_, _ = ctx, opts
	return errParquetUnavailable
}

// generateTBL runs dbgen.Generate with progress on stderr: bars when stderr
// is a terminal, otherwise one line per finished table.
func generateTBL(ctx context.Context, opts dbgen.Options, stderr, stdout io.Writer) error {
	if opts.SF >= 1 && opts.SF != math.Trunc(opts.SF) {
		fmt.Fprintf(stderr, "note: like dbgen, scale factor %v generates the SF %v data set (scale factors of 1 and above are truncated)\n",
			opts.SF, math.Trunc(opts.SF))
	}
	start := time.Now()
	var rep progressReporter = &lineReporter{w: stderr, start: start}
	if isTerminal(stderr) {
		rep = newBarReporter(ctx, stderr)
	}
	opts.Progress = rep.update
	err := dbgen.Generate(ctx, opts)
	rep.finish(err == nil)
	if err != nil {
		return err
	}
	var files int
	var bytes int64
	for _, t := range tablesOrAll(opts.Tables) {
		if fi, err := os.Stat(filepath.Join(opts.OutDir, t+".tbl")); err == nil {
			files++
			bytes += fi.Size()
		}
	}
	fmt.Fprintf(stdout, "generated TPC-H SF %v: %d tables, %.1f MB in %s, in %s\n",
		opts.SF, files, float64(bytes)/1e6, time.Since(start).Round(time.Millisecond), opts.OutDir)
	return nil
}

// splitTables accepts both --tables a,b and repeated --tables flags, and
// drops blanks so that "lineitem," works.
func splitTables(in []string) []string {
	var out []string
	for _, t := range in {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, strings.ToLower(t))
		}
	}
	return out
}

func tablesOrAll(tables []string) []string {
	if len(tables) == 0 {
		return dbgen.Tables()
	}
	return tables
}

// isTerminal reports whether w is a terminal that bars can be drawn on (a
// pseudo-terminal without a size, as under some CI runners, is not).
func isTerminal(w io.Writer) bool {
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

// progressReporter receives dbgen.Options.Progress calls.
type progressReporter interface {
	update(table string, done, total int64)
	finish(ok bool)
}

// lineReporter prints a line when a table is complete.
type lineReporter struct {
	w     io.Writer
	start time.Time
}

func (r *lineReporter) update(table string, done, total int64) {
	if done == total {
		fmt.Fprintf(r.w, "%-8s %10d rows  done at %s\n", table, total, time.Since(r.start).Round(time.Millisecond))
	}
}

func (r *lineReporter) finish(bool) {}

// barReporter shows a progress bar per table.
type barReporter struct {
	mu   sync.Mutex
	p    *mpb.Progress
	bars map[string]*mpb.Bar
}

func newBarReporter(ctx context.Context, w io.Writer) *barReporter {
	return &barReporter{
		p:    mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond)),
		bars: make(map[string]*mpb.Bar),
	}
}

func (r *barReporter) update(table string, done, total int64) {
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

func (r *barReporter) finish(ok bool) {
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
