package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

func newLogsCommand() *cobra.Command {
	var (
		hf     headFlags
		node   string
		tail   = 64 * bytesize.KiB
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "logs JOB_ID",
		Short: "Print the end of a job's executor output on each node (or one)",
		Long: `Print the end of what a job's executors wrote (stdout and stderr, each
line marked with its process's pid) on every live node, or on the one --node
names. Nodes keep each job's output in files rotated by size (32 MiB, two
older files kept). JOB_ID and --node take a unique prefix of an ID. A
submitted job's driver output is printed by "shoal job logs".

With --follow (-f), it then keeps printing what the executors write, as
tail -f does (asking the nodes every second; a node's part starts with a
==> line when the output comes from another node than the last), until
interrupted or, once the job's driver is gone, its last output printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signalContext()
			defer stop()
			conn, err := hf.dial(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			head := pb.NewHeadClient(conn)
			rep, err := head.NodeLogs(ctx, &pb.NodeLogsRequest{Job: args[0], Node: node, TailBytes: tail})
			if err != nil {
				return errs.FromStatus(err)
			}
			if err := printNodeLogs(os.Stdout, rep); err != nil || !follow {
				return err
			}
			job, err := ids.FromBytes("job id", rep.JobId)
			if err != nil {
				return err
			}
			// (by its whole ID: the head resolves it once its driver is gone too)
			return followNodeLogs(ctx, head, &pb.NodeLogsRequest{Job: job.String(), Node: node, TailBytes: tail, Follow: true}, rep, time.Second, os.Stdout)
		},
	}
	hf.register(cmd)
	cmd.Flags().StringVar(&node, "node", "", "only this node (an ID or a unique prefix)")
	cmd.Flags().Var(bytesize.Flag(&tail), "tail", "how much of the end of each node's output to print, e.g. 1MiB (with --follow: at most this much of what is new each second)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what the executors write (until interrupted, or the job's driver is gone)")
	return cmd
}

// followNodeLogs prints what the nodes' executors of a job write after the
// positions rep ends at, asking every interval, until ctx ends (nil) or the
// job's driver is gone and what was left is printed.
func followNodeLogs(ctx context.Context, head pb.HeadClient, req *pb.NodeLogsRequest, rep *pb.NodeLogsReply, every time.Duration, w io.Writer) error {
	pos := map[[2]string]int64{}
	keep := func(rep *pb.NodeLogsReply) {
		for _, l := range rep.Logs {
			for _, p := range l.Ends {
				pos[[2]string{string(p.NodeId), string(p.JobId)}] = p.End
			}
		}
	}
	keep(rep)
	var last []byte // the node whose output was printed last
	t := time.NewTicker(every)
	defer t.Stop()
	for alive := rep.JobAlive; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		req.From = req.From[:0]
		for k, end := range pos {
			req.From = append(req.From, &pb.LogPosition{NodeId: []byte(k[0]), JobId: []byte(k[1]), End: end})
		}
		rep, err := head.NodeLogs(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return errs.FromStatus(err)
		}
		keep(rep)
		for _, l := range rep.Logs {
			if len(l.Data) == 0 {
				continue
			}
			if string(l.NodeId) != string(last) {
				node, _ := ids.FromBytes("node id", l.NodeId)
				fmt.Fprintf(w, "==> node %s <==\n", node.Abbrev())
				last = l.NodeId
			}
			w.Write(l.Data)
		}
		if !alive {
			return nil // (its last output, written before its driver went, is printed)
		}
		alive = rep.JobAlive
	}
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
