package latency

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{500 * time.Nanosecond, time.Microsecond, 3 * time.Microsecond, time.Millisecond, 10 * time.Second} {
		h.Observe(d)
	}
	s := h.Snapshot()
	if s.Count != 5 {
		t.Fatalf("count %d", s.Count)
	}
	for bound, want := range map[float64]uint64{1e-6: 2, 4e-6: 3, 1.024e-3: 4, Bounds[len(Bounds)-1]: 4} {
		if got := s.Buckets[bound]; got != want {
			t.Errorf("bucket ≤%g: %d, want %d", bound, got, want)
		}
	}
	if want := 10.0010045; s.Sum < want-1e-9 || s.Sum > want+1e-9 {
		t.Errorf("sum %g, want %g", s.Sum, want)
	}
}
