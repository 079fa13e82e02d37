package credential

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
)

const clusterToken = "0123456789abcdef0123456789abcdef"

func TestVerify(t *testing.T) {
	jobA, jobB := ids.Random(), ids.Random()
	credA := ForJob(clusterToken, jobA)
	// swapJob is credA with job B's ID in it: the MAC no longer matches.
	swapJob := "job." + jobB.String() + credA[len("job.")+32:]
	tamper := []byte(credA) // (its last hex digit changed)
	if tamper[len(tamper)-1] == '0' {
		tamper[len(tamper)-1] = '1'
	} else {
		tamper[len(tamper)-1] = '0'
	}
	for _, tc := range []struct {
		name      string
		presented string
		want      Principal
		wantErr   error
		inMessage string
	}{
		{name: "cluster token", presented: clusterToken, want: Cluster},
		{name: "job credential", presented: credA, want: Job(jobA)},
		{name: "another job's ID under job A's MAC", presented: swapJob, wantErr: errs.ErrUnauthenticated, inMessage: "not valid in this cluster"},
		{name: "tampered MAC", presented: string(tamper), wantErr: errs.ErrUnauthenticated, inMessage: "not valid in this cluster"},
		{name: "another cluster's credential", presented: ForJob("another cluster's token!", jobA), wantErr: errs.ErrUnauthenticated, inMessage: "another cluster"},
		{name: "upper-case MAC", presented: credA[:len(credA)-64] + strings.ToUpper(credA[len(credA)-64:]), wantErr: errs.ErrUnauthenticated},
		{name: "wrong cluster token", presented: "not the cluster token", wantErr: errs.ErrUnauthenticated, inMessage: "cluster token presented is wrong"},
		{name: "empty", presented: "", wantErr: errs.ErrUnauthenticated},
		{name: "prefix only", presented: "job.", wantErr: errs.ErrUnauthenticated, inMessage: "malformed"},
		{name: "no MAC", presented: "job." + jobA.String(), wantErr: errs.ErrUnauthenticated, inMessage: "malformed"},
		{name: "short MAC", presented: credA[:len(credA)-2], wantErr: errs.ErrUnauthenticated, inMessage: "malformed"},
		{name: "long MAC", presented: credA + "00", wantErr: errs.ErrUnauthenticated, inMessage: "malformed"},
		{name: "MAC not hex", presented: credA[:len(credA)-1] + "z", wantErr: errs.ErrUnauthenticated, inMessage: "not hex"},
		{name: "job ID not hex", presented: "job.zz" + credA[len("job.")+2:], wantErr: errs.ErrUnauthenticated, inMessage: "job ID"},
		{name: "nil job", presented: ForJob(clusterToken, ids.Nil), wantErr: errs.ErrUnauthenticated, inMessage: "job ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify(clusterToken, tc.presented)
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("Verify: %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.inMessage) {
				t.Fatalf("Verify: %v, %v; want an error wrapping %v saying %q", got, err, tc.wantErr, tc.inMessage)
			}
		})
	}
}

func TestForJob(t *testing.T) {
	job := ids.Random()
	c := ForJob(clusterToken, job)
	if c != ForJob(clusterToken, job) {
		t.Fatal("a job's credential is not the same twice: it must be derivable, not stored")
	}
	if len(c) != jobLength || !strings.HasPrefix(c, "job."+job.String()+".") {
		t.Fatalf("credential %q: want job.<job id>.<64 hex digits>", c)
	}
	if strings.Contains(c, clusterToken) {
		t.Fatal("the credential carries the cluster token")
	}
	if ForJob(clusterToken, ids.Random()) == c || ForJob(clusterToken+"x", job) == c {
		t.Fatal("credentials of another job or cluster are equal")
	}
}

func TestForScope(t *testing.T) {
	jobA, jobB := ids.Random(), ids.Random()
	credA := ForJob(clusterToken, jobA)
	for _, tc := range []struct {
		name   string
		token  string
		scope  ids.ID
		want   string
		denied bool
	}{
		{name: "the cluster, as the cluster", token: clusterToken, scope: ids.Nil, want: clusterToken},
		{name: "the cluster, as a job", token: clusterToken, scope: jobB, want: ForJob(clusterToken, jobB)},
		{name: "a job, as itself", token: credA, scope: jobA, want: credA},
		{name: "a job, as another", token: credA, scope: jobB, denied: true},
		{name: "a job, as the cluster", token: credA, scope: ids.Nil, denied: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ForScope(tc.token, tc.scope)
			if tc.denied {
				if !errors.Is(err, errs.ErrPermissionDenied) || !strings.Contains(err.Error(), "scoped to job "+jobA.Abbrev()) {
					t.Fatalf("ForScope: %q, %v; want a refusal naming job A", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ForScope: %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestPrincipalInContext(t *testing.T) {
	if p := FromContext(context.Background()); !p.IsCluster() {
		t.Fatalf("an in-process call (no principal) speaks for %v, want the cluster", p)
	}
	job := ids.Random()
	p := FromContext(NewContext(context.Background(), Job(job)))
	if p.IsCluster() || p.JobID() != job {
		t.Fatalf("got %v, want job %s", p, job.Abbrev())
	}
	err := p.Refuse("draining node n-1")
	for _, want := range []string{"draining node n-1", "scoped to job " + job.Abbrev(), "cluster token"} {
		if !errors.Is(err, errs.ErrPermissionDenied) || !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
}
