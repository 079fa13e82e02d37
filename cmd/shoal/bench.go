package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal"
	_ "github.com/shoal-dev/shoal/dashboard" // (bench tasks --dashboard)
	"github.com/shoal-dev/shoal/internal/bench"
	"github.com/shoal-dev/shoal/internal/bytesize"
)

func newBenchCommand() *cobra.Command {
	var (
		nodes      int
		cpus       float64
		cfg        bench.SuiteConfig
		asJSON     bool
		cpuProfile string
		memProfile string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run Shoal's microbenchmark suite (named as Ray's ray_perf), or one benchmark",
		Long: `Without a subcommand, run the microbenchmark suite on an embedded cluster,
with metrics named as in Ray's ray_perf.py (ops/s; GB/s for
single_client_put_gigabytes), each beside Ray's published figure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stopProfile, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stopProfile()
			ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(nodes), shoal.WithCPUsPerNode(cpus), shoal.WithJobName("bench"))
			if err != nil {
				return err
			}
			defer shoal.Shutdown(ctx)
			if memProfile != "" {
				runtime.MemProfileRate = 64 << 10
				defer writeHeapProfile(memProfile)
			}
			progress := func(line string) { fmt.Fprintln(os.Stderr, line) }
			if asJSON {
				progress = nil
			}
			res, err := bench.Suite(ctx, cfg, progress)
			if err != nil {
				return err
			}
			return printJSONOrText(asJSON, res, func() {
				fmt.Printf("%-30s %14s %12s %8s\n", "metric", "shoal", "ray", "ratio")
				for _, name := range slices.Sorted(maps.Keys(res)) {
					ray, ok := bench.RayPublished[name]
					if !ok {
						fmt.Printf("%-30s %14.1f %12s %8s\n", name, res[name], "-", "-")
						continue
					}
					fmt.Printf("%-30s %14.1f %12.1f %7.1fx\n", name, res[name], ray, res[name]/ray)
				}
			})
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 2, "embedded nodes")
	cmd.Flags().Float64Var(&cpus, "cpus-per-node", 2, "CPUs per embedded node")
	cmd.Flags().IntVar(&cfg.Sync, "sync", 2000, "calls for the synchronous metrics")
	cmd.Flags().IntVar(&cfg.Async, "async", 20000, "calls for the asynchronous metrics")
	cmd.Flags().IntVar(&cfg.Clients, "clients", 4, "client actors for the multi-client metrics")
	cfg.PutSize = 256 * bytesize.MiB
	cmd.Flags().Var(bytesize.Flag(&cfg.PutSize), "put-size", "size of each Put for single_client_put_gigabytes")
	cmd.Flags().IntVar(&cfg.Puts, "puts", 8, "Puts for single_client_put_gigabytes")
	cmd.Flags().IntVar(&cfg.Rounds, "rounds", 3, "rounds per metric (the median is reported)")
	cmd.Flags().StringSliceVar(&cfg.Only, "only", nil, "run only these metrics (comma-separated names)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object: metric name -> value")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process to a file")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "write an allocation profile of this process (head, nodes, driver) to a file")
	cmd.AddCommand(newBenchTasksCommand(), newBenchTransferCommand(), newBenchMemoryCommand(), newBenchFailureCommand(), newBenchShuffleCommand())
	return cmd
}

func printJSONOrText(asJSON bool, v any, text func()) error {
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(v)
	}
	text()
	return nil
}

func newBenchTasksCommand() *cobra.Command {
	var (
		nodes      int
		cpus       float64
		cfg        bench.TasksConfig
		asJSON     bool
		cpuProfile string
		memProfile string
		dashAddr   string
		scrape     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "Task throughput and latency on an embedded cluster",
		Long: `Measure scheduling on an embedded cluster (a head and nodes in this
process, executors as child processes):
  tasks_per_sec     submit N no-op tasks, then get them all (median of rounds)
  sync_task_p50_us  submit one task, get it, repeat
  chain_hop_p50_us  a chain of tasks, each taking the previous one's result`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stopProfile, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stopProfile()
			opts := []shoal.Option{shoal.WithLocalNodes(nodes), shoal.WithCPUsPerNode(cpus), shoal.WithJobName("bench-tasks")}
			if dashAddr != "" {
				opts = append(opts, shoal.WithDashboard(dashAddr))
			}
			ctx, err := shoal.Init(context.Background(), opts...)
			if err != nil {
				return err
			}
			defer shoal.Shutdown(ctx)
			if memProfile != "" {
				runtime.MemProfileRate = 64 << 10
				defer writeHeapProfile(memProfile)
			}
			var scrapes *scraper
			if scrape > 0 {
				st, err := shoal.ClusterStatus(ctx)
				if err != nil {
					return err
				}
				if st.DashboardURL == "" {
					return fmt.Errorf("--scrape needs --dashboard")
				}
				scrapes = startScraper(st.DashboardURL, scrape)
			}
			res, err := bench.Tasks(ctx, cfg)
			if scrapes != nil {
				res.Scrapes, res.ScrapeP50ms = scrapes.stop()
			}
			if err != nil {
				return err
			}
			return printJSONOrText(asJSON, res, func() {
				fmt.Printf("async:  %.0f tasks/s (rounds: %.0f)\n", res.TasksPerSec, res.TasksPerSecAll)
				fmt.Printf("sync:   p50 %.0f µs, p90 %.0f µs per task\n", res.SyncP50us, res.SyncP90us)
				fmt.Printf("chain:  p50 %.0f µs, p90 %.0f µs per hop\n", res.ChainHopP50us, res.ChainHopP90us)
			})
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 2, "embedded nodes")
	cmd.Flags().Float64Var(&cpus, "cpus-per-node", 2, "CPUs per embedded node")
	cmd.Flags().IntVar(&cfg.Tasks, "tasks", 50000, "no-op tasks per async round")
	cmd.Flags().IntVar(&cfg.Rounds, "rounds", 3, "async rounds (the median is reported)")
	cmd.Flags().IntVar(&cfg.Sync, "sync", 2000, "sequential round trips")
	cmd.Flags().IntVar(&cfg.Chain, "chain", 2000, "length of the dependent chain")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (head, nodes, driver) to a file")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "write an allocation profile of this process (head, nodes, driver) to a file")
	cmd.Flags().StringVar(&dashAddr, "dashboard", "", "serve the embedded cluster's dashboard and /metrics at HOST:PORT while measuring (the overhead check)")
	cmd.Flags().DurationVar(&scrape, "scrape", 0, "with --dashboard: every interval, read /metrics (as Prometheus would) and the cluster, task stream and tasks pages (as an open dashboard would)")
	return cmd
}

// scraper reads a head's metrics and dashboard pages every interval, as a
// Prometheus server and an open dashboard would, until stopped.
type scraper struct {
	done  chan struct{}
	wg    sync.WaitGroup
	times []time.Duration
}

func startScraper(base string, every time.Duration) *scraper {
	s := &scraper{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
			}
			start := time.Now()
			for _, path := range []string{"/metrics", "/", "/stream", "/tasks"} {
				if resp, err := http.Get(base + path); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			s.times = append(s.times, time.Since(start))
		}
	}()
	return s
}

// stop ends the scraping and returns how many rounds ran and their median
// time in milliseconds.
func (s *scraper) stop() (int, float64) {
	close(s.done)
	s.wg.Wait()
	if len(s.times) == 0 {
		return 0, 0
	}
	slices.Sort(s.times)
	return len(s.times), float64(s.times[len(s.times)/2].Microseconds()) / 1000
}

func newBenchTransferCommand() *cobra.Command {
	var (
		size   int64
		rounds int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "transfer",
		Short: "Node-to-node object transfer between two node processes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			res, err := bench.Transfer(ctx, bin, size, rounds, nil)
			if err != nil {
				return err
			}
			return printJSONOrText(asJSON, res, func() {
				fmt.Printf("%s node to node: %.2f GB/s (rounds: %.2f)\n", bytesize.Format(res.Bytes), res.GBPerSec, res.GBPerSecRounds)
			})
		},
	}
	size = bytesize.GiB
	cmd.Flags().Var(bytesize.Flag(&size), "size", "object size")
	cmd.Flags().IntVar(&rounds, "rounds", 3, "transfers (the median is reported)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func newBenchMemoryCommand() *cobra.Command {
	var (
		cycles, batch int
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "memory",
		Short: "Resident memory across many small task/put/get cycles on an embedded cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(2), shoal.WithCPUsPerNode(2), shoal.WithJobName("bench-memory"))
			if err != nil {
				return err
			}
			defer shoal.Shutdown(ctx)
			res, err := bench.Memory(ctx, cycles, batch)
			if err != nil {
				return err
			}
			return printJSONOrText(asJSON, res, func() {
				fmt.Printf("%d cycles (%.0f/s): resident memory %s -> %s (%+.1f%%), %d objects left\n",
					res.Cycles, res.CyclesPerSec, bytesize.FormatFloat(res.StartRSSMB*float64(bytesize.MiB)), bytesize.FormatFloat(res.EndRSSMB*float64(bytesize.MiB)), res.GrowthPct, res.Objects)
			})
		},
	}
	cmd.Flags().IntVar(&cycles, "cycles", 1_000_000, "task/put/get cycles")
	cmd.Flags().IntVar(&batch, "batch", 10_000, "cycles in flight at once")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func newBenchFailureCommand() *cobra.Command {
	var (
		tasks, ms int
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "failure",
		Short: "Cost of losing a node mid-run (the shape of Dask's b3_failure.py)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			res, err := bench.Failure(ctx, bin, tasks, ms, nil)
			if err != nil {
				return err
			}
			return printJSONOrText(asJSON, res, func() {
				fmt.Printf("%d x %d ms tasks on 2 nodes (ideal %.1fs): baseline %.2fs; with a node killed halfway %.2fs (+%.1f%%, %.2fs after the kill), %d tasks retried, all correct: %v\n",
					res.Tasks, res.TaskMS, res.IdealS, res.BaselineS, res.KillTotalS, res.OverheadPct, res.AfterKillS, res.RetriedTasks, res.AllCorrect)
			})
		},
	}
	cmd.Flags().IntVar(&tasks, "tasks", 2000, "tasks")
	cmd.Flags().IntVar(&ms, "ms", 10, "milliseconds each task sleeps")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// startCPUProfile profiles this process's CPU into path until the returned
// stop is called; with no path it does nothing (for --cpuprofile).
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeHeapProfile writes the allocation profile to path (for --memprofile).
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoal: --memprofile:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "shoal: --memprofile:", err)
	}
}

func newBenchShuffleCommand() *cobra.Command {
	var (
		cfg     bench.ShuffleConfig
		asJSON  bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "shuffle",
		Short: "A dataframe hash shuffle between node processes (Dask's b2_shuffle shape)",
		Long: `Start a head and node processes, make --rows rows of (int64 key, float64
value) in --parts partitions on the nodes (as Arrow record batches that stay
there), then time a hash repartition on the key into --reducers partitions
whose result stays on the nodes (Persist), as Dask's
shared/bench/dask/b2_shuffle.py times df.shuffle("key").persist(), after
--warmup untimed runs. Every run's rows and value sum are checked. The
nodes' peak resident memory (each node with its executors, shared pages
counted once) is sampled throughout, and reported for the shuffles and,
apart, for making the data (every 0.5 s; every 50 ms with
--object-store-memory, which costs the shuffle CPU); with
--object-store-memory, its ratio to the store budget is reported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			if verbose {
				cfg.Output = os.Stderr
			}
			res, err := bench.Shuffle(ctx, bin, cfg)
			if err != nil {
				return err
			}
			return printJSONOrText(asJSON, res, func() {
				fmt.Printf("shuffle of %d rows (%s), %d -> %d partitions, %d nodes x %g CPU: %.3f s, %.0f rows/s (runs: %.2f; warmup: %.2f)\n",
					res.Rows, bytesize.Format(res.DataBytes), res.Parts, res.Reducers, res.Nodes, res.CPUsPerNode, res.ShuffleSec, res.RowsPerSec, res.RunsSec, res.WarmupSec)
				fmt.Printf("data made in %.2f s (peak node memory meanwhile %s); peak coordinator (driver) memory %s (Go heap %s); peak node memory during the shuffles %s",
					res.GenerateSec, bytesize.Format(res.PeakNodeRSSDatagen), bytesize.Format(res.PeakDriverRSS), bytesize.Format(res.PeakDriverHeap), bytesize.Format(res.PeakNodeRSS))
				if res.StoreMemory > 0 {
					fmt.Printf(" (%.2fx the store budget of %s)", res.PeakRSSRatio, bytesize.Format(res.StoreMemory))
				}
				fmt.Println()
			})
		},
	}
	cmd.Flags().Int64Var(&cfg.Rows, "rows", 10_000_000, "rows")
	cmd.Flags().IntVar(&cfg.Parts, "parts", 20, "input partitions")
	cmd.Flags().IntVar(&cfg.Reducers, "reducers", 0, "output partitions (default: --parts)")
	cmd.Flags().IntVar(&cfg.Nodes, "nodes", 2, "node processes")
	cmd.Flags().Float64Var(&cfg.CPUs, "cpus", 1, "CPUs per node")
	cmd.Flags().IntVar(&cfg.Runs, "runs", 3, "timed runs (the median is reported)")
	cmd.Flags().IntVar(&cfg.Warmup, "warmup", 1, "runs before the timed ones, checked but not timed (the first writes store memory never touched before: 2-3x slower on virtual machines)")
	cmd.Flags().Var(bytesize.Flag(&cfg.StoreMemory), "object-store-memory", "each node's object store budget, e.g. 2GiB (0: the node's default)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show the cluster's logs")
	return cmd
}
