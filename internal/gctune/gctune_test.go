package gctune

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// restore puts the collector back as it was after a test changes it.
func restore(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

func TestApply(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		wantPercent int  // the collector's GOGC after Apply
		wantLimit   bool // a limit below "none" after Apply
	}{
		{"defaults", nil, Percent, true},
		{"GOGC set", map[string]string{"GOGC": "150"}, 100, true},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, Percent, false},
		{"both set", map[string]string{"GOGC": "off", "GOMEMLIMIT": "1GiB"}, 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			restore(t)
			for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
				t.Setenv(k, "") // restored after the test
				os.Unsetenv(k)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			s := Apply()
			// SetGCPercent returns the previous value: what Apply left.
			if got := debug.SetGCPercent(100); got != tt.wantPercent {
				t.Errorf("GOGC after Apply = %d, want %d", got, tt.wantPercent)
			}
			limit := debug.SetMemoryLimit(-1)
			if tt.wantLimit && (limit == math.MaxInt64 || limit != s.MemoryLimit || limit <= 0) {
				t.Errorf("memory limit after Apply = %d (reported %d), want a quarter of the machine's memory", limit, s.MemoryLimit)
			}
			if !tt.wantLimit && (limit != math.MaxInt64 || s.MemoryLimit != 0) {
				t.Errorf("memory limit after Apply = %d (reported %d), want it left alone", limit, s.MemoryLimit)
			}
			if (s.Percent != 0) != (tt.wantPercent == Percent) {
				t.Errorf("Apply reported percent %d", s.Percent)
			}
		})
	}
}
