package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/tpch"
	"github.com/spf13/cobra"
)

// newTPCHRunCommand is `shoal tpch run`: it runs the TPC-H queries on a data
// directory (.tbl or Parquet files), times them and checks their answers.
func newTPCHRunCommand() *cobra.Command {
	var (
		dataDir, answers, queries string
		asJSON, stream, explain   bool
		useSQL                    bool
		runs, warmup, parallelism int
		memoryGB                  float64
		memory                    int64
		spillDir                  string
		show                      int
		address                   string
		tf                        tokenFlags
		nodes                     int
		cpusPerNode               float64
	)
	cmd := &cobra.Command{
		Use:   "run --data DIR [--queries 1,5,18] [--answers DIR] [--json]",
		Short: "Run the 22 TPC-H queries on a data directory and check their answers",
		Long: `Run loads the TPC-H tables of --data (dbgen's <table>.tbl files, <table>.parquet
or <table>/ directories of Parquet files) into memory once (the load is timed
apart), then runs each query --warmup times untimed and --runs times timed and
reports the median. With --stream the tables are not loaded: every query reads
the files (projection and row-group pruning apply), which bounds memory for
large scale factors. With --answers DIR each result is compared with DIR/qN.out.

On a cluster (--address ADDR of a head, or --nodes N embedded nodes started
here) the queries' stages run as tasks on the nodes, rows exchanged peer to
peer between them; the tables are loaded once into the nodes' object stores
(the data directory must be readable by every node), or with --stream read
from the files by the nodes. Submitted with "shoal job submit --working-dir DIR
-- shoal tpch run --data data ..." it runs on the cluster that runs it, the data
shipped to every node with the working directory.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				return fmt.Errorf("--data is required")
			}
			qs, err := tpch.ParseQueries(queries)
			if err != nil {
				return err
			}
			var opts []dataframe.CollectOption
			if parallelism > 0 {
				opts = append(opts, dataframe.WithParallelism(parallelism))
			}
			if memoryGB > 0 && memory == 0 {
				memory = int64(memoryGB * float64(bytesize.GiB))
			}
			if memory > 0 {
				opts = append(opts, dataframe.WithMemoryBudget(memory))
			}
			if spillDir != "" {
				opts = append(opts, dataframe.WithSpillDir(spillDir))
			}
			var spillMu sync.Mutex
			spills := map[string]int{}
			opts = append(opts, dataframe.OnSpill(func(op string) {
				spillMu.Lock()
				spills[op]++
				spillMu.Unlock()
			}))
			ctx := cmd.Context()
			// A driver started by `shoal job submit` finds its cluster in
			// $SHOAL_ADDRESS (shoal.Init reads it).
			asJob := os.Getenv("SHOAL_ADDRESS") != "" && address == "" && nodes == 0
			if address != "" || nodes > 0 || asJob {
				if address != "" && nodes > 0 {
					return fmt.Errorf("--address (join a cluster) and --nodes (start one here) exclude each other")
				}
				initOpts := []shoal.Option{shoal.WithJobName("tpch")}
				if address != "" {
					initOpts = append(initOpts, shoal.WithAddress(address), shoal.WithToken(tf.token), shoal.WithTLS(tf.tlsCA))
					if tf.tokenFile != "" {
						initOpts = append(initOpts, shoal.WithTokenFile(tf.tokenFile))
					}
				} else if nodes > 0 {
					initOpts = append(initOpts, shoal.WithLocalNodes(nodes), shoal.WithCPUsPerNode(cpusPerNode))
				}
				cctx, err := shoal.Init(ctx, initOpts...)
				if err != nil {
					return err
				}
				defer shoal.Shutdown(cctx)
				ctx = cctx
			}
			db, err := tpch.Open(ctx, dataDir, tpch.LoadOptions{InMemory: !stream, Collect: opts})
			if err != nil {
				return err
			}
			if explain {
				cat, err := db.Catalog()
				if err != nil {
					return err
				}
				for _, q := range orAll(qs) {
					df, err := tpch.Query(db, q)
					if useSQL {
						df, err = tpch.SQLQuery(ctx, db, cat, q)
					}
					if err != nil {
						return err
					}
					text, err := df.ExplainOn(ctx, opts...)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "-- Q%d\n%s\n", q, text)
				}
				return nil
			}
			bar := newCLIBar(ctx, cmd.ErrOrStderr(), "queries", int64(len(orAll(qs))), false)
			rep, err := tpch.Run(ctx, db, tpch.RunOptions{Queries: qs, AnswersDir: answers, Runs: runs, Warmup: warmup, Collect: opts, SQL: useSQL,
				OnQuery: func(done, _, _ int) { bar.set(int64(done)) }})
			bar.finish(err == nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(out, rep); err != nil {
					return err
				}
			} else {
				printReport(out, rep, answers != "", show)
				if len(spills) > 0 {
					fmt.Fprintf(out, "spilled to disk: %v\n", spills)
				}
			}
			for _, q := range rep.Queries {
				if q.Error != "" || (q.Correct != nil && !*q.Correct) {
					return fmt.Errorf("%d of %d queries failed", countFailed(rep), len(rep.Queries))
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "", "directory with the TPC-H tables (.tbl or Parquet)")
	f.StringVar(&queries, "queries", "", "queries to run, e.g. 1,5,18 or 1-22 (default all)")
	f.StringVar(&answers, "answers", "", "directory of qN.out answer files to check against")
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of a table")
	f.BoolVar(&stream, "stream", false, "read the files in every query instead of loading the tables into memory")
	f.BoolVar(&explain, "explain", false, "print the plans instead of running the queries")
	f.BoolVar(&useSQL, "sql", false, "build the queries from their SQL text (parsed, bound and optimized) instead of the hand-written plans")
	f.IntVar(&runs, "runs", 1, "timed runs per query (the median is reported)")
	f.IntVar(&warmup, "warmup", 0, "untimed runs per query before the timed ones")
	f.IntVar(&parallelism, "parallelism", 0, "partitions run at once (default: all cores)")
	f.Var(bytesize.Flag(&memory), "memory", "memory budget of operator state before spilling, e.g. 4GiB (default 8GiB)")
	f.Float64Var(&memoryGB, "memory-gb", 0, "the memory budget in GiB")
	f.MarkDeprecated("memory-gb", "use --memory 4GiB")
	f.StringVar(&spillDir, "spill-dir", "", "directory for spill files (default: the system temp dir)")
	f.IntVar(&show, "show", 0, "print the first N rows of each result")
	f.StringVar(&address, "address", "", "run on the cluster of the head at this address (host:port)")
	tf.register(cmd)
	f.IntVar(&nodes, "nodes", 0, "run on an embedded cluster of this many nodes started here")
	f.Float64Var(&cpusPerNode, "cpus-per-node", 1, "CPUs of each embedded node (--nodes)")
	return cmd
}

func orAll(qs []int) []int {
	if len(qs) > 0 {
		return qs
	}
	for i := 1; i <= tpch.NumQueries; i++ {
		qs = append(qs, i)
	}
	return qs
}

func countFailed(rep *tpch.Report) int {
	n := 0
	for _, q := range rep.Queries {
		if q.Error != "" || (q.Correct != nil && !*q.Correct) {
			n++
		}
	}
	return n
}

func printReport(w io.Writer, rep *tpch.Report, checked bool, show int) {
	if rep.LoadSeconds > 0 {
		fmt.Fprintf(w, "SF %g, tables loaded in %.2f s\n", rep.SF, rep.LoadSeconds)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\tseconds\trows\tcheck\t")
	for _, q := range rep.Queries {
		check := "-"
		switch {
		case q.Error != "":
			check = "ERROR"
		case q.Correct != nil && *q.Correct:
			check = "ok"
		case q.Correct != nil:
			check = "WRONG"
		}
		fmt.Fprintf(tw, "Q%d\t%.3f\t%d\t%s\t\n", q.Query, q.Seconds, q.Rows, check)
	}
	tw.Flush()
	for _, q := range rep.Queries {
		if q.Error != "" {
			fmt.Fprintf(w, "Q%d: %s\n", q.Query, q.Error)
		}
		for _, p := range q.Problems {
			fmt.Fprintf(w, "Q%d: %s\n", q.Query, p)
		}
		if show > 0 && q.Result != nil {
			lines := strings.SplitN(q.Result.String(), "\n", show+2)
			fmt.Fprintf(w, "Q%d:\n  %s\n", q.Query, strings.Join(lines[:min(len(lines), show+1)], "\n  "))
		}
	}
	fmt.Fprintf(w, "total %.3f s", rep.TotalSeconds)
	if checked {
		fmt.Fprintf(w, ", %d/%d correct", rep.Correct, len(rep.Queries))
	}
	fmt.Fprintln(w)
	_ = os.Stdout
}
