package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/chaos"
	"github.com/shoal-dev/shoal/internal/ids"
)

// errChaosFailed makes `shoal chaos` exit non-zero after printing a
// result that did not pass.
var errChaosFailed = errors.New("the chaos run failed (see the result)")

func newChaosCommand() *cobra.Command {
	var (
		cfg     chaos.Config
		mode    string
		asJSON  bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Run a workload on a local cluster while nodes are killed, and check every result",
		Long: `Start a local cluster (a head and --nodes node processes), run a workload
through it as a driver, and hit one random node at a random moment of each
--kill-interval, up to --max-kills, never the last node (nor the node that
hosts the actors workload's receivers). A killed node is replaced so that
the cluster keeps its size. Every result is checked against values computed
independently, then the cluster's free CPU must come back to the baseline
within --restore-timeout of the last result.

Workloads:
  tasks    ` + describeWorkload("tasks") + `
  actors   ` + describeWorkload("actors") + `
  objects  ` + describeWorkload("objects") + `
  shuffle  ` + describeWorkload("shuffle") + `

Modes:
  process    SIGKILL of the node process (its executors die with it)
  drain      shoal.Drain with --drain-deadline (no new work, running tasks
             finish, only copies move, actors restart elsewhere), then the
             node exits
  partition  the node and its executors are frozen (SIGSTOP) for
             --partition-duration, then thawed: to the head and the peers a
             node gone silent, as behind a partition (an approximation)

The plan of faults and the workload's data come from --seed (random if not
given; printed): the same seed gives the same plan. --json prints one JSON
object; the command exits 1 when the run did not pass. Logs go to a temporary
directory that is kept when the run fails (log_dir in the result).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Mode = chaos.Mode(mode)
			if !cmd.Flags().Changed("seed") {
				var b [8]byte
				rand.Read(b[:])
				cfg.Seed = int64(binary.LittleEndian.Uint64(b[:]) >> 1)
			}
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the shoal binary: %w", err)
			}
			cfg.Binary = bin
			cfg.Log = os.Stderr
			if verbose {
				cfg.Output = os.Stderr
			}
			ctx, stop := signalContext()
			defer stop()
			res, err := chaos.Run(ctx, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
					return err
				}
			} else {
				printChaos(os.Stdout, res)
			}
			if !res.OK() {
				return errChaosFailed
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Workload, "workload", "tasks", "workload: "+strings.Join(chaos.Workloads(), ", "))
	f.IntVar(&cfg.Nodes, "nodes", chaos.DefaultNodes, "node processes (kept by replacements)")
	f.Float64Var(&cfg.CPUsPerNode, "cpus-per-node", chaos.DefaultCPUsPerNode, "CPUs each node offers")
	f.StringVar(&mode, "mode", string(chaos.ModeProcess), "how nodes are hit: process, drain or partition")
	f.DurationVar(&cfg.KillInterval, "kill-interval", chaos.DefaultKillInterval, "one fault at a random moment of each interval")
	f.IntVar(&cfg.MaxKills, "max-kills", chaos.DefaultMaxKills, "most faults in a run")
	f.Int64Var(&cfg.Seed, "seed", 0, "seed of the plan and the data (default: random, printed)")
	f.DurationVar(&cfg.PartitionFor, "partition-duration", chaos.DefaultPartitionFor, "how long a partitioned node stays frozen")
	f.DurationVar(&cfg.DrainDeadline, "drain-deadline", chaos.DefaultDrainDeadline, "how long a drained node's running tasks get to finish (shoal.Drain's deadline)")
	f.IntVar(&cfg.Scale, "scale", chaos.DefaultScale, "workload size multiplier (75 as in the field's test)")
	f.DurationVar(&cfg.Sleep, "sleep", chaos.DefaultSleep, "how long each parent task (tasks) or reader (objects) sleeps; actors' calls sleep a quarter of it")
	f.DurationVar(&cfg.Timeout, "timeout", chaos.DefaultTimeout, "bound on the workload")
	f.DurationVar(&cfg.RestoreTimeout, "restore-timeout", chaos.DefaultRestoreTimeout, "how soon after the last result the free resources must be back to the baseline")
	f.StringSliceVar(&cfg.HeadArgs, "head-arg", nil, "extra flag for the head, e.g. --head-arg=--heartbeat-timeout=1s (repeatable)")
	f.StringVar(&cfg.Dir, "log-dir", "", "directory for the logs (default: a temporary one, removed after a run that passed)")
	f.BoolVar(&cfg.KeepLogs, "keep-logs", false, "keep the logs of a run that passed")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.BoolVarP(&verbose, "verbose", "v", false, "copy every process's output to stderr")
	return cmd
}

func describeWorkload(name string) string {
	w, err := chaos.Lookup(name)
	if err != nil {
		return err.Error()
	}
	return w.Describe()
}

func printChaos(w io.Writer, r *chaos.Result) {
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s: workload %s, mode %s, seed %d, %d nodes\n", verdict, r.Workload, r.Mode, r.Seed, r.Nodes)
	fmt.Fprintf(w, "  tasks %d, results verified %d/%d (%d wrong), correct %v, in %.1fs\n", r.Tasks, r.Verified, r.Expected, r.Wrong, r.Correct, r.DurationS)
	fmt.Fprintf(w, "  nodes hit %d of %d planned; resources restored %v after %.2fs; head peak RSS %s\n", r.NodesKilled, len(r.Plan), r.ResourcesRestored, r.RestoreS, bytesize.FormatFloat(r.HeadPeakRSSMB*float64(bytesize.MiB)))
	for _, k := range r.Kills {
		fmt.Fprintf(w, "  at %6.2fs %-8s slot %s node %s pid %d", k.AtS, k.Mode, k.Slot, ids.AbbrevHex(k.NodeID), k.Pid)
		switch {
		case k.Skipped != "":
			fmt.Fprintf(w, " skipped: %s", k.Skipped)
		case k.Replacement != "":
			fmt.Fprintf(w, " replaced by %s in %.2fs", k.Replacement, k.ReplacementS)
		case k.HealedAtS > 0:
			fmt.Fprintf(w, " healed at %.2fs", k.HealedAtS)
		}
		if k.Error != "" {
			fmt.Fprintf(w, " error: %s", k.Error)
		}
		fmt.Fprintln(w)
	}
	if len(r.Details) > 0 {
		b, _ := json.Marshal(r.Details)
		fmt.Fprintf(w, "  details %s\n", b)
	}
	if l := r.Leftover; l != nil && !l.Clean {
		fmt.Fprintf(w, "  leftover after the driver left: %d objects, %d store bytes, unfinished tasks %v, %d live actors\n", l.Objects, l.StoreBytes, l.UnfinishedTasks, l.LiveActors)
	}
	for _, c := range r.NodeCrashes {
		fmt.Fprintf(w, "  node crash: %s\n", c)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	if r.LogDir != "" {
		fmt.Fprintf(w, "  logs: %s\n", r.LogDir)
	}
}
