package main

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// The commands that take a node or job ID take the whole ID or any unique
// prefix of it, as git and docker do: status and job list show the first
// 12 digits (ids.AbbrevLen), and any prefix of those that names one node
// or job will do.

// resolveNode returns the node of the cluster that arg names.
func resolveNode(ctx context.Context, conn grpc.ClientConnInterface, arg string) (ids.ID, error) {
	if id, err := ids.Parse(arg); err == nil {
		return id, nil // the whole ID: the head says if it names no node
	}
	st, err := pb.NewHeadClient(conn).Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return ids.Nil, errs.FromStatus(err)
	}
	known := make([]ids.ID, 0, len(st.Nodes))
	about := map[ids.ID]string{}
	for _, n := range st.Nodes {
		id, err := ids.FromBytes("node id", n.NodeId)
		if err != nil {
			continue
		}
		known = append(known, id)
		state := "dead"
		if n.Alive {
			state = "alive"
		}
		about[id] = fmt.Sprintf("%s, %s, data plane %s", state, n.Hostname, n.DataAddr)
	}
	id, err := ids.Resolve("node", arg, known, func(id ids.ID) string { return about[id] })
	if errors.Is(err, ids.ErrNoMatch) {
		err = fmt.Errorf("%w (shoal status lists the %d nodes)", err, len(known))
	}
	return id, err
}

// resolveJob returns the submitted job that arg names.
func resolveJob(ctx context.Context, conn grpc.ClientConnInterface, arg string) (ids.ID, error) {
	if id, err := ids.Parse(arg); err == nil {
		return id, nil
	}
	r, err := pb.NewHeadClient(conn).ListJobs(ctx, &pb.ListJobsRequest{})
	if err != nil {
		return ids.Nil, errs.FromStatus(err)
	}
	known := make([]ids.ID, 0, len(r.Jobs))
	about := map[ids.ID]string{}
	for _, j := range r.Jobs {
		id, err := ids.FromBytes("job id", j.JobId)
		if err != nil {
			continue
		}
		known = append(known, id)
		about[id] = fmt.Sprintf("%s, %s", j.Name, stateName(j.State))
	}
	id, err := ids.Resolve("job", arg, known, func(id ids.ID) string { return about[id] })
	if errors.Is(err, ids.ErrNoMatch) {
		err = fmt.Errorf("%w (shoal job list lists the %d submitted jobs)", err, len(known))
	}
	return id, err
}
