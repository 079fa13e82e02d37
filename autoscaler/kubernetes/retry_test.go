package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestRetry(t *testing.T) {
	unavailable := apierrors.NewServiceUnavailable("down")
	forbidden := rbacDenied("create")
	tests := []struct {
		name    string
		backoff Backoff
		// results are op's results in turn; the last repeats.
		results []error
		want    int // calls made
		wantErr error
		// pauses: each pause in turn is within [base/2, base], or equal to
		// it when exact (a delay the API server asked for).
		pauses []time.Duration
		exact  bool
	}{
		{name: "success at once", results: []error{nil}, want: 1},
		{name: "not retryable", results: []error{forbidden}, want: 1, wantErr: forbidden},
		{name: "transient, then success", results: []error{unavailable, unavailable, nil}, want: 3,
			pauses: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
		{name: "exponential up to the cap, then give up",
			backoff: Backoff{Attempts: 6, Initial: 100 * time.Millisecond, Max: time.Second},
			results: []error{unavailable}, want: 6, wantErr: unavailable,
			pauses: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second}},
		{name: "retry disabled", backoff: Backoff{Attempts: 1}, results: []error{unavailable}, want: 1, wantErr: unavailable},
		{name: "server's Retry-After", results: []error{apierrors.NewTooManyRequests("slow down", 30), nil}, want: 2,
			pauses: []time.Duration{30 * time.Second}, exact: true},
		{name: "Retry-After capped", results: []error{apierrors.NewTooManyRequests("slow down", 3600), nil}, want: 2,
			pauses: []time.Duration{maxServerDelay}, exact: true},
		{name: "broken connection", results: []error{io.ErrUnexpectedEOF, nil}, want: 2,
			pauses: []time.Duration{250 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sleeps := &sleepRecorder{}
			b := tc.backoff
			b.Sleep = sleeps.sleep
			calls := 0
			attempts, err := Retry(context.Background(), b, func(ctx context.Context) error {
				if _, ok := ctx.Deadline(); !ok {
					t.Errorf("attempt %d has no deadline", calls+1)
				}
				r := tc.results[min(calls, len(tc.results)-1)]
				calls++
				return r
			})
			if attempts != tc.want || calls != tc.want {
				t.Errorf("attempts = %d (op called %d times), want %d", attempts, calls, tc.want)
			}
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			got := sleeps.get()
			if len(got) != len(tc.pauses) {
				t.Fatalf("pauses %v, want %d", got, len(tc.pauses))
			}
			for i, d := range got {
				base := tc.pauses[i]
				if tc.exact && d != base || d < base/2 || d > base {
					t.Errorf("pause %d = %v, want %v (exact: %v, else at least half of it)", i, d, base, tc.exact)
				}
			}
		})
	}
}

// TestRetryAttemptTimeout: a call that hangs costs one attempt, bounded by
// AttemptTimeout, and is retried.
func TestRetryAttemptTimeout(t *testing.T) {
	sleeps := &sleepRecorder{}
	calls := 0
	attempts, err := Retry(context.Background(), Backoff{Attempts: 3, AttemptTimeout: time.Millisecond, Sleep: sleeps.sleep},
		func(ctx context.Context) error {
			calls++
			<-ctx.Done() // a hung API call, cut by its deadline
			return ctx.Err()
		})
	if attempts != 3 || calls != 3 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Retry = %d attempts (%d calls), %v; want 3 and the attempt deadline", attempts, calls, err)
	}
}

// TestRetryStopsWithItsContext: the caller's deadline ends the retries;
// the error names both the context's end and the last failure.
func TestRetryStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("reconcile round over")
	last := apierrors.NewInternalError(errors.New("etcd leader changed"))
	calls := 0
	attempts, err := Retry(ctx, Backoff{Sleep: func(ctx context.Context, _ time.Duration) error {
		cancel(stop)
		return context.Cause(ctx)
	}}, func(context.Context) error {
		calls++
		return last
	})
	if attempts != 1 || calls != 1 || !errors.Is(err, stop) || !apierrors.IsInternalError(err) {
		t.Fatalf("Retry = %d attempts, %v; want 1 and an error wrapping both %q and the 500", attempts, err, stop)
	}
}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{fmt.Errorf("listing: %w", context.Canceled), false},
		{context.DeadlineExceeded, true},
		{io.EOF, true},
		{apierrors.NewTooManyRequests("x", 1), true},
		{apierrors.NewInternalError(errors.New("x")), true},
		{apierrors.NewServiceUnavailable("x"), true},
		{apierrors.NewServerTimeout(podsResource, "create", 1), true},
		{apierrors.NewTimeoutError("x", 1), true},
		{apierrors.NewConflict(podsResource, "p", errors.New("x")), true},
		{apierrors.NewResourceExpired("continue token expired"), true},
		{apierrors.NewGenericServerResponse(502, "GET", podsResource, "p", "", 0, true), true},
		{apierrors.NewAlreadyExists(podsResource, "p"), false},
		{apierrors.NewNotFound(podsResource, "p"), false},
		{apierrors.NewBadRequest("x"), false},
		{rbacDenied("create"), false},
		{apierrors.NewUnauthorized("x"), false},
		{retryNow{apierrors.NewAlreadyExists(podsResource, "p")}, true},
		{&Error{Kind: ErrUnavailable}, true},
		{fmt.Errorf("autoscaler: launching: %w", &Error{Kind: ErrUnavailable}), true},
		{&Error{Kind: ErrForbidden, Err: apierrors.NewTooManyRequests("x", 1)}, false},
		{&Error{Kind: ErrInvalid}, false},
	}
	for _, tc := range tests {
		if got := IsRetryable(tc.err); got != tc.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
