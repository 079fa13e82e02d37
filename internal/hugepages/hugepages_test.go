package hugepages

import (
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHeapMappings(t *testing.T) {
	maps := [][2]uintptr{
		{0x1000, 0x2000},     // the binary's data: apart
		{0x10000, 0x20000},   // the heap, early
		{0x20000, 0x60000},   // the heap, advised (a mapping of its own)
		{0x60000, 0x64000},   // the heap's last step
		{0x80000, 0x90000},   // metadata, behind a reservation
		{0x7f0000, 0x7f8000}, // metadata
		{0x7f8000, 0x7fa000}, // metadata, contiguous with the last
	}
	for _, tc := range []struct {
		seed uintptr
		want [][2]uintptr
	}{
		{0x30000, maps[1:4]},
		{0x10000, maps[1:4]},
		{0x63fff, maps[1:4]},
		{0x1800, maps[0:1]},
		{0x7f9000, maps[5:7]},
		{0x64000, nil}, // in a reservation: no mapping holds it
		{0x0, nil},
		{0x900000, nil},
	} {
		if got := heapMappings(maps, tc.seed); !slices.Equal(got, tc.want) {
			t.Errorf("heapMappings(%#x) = %#x, want %#x", tc.seed, got, tc.want)
		}
	}
}

func TestOffByEnvironment(t *testing.T) {
	t.Setenv(EnvOff, "0")
	if Enabled() || Offered() {
		t.Fatalf("Enabled() or Offered() with %s=0", EnvOff)
	}
}
