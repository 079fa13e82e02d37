package head

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/runtimeenv"
	envpb "github.com/shoal-dev/shoal/runtimeenv/pb"
)

// Job credentials (internal/credential). The rpc layer admits a job's
// calls by method (rpc.HeadAccess); for the methods a job may call on
// what its own job owns (rpc.OwnJob), the head checks here what a call
// names. A job owns itself and the jobs derived from it, and the packages
// it was submitted with and runs from. Calls made in process carry no
// principal: they are the cluster's.

// owns reports whether p may act on job id. Called with h.mu held.
func (h *Head) owns(p credential.Principal, id ids.ID) bool {
	if p.IsCluster() || id == p.JobID() {
		return true
	}
	j := h.jobs[id]
	return j != nil && j.credentialJob().id == p.JobID()
}

// ownsPackage reports whether p may read the package hash. Called with
// h.mu held.
func (h *Head) ownsPackage(p credential.Principal, hash string) bool {
	if p.IsCluster() {
		return true
	}
	if hash == "" {
		return false
	}
	if sj := h.submitted[p.JobID()]; sj != nil && sj.info.PackageHash == hash {
		return true
	}
	j := h.jobs[p.JobID()]
	return j != nil && j.info.PackageHash == hash
}

// checkJob refuses p doing what (a phrase: "stopping") to the job named
// by b unless p owns it.
func (h *Head) checkJob(ctx context.Context, what string, b []byte) error {
	p := credential.FromContext(ctx)
	if p.IsCluster() {
		return nil
	}
	id, err := ids.FromBytes("job id", b)
	if err != nil {
		return fmt.Errorf("%w: %v", errs.ErrMalformed, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.owns(p, id) {
		return p.Refuse(fmt.Sprintf("%s job %s", what, id.Abbrev()))
	}
	return nil
}

// checkSession refuses p a session hello does not allow it: one of a job
// it does not own, or one that starts its job from a package not its
// own. Called with h.mu held.
func (h *Head) checkSession(p credential.Principal, job ids.ID, hello *pb.Hello) error {
	if !h.owns(p, job) {
		return p.Refuse(fmt.Sprintf("a session of job %s", job.Abbrev()))
	}
	if hash := hello.GetJob().GetPackageHash(); hash != "" && h.jobs[job] == nil && !h.ownsPackage(p, hash) {
		return p.Refuse(fmt.Sprintf("starting job %s from package %s (not its own)", job.Abbrev(), shortHash(hash)))
	}
	return nil
}

// ownJobs keeps the submitted jobs of r that the caller owns.
func (h *Head) ownJobs(ctx context.Context, r *pb.ListJobsReply) *pb.ListJobsReply {
	p := credential.FromContext(ctx)
	if p.IsCluster() {
		return r
	}
	mine := &pb.ListJobsReply{}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, j := range r.Jobs {
		if id, err := ids.FromBytes("job id", j.JobId); err == nil && h.owns(p, id) {
			mine.Jobs = append(mine.Jobs, j)
		}
	}
	return mine
}

// packageGate is the head's Packages service with a job's reads limited
// to its own package (its Upload is refused by rpc.HeadAccess).
type packageGate struct {
	*runtimeenv.Server
	h *Head
}

func (g packageGate) check(ctx context.Context, hash string) error {
	p := credential.FromContext(ctx)
	if p.IsCluster() {
		return nil
	}
	g.h.mu.Lock()
	defer g.h.mu.Unlock()
	if !g.h.ownsPackage(p, hash) {
		return errs.ToStatus(p.Refuse(fmt.Sprintf("reading package %s (not its job's)", shortHash(hash))))
	}
	return nil
}

func (g packageGate) Stat(ctx context.Context, req *envpb.StatRequest) (*envpb.StatReply, error) {
	if err := g.check(ctx, req.GetHash()); err != nil {
		return nil, err
	}
	return g.Server.Stat(ctx, req)
}

func (g packageGate) Download(req *envpb.DownloadRequest, stream grpc.ServerStreamingServer[envpb.Chunk]) error {
	if err := g.check(stream.Context(), req.GetHash()); err != nil {
		return err
	}
	return g.Server.Download(req, stream)
}
