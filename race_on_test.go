//go:build race

package shoal_test

// raceEnabled: this test binary (and the executors started from it) run
// with the race detector, whose own bookkeeping grows with every goroutine
// and synchronisation a process has made, so resident memory measures the
// detector, not Shoal.
const raceEnabled = true
