package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/timeline"
)

func newTimelineCommand() *cobra.Command {
	var (
		hf    headFlags
		out   string
		since time.Duration
	)
	cmd := &cobra.Command{
		Use:   "timeline --out trace.json",
		Short: "Write the recent tasks and actor calls as a trace (open it in Perfetto or chrome://tracing)",
		Long: `Write the spans of the tasks and actor calls the cluster's executors ran
recently (the head keeps the last 100,000) in the Chrome trace event format,
as "ray timeline" does: one process per node, one thread per executor slot,
failed runs in red. Open the file at https://ui.perfetto.dev or
chrome://tracing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required: the file to write the trace to, e.g. trace.json")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := hf.dial(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			rep, err := pb.NewHeadClient(conn).Timeline(ctx, &pb.TimelineRequest{SinceMs: since.Milliseconds()})
			if err != nil {
				return errs.FromStatus(err)
			}
			b, err := json.Marshal(timeline.FromSpans(rep))
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			fmt.Printf("%d spans written to %s", len(rep.Spans), out)
			if rep.Dropped > 0 {
				fmt.Printf(" (%d more were dropped: not sent by busy executors, or older than the head keeps)", rep.Dropped)
			}
			fmt.Println()
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write the trace to")
	cmd.Flags().DurationVar(&since, "since", 0, "only the runs that ended in this last while (default: all the head keeps)")
	hf.register(cmd)
	return cmd
}
