//go:build !race

package shoal_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
