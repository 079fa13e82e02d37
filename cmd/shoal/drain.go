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
)

func newDrainCommand() *cobra.Command {
	var (
		hf       headFlags
		deadline time.Duration
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "drain NODE_ID",
		Short: "Remove a node gracefully: finish its work, move its objects, then stop it",
		Long: `Drain a node: it takes no new work; its running tasks get until --deadline
to finish (then they are retried elsewhere); objects whose only copy is on it
move to other nodes; its actors restart elsewhere; then the node exits.
NODE_ID is the node's ID as ` + "`shoal status`" + ` shows it, or any unique prefix of it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(context.Background(), deadline+time.Minute)
			defer cancel()
			conn, err := hf.dial(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			id, err := resolveNode(ctx, conn, args[0])
			if err != nil {
				return err
			}
			rep, err := pb.NewHeadClient(conn).Drain(ctx, &pb.DrainRequest{NodeId: id.Bytes(), DeadlineMs: deadline.Milliseconds()})
			if err != nil {
				return errs.FromStatus(err)
			}
			if asJSON {
				return json.NewEncoder(os.Stdout).Encode(rep)
			}
			fmt.Printf("drained node %s in %.1fs: %d tasks finished, %d moved; %d objects moved, %d left to lineage; %d actors moved\n",
				id.Abbrev(), rep.Seconds, rep.TasksFinished, rep.TasksMoved, rep.ObjectsMoved, rep.ObjectsLost, rep.ActorsMoved)
			return nil
		},
	}
	cmd.Flags().DurationVar(&deadline, "deadline", 30*time.Second, "how long running tasks get to finish")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	hf.register(cmd)
	return cmd
}
