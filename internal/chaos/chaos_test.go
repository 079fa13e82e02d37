package chaos

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/clustertest"
)

// The end-to-end tests run each workload on a small cluster with one fault,
// planned in the first 200 ms of a workload that cannot finish in less than
// about 3 s (its tasks' sleeps alone take that long on its CPUs), so the
// fault always lands while it runs. Deadlines are generous: they bound
// waits, they do not assert speed.

func runChaos(t *testing.T, cfg Config) *Result {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a multi-process cluster")
	}
	bin, err := clustertest.BuildShoal()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Binary = bin
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	if cfg.KillInterval == 0 {
		cfg.KillInterval, cfg.MaxKills = 200*time.Millisecond, 1
	}
	cfg.Timeout, cfg.RestoreTimeout = 3*time.Minute, time.Minute
	if testing.Verbose() {
		cfg.Log = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("seed %d: %v", cfg.Seed, err)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("seed %d: %s", cfg.Seed, b)
	if !res.Correct {
		t.Errorf("seed %d: %d of %d results verified, %d wrong: %v %s", cfg.Seed, res.Verified, res.Expected, res.Wrong, res.Problems, res.Error)
	}
	if res.NodesKilled != cfg.MaxKills {
		t.Errorf("seed %d: %d nodes hit, want %d: %+v", cfg.Seed, res.NodesKilled, cfg.MaxKills, res.Kills)
	}
	if !res.ResourcesRestored {
		t.Errorf("seed %d: free resources not back to the baseline: %v", cfg.Seed, res.Problems)
	}
	if len(res.NodeCrashes) > 0 {
		t.Errorf("seed %d: node processes died by themselves: %v", cfg.Seed, res.NodeCrashes)
	}
	if l := res.Leftover; l == nil || !l.Clean {
		t.Errorf("seed %d: leftover after the driver left: %+v", cfg.Seed, l)
	}
	if t.Failed() {
		t.Logf("logs: %s", res.LogDir)
	}
	return res
}

func TestTasksSurviveKill(t *testing.T) {
	runChaos(t, Config{Workload: "tasks", Nodes: 2, CPUsPerNode: 2, Mode: ModeProcess, Scale: 6, Sleep: 250 * time.Millisecond})
}

func TestActorsSurviveKill(t *testing.T) {
	res := runChaos(t, Config{Workload: "actors", Nodes: 2, CPUsPerNode: 1, Mode: ModeProcess, Scale: 8, Sleep: 200 * time.Millisecond})
	if res.Details["calls"] != int64(2*8*8) {
		t.Errorf("%d calls, want %d", res.Details["calls"], 2*8*8)
	}
}

func TestObjectsSurviveKill(t *testing.T) {
	res := runChaos(t, Config{Workload: "objects", Nodes: 3, CPUsPerNode: 1, Mode: ModeProcess, Scale: 6, Sleep: 200 * time.Millisecond})
	if res.Details["bytes_read"] != res.Details["bytes_expected"] || res.Details["bytes_read"] == 0 {
		t.Errorf("read %d bytes, want %d", res.Details["bytes_read"], res.Details["bytes_expected"])
	}
}

// Distributed dataframe queries (issue 15): a node killed mid-query loses
// only its outputs, and every answer is exact.
func TestShuffleSurvivesKill(t *testing.T) {
	res := runChaos(t, Config{Workload: "shuffle", Nodes: 3, CPUsPerNode: 1, Mode: ModeProcess, Scale: 30, Sleep: 500 * time.Millisecond})
	if res.Details["queries"] != 6 {
		t.Errorf("%d queries, want 6", res.Details["queries"])
	}
}

func TestTasksSurvivePartition(t *testing.T) {
	// The head declares a silent node dead after 1 s here; the partition
	// lasts 2 s, so the node is declared dead and comes back as a new one.
	runChaos(t, Config{Workload: "tasks", Nodes: 2, CPUsPerNode: 2, Mode: ModePartition, PartitionFor: 2 * time.Second,
		HeadArgs: []string{"--heartbeat-timeout", "1s"}, Scale: 6, Sleep: 250 * time.Millisecond})
}

func TestTasksSurviveDrain(t *testing.T) {
	runChaos(t, Config{Workload: "tasks", Nodes: 2, CPUsPerNode: 2, Mode: ModeDrain, DrainDeadline: time.Second, Scale: 6, Sleep: 250 * time.Millisecond})
}

func TestRunRejectsBadConfigs(t *testing.T) {
	for _, cfg := range []Config{
		{Binary: "shoal", Workload: "nope"},
		{Binary: "shoal", Mode: "flood"},
		{Binary: "shoal", Nodes: -1},
		{Workload: "tasks"},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) accepted it", cfg)
		}
	}
}
