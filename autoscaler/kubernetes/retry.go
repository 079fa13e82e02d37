package kubernetes

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	// with ctx's error. Tests replace it to run without waiting.
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
	if b.Sleep == nil {
		b.Sleep = sleepContext
	}
	return b
}

// delay is the pause after the n-th failed attempt (n ≥ 1), before jitter.
func (b Backoff) delay(n int) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Retry calls op until it succeeds, returns an error that IsRetryable says
// is not worth retrying, Attempts calls have been made, or ctx ends. It
// honours a Retry-After the API server sends (up to a minute). It returns
// the number of calls made and op's last error; if ctx ended first, the
// error wraps both ctx's error and op's last one.
func Retry(ctx context.Context, b Backoff, op func(ctx context.Context) error) (attempts int, err error) {
	b = b.withDefaults()
	for attempts = 1; ; attempts++ {
		actx, cancel := context.WithTimeout(ctx, b.AttemptTimeout)
		err = op(actx)
		cancel()
		if err == nil {
			return attempts, nil
		}
		if ctx.Err() != nil {
			return attempts, fmt.Errorf("%w (last error: %w)", context.Cause(ctx), err)
		}
		if attempts >= b.Attempts || !IsRetryable(err) {
			return attempts, err
		}
		d := b.delay(attempts)
		d = d/2 + rand.N(d/2+1)
		if s, ok := apierrors.SuggestsClientDelay(err); ok && s > 0 {
			d = max(d, min(time.Duration(s)*time.Second, maxServerDelay))
		}
		if serr := b.Sleep(ctx, d); serr != nil {
			return attempts, fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// retryNow marks an error as worth another attempt regardless of its kind
// (a generated pod name that was taken).
type retryNow struct{ err error }

func (r retryNow) Error() string   { return r.err.Error() }
func (r retryNow) Unwrap() error   { return r.err }
func (r retryNow) Retryable() bool { return true }
