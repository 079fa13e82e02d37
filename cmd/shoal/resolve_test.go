package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// fakeHead answers Status and ListJobs with fixed replies and counts the
// calls.
type fakeHead struct {
	status *pb.StatusReply
	jobs   *pb.ListJobsReply
	calls  int
}

func (f *fakeHead) Invoke(_ context.Context, method string, _, reply any, _ ...grpc.CallOption) error {
	f.calls++
	switch method {
	case pb.Head_Status_FullMethodName:
		proto.Merge(reply.(*pb.StatusReply), f.status)
	case pb.Head_ListJobs_FullMethodName:
		proto.Merge(reply.(*pb.ListJobsReply), f.jobs)
	default:
		return fmt.Errorf("fake head: no %s", method)
	}
	return nil
}

func (f *fakeHead) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("fake head: no streams")
}

func mustID(t *testing.T, s string) ids.ID {
	t.Helper()
	id, err := ids.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestResolveNodeAndJobPrefixes(t *testing.T) {
	a := mustID(t, "3f2a9c1b0d4e11110000000000000001")
	b := mustID(t, "3f2a9c1b0d4e22220000000000000002")
	c := mustID(t, "7c0100000000000000000000000000ef")
	head := &fakeHead{
		status: &pb.StatusReply{Nodes: []*pb.NodeStatus{
			{NodeId: a.Bytes(), Alive: true, Hostname: "gpu-1", DataAddr: "10.0.0.1:7390"},
			{NodeId: b.Bytes(), Alive: false, Hostname: "gpu-2", DataAddr: "10.0.0.2:7390"},
			{NodeId: c.Bytes(), Alive: true, Hostname: "cpu-1", DataAddr: "10.0.0.3:7390"},
		}},
		jobs: &pb.ListJobsReply{Jobs: []*pb.SubmittedJob{
			{JobId: a.Bytes(), Name: "etl", State: pb.JobState_JOB_STATE_RUNNING},
			{JobId: b.Bytes(), Name: "train", State: pb.JobState_JOB_STATE_SUCCEEDED},
		}},
	}
	tests := []struct {
		name    string
		resolve func(context.Context, grpc.ClientConnInterface, string) (ids.ID, error)
		arg     string
		want    ids.ID
		wantErr error
		says    []string
	}{
		{name: "node by its abbreviation", resolve: resolveNode, arg: c.Abbrev(), want: c},
		{name: "node by one digit", resolve: resolveNode, arg: "7", want: c},
		{name: "node by a longer prefix", resolve: resolveNode, arg: "3F2A9C1B0D4E2", want: b},
		{name: "node prefix shared by two", resolve: resolveNode, arg: "3f2a", wantErr: ids.ErrAmbiguous,
			says: []string{`"3f2a" names 2 nodes`, "3f2a9c1b0d4e1  alive, gpu-1, data plane 10.0.0.1:7390", "3f2a9c1b0d4e2  dead, gpu-2"}},
		{name: "node prefix of none", resolve: resolveNode, arg: "99", wantErr: ids.ErrNoMatch,
			says: []string{`no node has an ID starting with "99"`, "shoal status lists the 3 nodes"}},
		{name: "not hex", resolve: resolveNode, arg: "gpu-1", says: []string{`"gpu-1" is not a node ID or a prefix of one`}},
		{name: "job by prefix", resolve: resolveJob, arg: "3f2a9c1b0d4e1", want: a},
		{name: "job prefix shared by two", resolve: resolveJob, arg: "3f", wantErr: ids.ErrAmbiguous,
			says: []string{"etl, running", "train, succeeded"}},
		{name: "job prefix of none", resolve: resolveJob, arg: "7c", wantErr: ids.ErrNoMatch,
			says: []string{"shoal job list lists the 2 submitted jobs"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.resolve(context.Background(), head, tc.arg)
			if tc.says == nil {
				if err != nil || got != tc.want {
					t.Fatalf("%q resolved to %s, %v; want %s", tc.arg, got, err, tc.want)
				}
				return
			}
			if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("%q resolved to %s, %v; want an error matching %v", tc.arg, got, err, tc.wantErr)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("the error does not say %q:\n%v", s, err)
				}
			}
		})
	}
	// A whole ID is taken as it is, without asking the head.
	head.calls = 0
	if got, err := resolveNode(context.Background(), head, b.String()); err != nil || got != b || head.calls != 0 {
		t.Fatalf("whole ID: %s, %v after %d calls; want %s without a call", got, err, head.calls, b)
	}
}
