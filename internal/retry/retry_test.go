package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for n, w := range want {
		if got := b.Delay(n); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
	if got := (Backoff{Initial: time.Second}).Delay(70); got <= 0 {
		t.Errorf("an uncapped backoff overflowed: Delay(70) = %v", got)
	}
	j := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: true}
	for n := 1; n < 8; n++ {
		for range 50 {
			d, full := j.Delay(n), b.Delay(n)
			if d < full/2 || d > full {
				t.Fatalf("jittered Delay(%d) = %v, outside [%v, %v]", n, d, full/2, full)
			}
		}
	}
}

func TestDo(t *testing.T) {
	fail, fatal := errors.New("transient"), errors.New("fatal")
	tests := []struct {
		name    string
		policy  Policy
		results []error
		want    int
		wantErr error
		pauses  []time.Duration
	}{
		{name: "first call", results: []error{nil}, want: 1},
		{name: "retried", policy: Policy{Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 15 * time.Millisecond}},
			results: []error{fail, fail, fail, nil}, want: 4, pauses: []time.Duration{10 * time.Millisecond, 15 * time.Millisecond, 15 * time.Millisecond}},
		{name: "out of attempts", policy: Policy{Attempts: 2}, results: []error{fail, fail, nil}, want: 2, wantErr: fail, pauses: []time.Duration{0}},
		{name: "not retryable", policy: Policy{Retryable: func(err error) bool { return err != fatal }}, results: []error{fail, fatal, nil}, want: 2, wantErr: fatal, pauses: []time.Duration{0}},
		{name: "server asks for longer", policy: Policy{Backoff: Backoff{Initial: time.Millisecond}, MinDelay: func(error) time.Duration { return time.Minute }},
			results: []error{fail, nil}, want: 2, pauses: []time.Duration{time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pauses []time.Duration
			tc.policy.Sleep = func(_ context.Context, d time.Duration) error { pauses = append(pauses, d); return nil }
			calls := 0
			n, err := Do(context.Background(), tc.policy, func(context.Context) error {
				calls++
				return tc.results[calls-1]
			})
			if n != tc.want || n != calls || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Do = %d calls, %v; want %d, %v (op called %d times)", n, err, tc.want, tc.wantErr, calls)
			}
			if len(pauses) != len(tc.pauses) {
				t.Fatalf("pauses %v, want %v", pauses, tc.pauses)
			}
			for i := range pauses {
				if pauses[i] != tc.pauses[i] {
					t.Fatalf("pauses %v, want %v", pauses, tc.pauses)
				}
			}
		})
	}
}

func TestDoStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	fail := errors.New("transient")
	calls := 0
	n, err := Do(ctx, Policy{Backoff: Backoff{Initial: time.Hour}, AttemptTimeout: time.Minute}, func(actx context.Context) error {
		if _, ok := actx.Deadline(); !ok {
			t.Error("the attempt has no deadline")
		}
		calls++
		cancel()
		return fail
	})
	if n != 1 || calls != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, fail) {
		t.Fatalf("Do = %d, %v; want 1 call and an error wrapping both the cancellation and the last failure", n, err)
	}
}
