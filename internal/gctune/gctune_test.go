package gctune

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/proctree"
)

func TestApplyRespectsGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	if Apply() {
		t.Fatal("Apply tuned the collector although GOGC is set")
	}
}

func TestApplyRaisesTheHeapGoal(t *testing.T) {
	t.Setenv("GOGC", "") // restored after the test
	os.Unsetenv("GOGC")
	if !Apply() || len(ballast) != Ballast {
		t.Fatalf("Apply did not allocate the ballast (%d bytes)", len(ballast))
	}
	// The ballast counts as live heap: after a collection the next goal is
	// at least twice its size.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.NextGC < 2*Ballast {
		t.Fatalf("next collection at %d bytes of heap, want at least %d", ms.NextGC, 2*Ballast)
	}
	// Its pages are never touched: resident memory does not hold it.
	rss, err := proctree.RSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss >= Ballast {
		t.Fatalf("resident memory %d bytes: the ballast's pages were touched", rss)
	}
	runtime.KeepAlive(ballast)
}

func TestGCPercentForLargeHeaps(t *testing.T) {
	for _, c := range []struct {
		live          int64
		current, want int
	}{
		{10 << 20, 100, 100},
		{largeHeap + 1, 100, largeHeapGOGC},
		{largeHeap - 1, largeHeapGOGC, largeHeapGOGC}, // (no flipping at the edge)
		{largeHeap/2 + 1, largeHeapGOGC, largeHeapGOGC},
		{largeHeap/2 - 1, largeHeapGOGC, 100},
		{largeHeap - 1, 100, 100},
	} {
		if got := gcPercentFor(c.live, c.current); got != c.want {
			t.Errorf("live %d MiB at GOGC=%d: %d, want %d", c.live>>20, c.current, got, c.want)
		}
	}
}

func TestResolveBallast(t *testing.T) {
	for _, tc := range []struct {
		v    string
		huge bool
		want int64
	}{
		{"actor", true, ActorBallast}, {"actor", false, ActorBallastSmallPages},
		{"1048576", true, 1 << 20}, {"0", false, 0}, {"", true, Ballast}, {"lots", false, Ballast},
		{"1099511627776", true, Ballast}, {"-1", true, Ballast},
	} {
		if got := resolveBallast(tc.v, tc.huge); got != tc.want {
			t.Errorf("resolveBallast(%q, %v) = %d, want %d", tc.v, tc.huge, got, tc.want)
		}
	}
}

func TestExecutorEnv(t *testing.T) {
	for _, tc := range []struct {
		budget int64
		jobEnv []string
		want   string
	}{
		{0, nil, "SHOAL_GC_BALLAST=67108864"}, {-1, nil, "SHOAL_GC_BALLAST=67108864"}, {1 << 62, nil, "SHOAL_GC_BALLAST=67108864"},
		{512 << 20, nil, "SHOAL_GC_BALLAST=67108864"}, {256 << 20, nil, "SHOAL_GC_BALLAST=33554432 SHOAL_GC_PERCENT=50"},
		{128 << 20, nil, "SHOAL_GC_BALLAST=16777216 SHOAL_GC_PERCENT=50"},
		// An actor's executor: its small ballast is kept, a larger one is not.
		{0, ActorEnv(), "SHOAL_GC_BALLAST=actor"}, // (resolved by the executor: resolveBallast)
		{256 << 20, ActorEnv(), "SHOAL_GC_BALLAST=8388608 SHOAL_GC_PERCENT=50"},
		{0, append(ActorEnv(), "SHOAL_GC_BALLAST=1048576"), "SHOAL_GC_BALLAST=1048576"},
		{32 << 20, ActorEnv(), "SHOAL_GC_BALLAST=4194304 SHOAL_GC_PERCENT=50"},
		{0, []string{"A=1", "SHOAL_GC_BALLAST=1048576"}, "SHOAL_GC_BALLAST=1048576"},
		{0, []string{"SHOAL_GC_BALLAST=1099511627776"}, "SHOAL_GC_BALLAST=67108864"},
		{0, []string{"SHOAL_GC_BALLAST=lots"}, "SHOAL_GC_BALLAST=67108864"},
	} {
		if got := strings.Join(ExecutorEnv(tc.budget, tc.jobEnv), " "); got != tc.want {
			t.Errorf("ExecutorEnv(%d, %q) = %q, want %q", tc.budget, tc.jobEnv, got, tc.want)
		}
	}
}
