package node

import (
	"slices"
	"strings"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// The processes of a job (its executors, a submitted job's driver) run the
// job's code: they get the job's credential (internal/credential), never
// the cluster token. It does all their own work (their sessions, the data
// plane, direct calls among the job's processes, this node's local
// store) and nothing beyond their job.

// credentialJob is the job whose credential job's executors get: the root
// job a derived job is part of (its executors call and are called by the
// root's processes), else job itself.
func credentialJob(job *pb.JobInfo, id ids.ID) ids.ID {
	if root, err := ids.FromBytes("root job id", job.RootJobId); err == nil {
		return root
	}
	return id
}

// withCredential returns env, the environment of a process of job, with
// every token it held (the node's own, inherited, or the token file the
// node read it from) replaced by job's credential.
func (n *Node) withCredential(env []string, job ids.ID) []string {
	env = slices.DeleteFunc(env, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == rpc.TokenEnv || k == rpc.TokenFileEnv
	})
	return append(env, rpc.TokenEnv+"="+credential.ForJob(n.cfg.Token, job))
}
