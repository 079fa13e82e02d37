// Command shoalbench runs the TPC-H queries with Shoal and prints the JSON
// report of `shoal tpch run --json`; compare.sh uses it so that the benchmark
// depends only on the dataframe engine and the tpch package.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/hugepages"
	"github.com/shoal-dev/shoal/tpch"
)

func main() {
	data := flag.String("data", "", "TPC-H data directory")
	queries := flag.String("queries", "", "queries, e.g. 1,5,18")
	answers := flag.String("answers", "", "answer directory")
	runs := flag.Int("runs", 3, "timed runs per query")
	warmup := flag.Int("warmup", 1, "untimed runs per query")
	stream := flag.Bool("stream", false, "read files in every query instead of loading tables")
	var memory int64
	flag.Var(bytesize.Flag(&memory), "memory", "memory budget of operator state, e.g. 4GiB")
	memGB := flag.Float64("memory-gb", 0, "memory budget in GiB (old spelling of -memory)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the query runs (not the load) to this file")
	sqlFlag := flag.Bool("sql", false, "build the queries from their SQL text instead of the hand-written plans")
	flag.Parse()
	profile, useSQL = *cpuProfile, *sqlFlag
	if *memGB > 0 && memory == 0 {
		memory = int64(*memGB * float64(bytesize.GiB))
	}
	if err := run(*data, *queries, *answers, *runs, *warmup, *stream, memory); err != nil {
		fmt.Fprintln(os.Stderr, "shoalbench:", err)
		os.Exit(1)
	}
}

var (
	profile string
	useSQL  bool
)

func run(data, queries, answers string, runs, warmup int, stream bool, memory int64) error {
	qs, err := tpch.ParseQueries(queries)
	if err != nil {
		return err
	}
	var opts []dataframe.CollectOption
	if memory > 0 {
		opts = append(opts, dataframe.WithMemoryBudget(memory))
	}
	ctx := context.Background()
	hugepages.Keep(ctx, hugepages.Tool()) // as `shoal tpch run`
	db, err := tpch.Open(ctx, data, tpch.LoadOptions{InMemory: !stream, Collect: opts})
	if err != nil {
		return err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := tpch.Run(ctx, db, tpch.RunOptions{Queries: qs, AnswersDir: answers, Runs: runs, Warmup: warmup, Collect: opts, SQL: useSQL})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
