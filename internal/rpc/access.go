package rpc

import (
	"strings"

	"github.com/shoal-dev/shoal/internal/credential"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	envpb "github.com/shoal-dev/shoal/runtimeenv/pb"
)

// Access says who may call a gRPC method: the cluster token always; a
// job's credential (internal/credential) as the method's entry in its
// server's table says.
type Access int

const (
	// ClusterOnly: the cluster token only. It is the zero value: a method
	// a table does not list is a cluster operation.
	ClusterOnly Access = iota
	// AnyJob: a job's credential too, whatever the call names (what it
	// reads or does is no other job's, or is the cluster's to share).
	AnyJob
	// OwnJob: a job's credential too, for what its own job owns: the
	// handler checks what the call names against the job
	// (credential.FromContext gives it) and refuses the rest.
	OwnJob
)

// HeadAccess is the head's table: every method of the Head and Packages
// services, each decided on its own (docs/runtime.md, "Job credentials",
// shows it; TestHeadAccessListsEveryMethod keeps it whole).
var HeadAccess = map[string]Access{
	// A driver's or an executor's session: its own job (or one derived
	// from it), as a driver or an executor; a job's driver cannot start a
	// job from another job's package.
	pb.Head_Session_FullMethodName: OwnJob,
	// A node's session, registration and all.
	pb.Head_NodeSession_FullMethodName: ClusterOnly,
	// What a job's client asks as it runs: the cluster's nodes, where to
	// put a large object, a named actor (named actors are shared across
	// jobs), an object's copies, resources to scale for, why an executor
	// exited.
	pb.Head_Status_FullMethodName:           AnyJob,
	pb.Head_Locate_FullMethodName:           AnyJob,
	pb.Head_GetActor_FullMethodName:         AnyJob,
	pb.Head_ObjectInfo_FullMethodName:       AnyJob,
	pb.Head_RequestResources_FullMethodName: AnyJob,
	pb.Head_ExecutorExit_FullMethodName:     AnyJob,
	// Executors and drivers enroll in a cluster that uses TLS. A peer
	// certificate proves membership to TLS only: every data-plane and
	// direct-call connection still proves its scope (peerauth), and gRPC
	// authorizes tokens, not certificates.
	pb.Head_IssueCertificate_FullMethodName: AnyJob,
	// Cluster operations.
	pb.Head_Drain_FullMethodName:     ClusterOnly,
	pb.Head_SubmitJob_FullMethodName: ClusterOnly,
	pb.Head_Timeline_FullMethodName:  ClusterOnly, // (every job's spans)
	pb.Head_NodeLogs_FullMethodName:  ClusterOnly,
	// Submitted jobs: a job sees, follows and stops itself only; ListJobs
	// lists only it.
	pb.Head_GetJob_FullMethodName:   OwnJob,
	pb.Head_ListJobs_FullMethodName: OwnJob,
	pb.Head_StopJob_FullMethodName:  OwnJob,
	pb.Head_JobLogs_FullMethodName:  OwnJob,
	// Packages carry their jobs' --env values: a job reads its own
	// package only, and uploads none (`shoal job submit` does, with the
	// cluster token).
	envpb.Packages_Stat_FullMethodName:     OwnJob,
	envpb.Packages_Download_FullMethodName: OwnJob,
	envpb.Packages_Upload_FullMethodName:   ClusterOnly,
}

// Authorize refuses a call of method by p that access does not allow (a
// job's credential calling a cluster operation): for a server that
// authenticates on another transport (the head's stream connections).
func Authorize(access map[string]Access, method string, p credential.Principal) error {
	if p.IsCluster() || access[method] != ClusterOnly {
		return nil
	}
	return p.Refuse("calling " + method[strings.LastIndexByte(method, '/')+1:])
}
