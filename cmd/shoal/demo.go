package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/examples/batchinference"
)

// errDemoFailed makes `shoal demo` exit non-zero after printing a result
// whose checks did not hold.
var errDemoFailed = errors.New("the demo's checks failed (see the result)")

func newDemoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a complete example workload on an autoscaling local cluster",
	}
	cmd.AddCommand(newBatchInferenceDemoCommand())
	return cmd
}

func newBatchInferenceDemoCommand() *cobra.Command {
	var (
		cfg     batchinference.Config
		asJSON  bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "batch-inference",
		Short: "Classify generated items with a model held by an autoscaling actor pool",
		Long: `Start a local cluster whose head runs the autoscaler with the local
provider (one-CPU nodes, between 1 and --max-nodes), then stream --items
generated items through a pool of Predictor actors (each loads the model once
and classifies --batch-size items per call). The pool grows while all its
actors are busy; actors that do not fit wait for the autoscaler to add nodes;
when the stream ends the pool is released and the cluster shrinks back to one
node. With --kill-node-after, one autoscaled node is SIGKILLed that long into
the run: its actor restarts elsewhere and its batches are retried.

Every item must come back exactly once, and 1% of the predictions are
recomputed locally and compared; --parquet writes the checked predictions
to a file as they stream by. The command exits 1 if any check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the shoal binary to start the cluster with: %w", err)
			}
			cfg.Binary = bin
			if verbose {
				cfg.Output = cmd.ErrOrStderr()
			}
			bar := newCLIBar(ctx, cmd.ErrOrStderr(), "items", int64(cfg.Items), false)
			if bar != nil {
				cfg.Progress = func(n int) { bar.set(int64(n)) }
			}
			res, err := batchinference.Run(ctx, cfg)
			bar.finish(err == nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(out, res); err != nil {
					return err
				}
			} else {
				printBatchInference(out, res)
			}
			if res.Missing > 0 || res.Duplicates > 0 || res.Wrong > 0 || res.Outputs != res.Items {
				return errDemoFailed
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Items, "items", 200_000, "items to classify")
	f.IntVar(&cfg.BatchSize, "batch-size", 1024, "items per actor call")
	f.IntVar(&cfg.MaxNodes, "max-nodes", 4, "most nodes the autoscaler may run")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed of the model's weights")
	f.DurationVar(&cfg.KillAfter, "kill-node-after", 0, "SIGKILL one autoscaled node this long into the run (0: never)")
	f.StringVar(&cfg.Parquet, "parquet", "", "also write the checked predictions to this Parquet file")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&verbose, "verbose", false, "show the cluster's logs on stderr")
	return cmd
}

func printBatchInference(w io.Writer, r *batchinference.Result) {
	fmt.Fprintf(w, "classified %d items in %.2fs (%.0f items/s)\n", r.Items, r.DurationS, r.ItemsPerSec)
	fmt.Fprintf(w, "outputs: %d distinct, %d missing, %d duplicated; %d predictions recomputed, %d wrong\n",
		r.Outputs, r.Missing, r.Duplicates, r.Checked, r.Wrong)
	fmt.Fprintf(w, "nodes: at most %d, %d killed, %d at the end\n", r.MaxNodes, r.NodesKilled, r.FinalNodes)
	fmt.Fprint(w, "cluster size over time:")
	for _, p := range r.NodesOverTime {
		fmt.Fprintf(w, " %.1fs=%d", (time.Duration(p[0]) * time.Millisecond).Seconds(), p[1])
	}
	fmt.Fprintln(w)
	for _, e := range r.Events {
		fmt.Fprintln(w, " ", e)
	}
}
