package credential

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
)

const (
	jobPrefix = "job."
	// label makes the MAC of a job credential mean nothing else.
	label = "shoal job credential v1\x00"
	// jobLength is a job credential's length: prefix, the job ID in hex,
	// a dot and the MAC in hex.
	jobLength = len(jobPrefix) + 2*ids.Size + 1 + 2*sha256.Size
)

// ForJob derives job's credential from the cluster token.
func ForJob(clusterToken string, job ids.ID) string {
	m := hmac.New(sha256.New, []byte(clusterToken))
	m.Write([]byte(label))
	m.Write(job[:])
	b := make([]byte, 0, jobLength)
	b = append(b, jobPrefix...)
	b = hex.AppendEncode(b, job[:])
	b = append(b, '.')
	b = hex.AppendEncode(b, m.Sum(nil))
	return string(b)
}

// LooksLikeJob reports whether token has a job credential's prefix, valid
// or not: such a token is never taken for a cluster token.
func LooksLikeJob(token string) bool { return strings.HasPrefix(token, jobPrefix) }

// Parse returns the job a job credential names, without checking its MAC
// (Verify does). ok is false when token is not a job credential (a cluster
// token); err says what is wrong with one that begins like one but is
// malformed.
func Parse(token string) (job ids.ID, ok bool, err error) {
	if !LooksLikeJob(token) {
		return ids.Nil, false, nil
	}
	idHex, mac, found := strings.Cut(token[len(jobPrefix):], ".")
	if !found || len(token) != jobLength || len(idHex) != 2*ids.Size {
		return ids.Nil, true, fmt.Errorf("%w: a malformed job credential (want job.<32 hex digits>.<64 hex digits>, as a node gives a job's processes in $SHOAL_TOKEN)", errs.ErrUnauthenticated)
	}
	if _, err := hex.DecodeString(mac); err != nil {
		return ids.Nil, true, fmt.Errorf("%w: a malformed job credential: its MAC is not hex", errs.ErrUnauthenticated)
	}
	job, err = ids.Parse(idHex)
	if err != nil || job.IsNil() {
		return ids.Nil, true, fmt.Errorf("%w: a malformed job credential: its job ID is not one", errs.ErrUnauthenticated)
	}
	return job, true, nil
}

// Verify authenticates a presented token against the cluster token and
// returns whom it speaks for: the cluster for the cluster token, job X for
// a valid credential of X. Both comparisons take constant time.
func Verify(clusterToken, presented string) (Principal, error) {
	job, isJob, err := Parse(presented)
	switch {
	case err != nil:
		return Principal{}, err
	case isJob:
		if !hmac.Equal([]byte(presented), []byte(ForJob(clusterToken, job))) {
			return Principal{}, fmt.Errorf("%w: the job credential presented (job %s) is not valid in this cluster: it was derived from another cluster's token, or altered", errs.ErrUnauthenticated, job.Abbrev())
		}
		return Job(job), nil
	case subtle.ConstantTimeCompare([]byte(presented), []byte(clusterToken)) != 1:
		return Principal{}, fmt.Errorf("%w: the cluster token presented is wrong; use the token of the head you are joining", errs.ErrUnauthenticated)
	}
	return Cluster, nil
}

// ForScope returns the token that opens a connection of scope (a job; or
// ids.Nil, the cluster) for a process holding token: the cluster token
// opens every scope (it derives the job's credential), a job's credential
// its own job's only; other scopes wrap errs.ErrPermissionDenied.
func ForScope(token string, scope ids.ID) (string, error) {
	job, isJob, err := Parse(token)
	switch {
	case err != nil:
		return "", err
	case !isJob && scope.IsNil():
		return token, nil
	case !isJob:
		return ForJob(token, scope), nil
	case job == scope:
		return token, nil
	case scope.IsNil():
		return "", Job(job).Refuse("a connection as a member of the cluster")
	}
	return "", Job(job).Refuse("a connection to a process of job " + scope.Abbrev())
}

// Principal is whom a verified token speaks for: the cluster (the zero
// value: the cluster token) or one job.
type Principal struct{ job ids.ID }

// Cluster is the principal of the cluster token.
var Cluster = Principal{}

// Job is the principal of job id's credential.
func Job(id ids.ID) Principal { return Principal{job: id} }

// IsCluster reports whether p holds the cluster token.
func (p Principal) IsCluster() bool { return p.job.IsNil() }

// JobID is p's job (ids.Nil for the cluster).
func (p Principal) JobID() ids.ID { return p.job }

func (p Principal) String() string {
	if p.IsCluster() {
		return "the cluster"
	}
	return "job " + p.job.Abbrev()
}

// Refuse is the error for p asking what (a phrase: "stopping job X")
// that its credential does not allow. It wraps errs.ErrPermissionDenied.
func (p Principal) Refuse(what string) error {
	return fmt.Errorf("%w: %s is refused: this credential is scoped to job %s (its own work only); cluster operations and other jobs need the cluster token (the file `shoal head` wrote)",
		errs.ErrPermissionDenied, what, p.job.Abbrev())
}

type principalKey struct{}

// NewContext returns ctx carrying p, as the authenticating interceptors
// of internal/rpc set it for a call's handler.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of a call. A context without one is an
// in-process caller's (an embedded cluster's driver or node, which hold
// the cluster token): the cluster.
func FromContext(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}
