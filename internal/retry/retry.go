// Package retry is Shoal's one backoff policy and the loop that applies it:
// a capped exponential pause between attempts, optionally jittered, and Do,
// which calls an operation until it succeeds, fails for good, runs out of
// attempts or its context ends.
//
// It is written here rather than taken from k8s.io/apimachinery's
// wait.Backoff because the public shoal package (and so every job binary)
// reaches it through runtimeenv, and dep_test keeps Kubernetes out of that
// package.
package retry

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential pause: after the n-th consecutive failure
// it is Initial·2^(n-1), at most Max. With Jitter each pause is drawn
// uniformly from [d/2, d], so that many callers do not retry in step.
type Backoff struct {
	Initial, Max time.Duration
	Jitter       bool
}

// Delay is the pause after the n-th consecutive failure (n ≥ 1); 0 for
// n ≤ 0, so that a loop can add it to a fixed interval.
func (b Backoff) Delay(n int) time.Duration {
	if n <= 0 || b.Initial <= 0 {
		return 0
	}
	d := b.Initial
	for i := 1; i < n && (b.Max <= 0 || d < b.Max) && d < math.MaxInt64/2; i++ {
		d *= 2
	}
	if b.Max > 0 {
		d = min(d, max(b.Max, b.Initial))
	}
	if b.Jitter {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

// Wait pauses for Delay(n), or until ctx ends (then it returns ctx's
// cause).
func (b Backoff) Wait(ctx context.Context, n int) error { return Sleep(ctx, b.Delay(n)) }

// Sleep waits d, or until ctx ends (then it returns ctx's cause).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Policy is how Do retries.
type Policy struct {
	Backoff
	// Attempts is the most calls made (0: until ctx ends; 1: no retry).
	Attempts int
	// AttemptTimeout bounds one call (0: only ctx does), so that a hung
	// call costs one attempt, not the caller's whole deadline.
	AttemptTimeout time.Duration
	// Retryable says whether a failure is worth another call (nil: every
	// failure is).
	Retryable func(error) bool
	// MinDelay is a pause the failure itself asks for (a server's
	// Retry-After); the longer of it and the backoff's is taken. Nil: none.
	MinDelay func(error) time.Duration
	// Sleep waits between attempts (nil: Sleep); tests replace it to run
	// without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry, if set, is told of each failure that will be retried and
	// the pause before the next call (to log it).
	OnRetry func(attempt int, err error, wait time.Duration)
}

// Do calls op until it succeeds, returns an error Retryable refuses,
// Attempts calls have been made, or ctx ends. It returns the number of
// calls made and op's last error; if ctx ended first, the error wraps both
// ctx's cause and op's last error.
func Do(ctx context.Context, p Policy, op func(ctx context.Context) error) (attempts int, err error) {
	sleep := p.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	for attempts = 1; ; attempts++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if p.AttemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, p.AttemptTimeout)
		}
		err = op(actx)
		cancel()
		if err == nil {
			return attempts, nil
		}
		if ctx.Err() != nil {
			return attempts, fmt.Errorf("%w (last error: %w)", context.Cause(ctx), err)
		}
		if p.Attempts > 0 && attempts >= p.Attempts || p.Retryable != nil && !p.Retryable(err) {
			return attempts, err
		}
		d := p.Delay(attempts)
		if p.MinDelay != nil {
			d = max(d, p.MinDelay(err))
		}
		if p.OnRetry != nil {
			p.OnRetry(attempts, err, d)
		}
		if serr := sleep(ctx, d); serr != nil {
			return attempts, fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}
