package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/ids"
)

func contextWithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

func newStatusCommand() *cobra.Command {
	var (
		hf     headFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a cluster's nodes, resources and tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			st, err := hf.status(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(os.Stdout, st)
			}
			printStatus(st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	hf.register(cmd)
	return cmd
}

func printStatus(st *shoal.Status) {
	alive := 0
	for _, n := range st.Nodes {
		if n.Alive {
			alive++
		}
	}
	fmt.Printf("nodes: %d alive, %d dead; drivers connected: %d; live actors: %d; objects: %d (%s)\n",
		alive, len(st.Nodes)-alive, st.Jobs, st.Actors, st.Objects, bytesize.Format(st.ObjectBytes))
	if st.DashboardURL != "" {
		fmt.Printf("dashboard: %s (metrics: %s/metrics; every endpoint: %s/prometheus/sd)\n", st.DashboardURL, st.DashboardURL, st.DashboardURL)
	}
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tSTATE\tHOST\tDATA PLANE\tAVAILABLE / TOTAL\tRUNNING\tLEASES (SHARED)\tSTORE\tLAST HEARTBEAT")
	slices.SortFunc(st.Nodes, func(a, b shoal.NodeInfo) int {
		if a.Alive != b.Alive {
			if a.Alive {
				return -1
			}
			return 1
		}
		return compareStrings(a.ID, b.ID)
	})
	for _, n := range st.Nodes {
		state := "alive"
		if !n.Alive {
			state = "dead"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s / %s\t%d\t%d (%d)\t%s\t%v ago\n", ids.AbbrevHex(n.ID), state, n.Hostname, n.DataAddr,
			n.Available, n.Total, n.Running, n.Leases, n.SharedLeases, bytesize.Format(n.StoreBytes), n.LastHeartbeat)
	}
	w.Flush()
	fmt.Print("tasks by state:")
	for _, k := range slices.Sorted(maps.Keys(st.TasksByState)) {
		fmt.Printf(" %s=%d", k, st.TasksByState[k])
	}
	fmt.Println()
	for _, p := range st.Pins {
		fmt.Println("pin:", p)
	}
	for _, wk := range st.Waiting {
		kind := "waiting"
		if wk.Infeasible {
			kind = "infeasible"
		}
		fmt.Printf("%s: %d tasks/actors for %v: %s\n", kind, wk.Count, wk.For.Round(time.Second), wk.Reason)
	}
	if len(st.Events) > 0 {
		fmt.Println("recent events:")
		for _, e := range st.Events[max(0, len(st.Events)-15):] {
			fmt.Println(" ", e)
		}
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
