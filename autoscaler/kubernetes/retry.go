package kubernetes

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/shoal-dev/shoal/internal/retry"
)

// Backoff is how an operation is retried: up to Attempts calls, each bounded
// by AttemptTimeout, with exponentially growing, jittered pauses between
// them, all bounded by the caller's context.
type Backoff struct {
	// Attempts is the most calls made (default 5; 1 disables retries).
	Attempts int
	// Initial is the pause after the first failure (default 250ms); each
	// later pause doubles, up to Max (default 8s). A pause is drawn
	// uniformly from [d/2, d] so that many callers do not retry in step.
	Initial, Max time.Duration
	// AttemptTimeout bounds one call (default 30s), so that a hung
	// connection costs one attempt, not the caller's whole deadline.
	AttemptTimeout time.Duration
	// Sleep waits between attempts; nil waits on a timer and returns early
	// with ctx's cause (retry.Sleep). Tests replace it to run without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultBackoff is the provider's policy when Config.Backoff is zero.
func DefaultBackoff() Backoff {
	return Backoff{Attempts: 5, Initial: 250 * time.Millisecond, Max: 8 * time.Second, AttemptTimeout: 30 * time.Second}
}

// maxServerDelay caps a Retry-After the API server suggests.
const maxServerDelay = time.Minute

func (b Backoff) withDefaults() Backoff {
	d := DefaultBackoff()
	if b.Attempts <= 0 {
		b.Attempts = d.Attempts
	}
	if b.Initial <= 0 {
		b.Initial = d.Initial
	}
	if b.Max <= 0 {
		b.Max = d.Max
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.AttemptTimeout <= 0 {
		b.AttemptTimeout = d.AttemptTimeout
	}
	return b
}

// Retry calls op until it succeeds, returns an error that IsRetryable says
// is not worth retrying, Attempts calls have been made, or ctx ends. It
// honours a Retry-After the API server sends (up to a minute). It returns
// the number of calls made and op's last error; if ctx ended first, the
// error wraps both ctx's error and op's last one.
func Retry(ctx context.Context, b Backoff, op func(ctx context.Context) error) (attempts int, err error) {
	b = b.withDefaults()
	return retry.Do(ctx, retry.Policy{
		Backoff:  retry.Backoff{Initial: b.Initial, Max: b.Max, Jitter: true},
		Attempts: b.Attempts, AttemptTimeout: b.AttemptTimeout, Retryable: IsRetryable, Sleep: b.Sleep,
		MinDelay: func(err error) time.Duration {
			if s, ok := apierrors.SuggestsClientDelay(err); ok && s > 0 {
				return min(time.Duration(s)*time.Second, maxServerDelay)
			}
			return 0
		},
	}, op)
}

// retryNow marks an error as worth another attempt regardless of its kind
// (a generated pod name that was taken).
type retryNow struct{ err error }

func (r retryNow) Error() string   { return r.err.Error() }
func (r retryNow) Unwrap() error   { return r.err }
func (r retryNow) Retryable() bool { return true }
