package head

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/gctune"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// Tasks and actors may set environment variables over their job's
// (TaskSpec.env). Environment variables belong to a process, so such work
// runs in executors of their own: a job derived from the driver's, with the
// same code and the merged environment, which ends with it.

// envJob returns the job whose executors run parent's code with env
// ("KEY=VALUE") set over parent's environment: parent itself when that
// changes nothing, else a job derived from parent's root, made on first use.
func (h *Head) envJob(parent *job, env []string) *job {
	merged := mergeEnv(parent.info.Env, env)
	root := parent
	if root.root != nil {
		root = root.root
	}
	if slices.Equal(merged, mergeEnv(root.info.Env, nil)) {
		return root
	}
	key := strings.Join(merged, "\x00")
	if j := root.derived[key]; j != nil {
		return j
	}
	sum := sha256.Sum256([]byte(root.id.String() + "\x00" + key))
	var id ids.ID
	copy(id[:], sum[:])
	info := proto.Clone(root.info).(*pb.JobInfo)
	info.JobId, info.Env, info.RootJobId = id.Bytes(), merged, root.id.Bytes()
	info.Name = fmt.Sprintf("%s (env %x)", root.info.Name, sum[:4])
	j := &job{id: id, info: info, root: root, key: key}
	if root.derived == nil {
		root.derived = map[string]*job{}
	}
	root.derived[key] = j
	h.jobs[id] = j
	h.log.Info("job environment added", "job", root.id.Abbrev(), "derived", id.Abbrev(), "env", env)
	return j
}

// actorJob returns the job of actor a's own executor: a job derived from
// parent (the job the actor is made in, with its environment), with the
// same code and environment, whose only work is a. An actor lives in an
// executor of its own, as in Ray, so that a crash of other work (os.Exit,
// a panic in a goroutine a task started) never takes its state with it,
// and its crash takes nothing else. It ends when the actor dies.
func (h *Head) actorJob(parent *job, a *actor) *job {
	root := parent
	if root.root != nil {
		root = root.root
	}
	key := "actor\x00" + a.id.String()
	if j := root.derived[key]; j != nil {
		return j
	}
	sum := sha256.Sum256([]byte(root.id.String() + "\x00" + key))
	var id ids.ID
	copy(id[:], sum[:])
	info := proto.Clone(parent.info).(*pb.JobInfo)
	info.JobId, info.RootJobId = id.Bytes(), root.id.Bytes()
	info.Name = fmt.Sprintf("%s (actor %s)", root.info.Name, a.label())
	if !slices.ContainsFunc(info.Env, func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") }) {
		// The process runs as many goroutines at once as the actor has
		// CPUs (as Ray sets OMP_NUM_THREADS from num_cpus): measured on 2
		// cores, 8 actor processes each taking every core ran n:n calls at
		// 0.8x the rate of one core each.
		procs := max(1, (resourcesFromPB(a.spec.Resources).CPU+scheduler.Unit-1)/scheduler.Unit)
		info.Env = mergeEnv(info.Env, []string{fmt.Sprintf("GOMAXPROCS=%d", procs)})
	}
	if !slices.ContainsFunc(info.Env, func(kv string) bool { return strings.HasPrefix(kv, gctune.EnvBallast+"=") }) {
		info.Env = mergeEnv(info.Env, gctune.ActorEnv()) // (a process per actor: a small ballast each)
	}
	j := &job{id: id, info: info, root: root, actor: a, tasksIn: parent, key: key}
	if root.derived == nil {
		root.derived = map[string]*job{}
	}
	root.derived[key] = j
	h.jobs[id] = j
	return j
}

// mergeEnv sets over on base, by name, and returns the result sorted.
func mergeEnv(base, over []string) []string {
	vars := map[string]string{}
	for _, kv := range append(slices.Clone(base), over...) {
		k, _, _ := strings.Cut(kv, "=")
		vars[k] = kv
	}
	out := make([]string, 0, len(vars))
	for _, kv := range vars {
		out = append(out, kv)
	}
	slices.Sort(out)
	return out
}

// checkEnv refuses variables an OS cannot take.
func checkEnv(env []string) error {
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(kv, 0) {
			return fmt.Errorf("%w: environment variable %q: want KEY=VALUE with a non-empty KEY and no NUL", errs.ErrMalformed, kv)
		}
	}
	return nil
}
