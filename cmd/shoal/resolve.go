package main

import (
	"context"
	"errors"
	"fmt"
	"maps"

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
	return resolveID("node", arg, "shoal status lists the %d nodes", func() (map[ids.ID]string, error) {
		st, err := pb.NewHeadClient(conn).Status(ctx, &pb.StatusRequest{})
		if err != nil {
			return nil, errs.FromStatus(err)
		}
		about := map[ids.ID]string{}
		for _, n := range st.Nodes {
			if id, err := ids.FromBytes("node id", n.NodeId); err == nil {
				state := "dead"
				if n.Alive {
					state = "alive"
				}
				about[id] = fmt.Sprintf("%s, %s, data plane %s", state, n.Hostname, n.DataAddr)
			}
		}
		return about, nil
	})
}

// resolveJob returns the submitted job that arg names.
func resolveJob(ctx context.Context, conn grpc.ClientConnInterface, arg string) (ids.ID, error) {
	return resolveID("job", arg, "shoal job list lists the %d submitted jobs", func() (map[ids.ID]string, error) {
		r, err := pb.NewHeadClient(conn).ListJobs(ctx, &pb.ListJobsRequest{})
		if err != nil {
			return nil, errs.FromStatus(err)
		}
		about := map[ids.ID]string{}
		for _, j := range r.Jobs {
			if id, err := ids.FromBytes("job id", j.JobId); err == nil {
				about[id] = fmt.Sprintf("%s, %s", j.Name, stateName(j.State))
			}
		}
		return about, nil
	})
}

// resolveID returns the ID arg names among those list returns (each with
// what to say of it when a prefix is ambiguous). A whole ID is taken as it
// is, without a call: the head says if it names nothing. hint, with the
// number of IDs, says where to find them when none matches.
func resolveID(what, arg, hint string, list func() (map[ids.ID]string, error)) (ids.ID, error) {
	if id, err := ids.Parse(arg); err == nil {
		return id, nil
	}
	about, err := list()
	if err != nil {
		return ids.Nil, err
	}
	id, err := ids.Resolve(what, arg, maps.Keys(about), func(id ids.ID) string { return about[id] })
	if errors.Is(err, ids.ErrNoMatch) {
		err = fmt.Errorf("%w (%s)", err, fmt.Sprintf(hint, len(about)))
	}
	return id, err
}
