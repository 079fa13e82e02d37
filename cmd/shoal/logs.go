package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

func newLogsCommand() *cobra.Command {
	var (
		hf   headFlags
		node string
		tail = 64 * bytesize.KiB
	)
	cmd := &cobra.Command{
		Use:   "logs JOB_ID",
		Short: "Print the end of a job's executor output on each node (or one)",
		Long: `Print the end of what a job's executors wrote (stdout and stderr, each
line marked with its process's pid) on every live node, or on the one --node
names. Nodes keep each job's output in files rotated by size (32 MiB, two
older files kept). JOB_ID and --node take a unique prefix of an ID. A
submitted job's driver output is printed by "shoal job logs".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signalContext()
			defer stop()
			conn, err := hf.dial(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			rep, err := pb.NewHeadClient(conn).NodeLogs(ctx, &pb.NodeLogsRequest{Job: args[0], Node: node, TailBytes: tail})
			if err != nil {
				return errs.FromStatus(err)
			}
			return printNodeLogs(os.Stdout, rep)
		},
	}
	hf.register(cmd)
	cmd.Flags().StringVar(&node, "node", "", "only this node (an ID or a unique prefix)")
	cmd.Flags().Var(bytesize.Flag(&tail), "tail", "how much of the end of each node's output to print, e.g. 1MiB")
	return cmd
}

// printNodeLogs prints each node's part under a header naming the node.
func printNodeLogs(w io.Writer, rep *pb.NodeLogsReply) error {
	job, _ := ids.FromBytes("job id", rep.JobId)
	for _, l := range rep.Logs {
		node, _ := ids.FromBytes("node id", l.NodeId)
		fmt.Fprintf(w, "==> job %s, node %s <==\n", job.Abbrev(), node.Abbrev())
		switch {
		case l.Error != "":
			fmt.Fprintf(w, "(%s)\n", l.Error)
		default:
			w.Write(l.Data)
			if len(l.Data) > 0 && !strings.HasSuffix(string(l.Data), "\n") {
				fmt.Fprintln(w)
			}
		}
	}
	return nil
}
