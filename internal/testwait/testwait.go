// Package testwait is how tests wait for a condition: they poll it until it
// holds and fail after a deadline, never sleeping a fixed time and hoping.
package testwait

import (
	"testing"
	"time"
)

// For waits until cond holds, failing t after 10 s; what names the
// condition in the failure.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Within(t, 10*time.Second, what, cond)
}

// Within is For with the deadline d. It polls every millisecond at first,
// less often (up to every 20 ms) the longer the condition takes, so that a
// condition that asks a cluster is not asked a thousand times a second.
func Within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}
