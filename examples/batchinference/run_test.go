package batchinference_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/data"
	"github.com/shoal-dev/shoal/examples/batchinference"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Run(m) }

// TestBatchInference runs the example end to end on an autoscaling
// cluster, once undisturbed (writing Parquet) and once with a node killed
// mid-run: every item exactly once, sampled predictions right, the cluster
// grown past one node and shrunk back to one.
func TestBatchInference(t *testing.T) {
	bin, err := clustertest.BuildShoal()
	if err != nil {
		t.Fatal(err)
	}
	for _, kill := range []time.Duration{0, 2 * time.Second} {
		t.Run(fmt.Sprintf("kill=%v", kill), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			out := filepath.Join(t.TempDir(), "predictions.parquet")
			cfg := batchinference.Config{Binary: bin, Items: 60_000, BatchSize: 512, MaxNodes: 3, Seed: 7, KillAfter: kill}
			if kill == 0 {
				cfg.Parquet = out
			}
			res, err := batchinference.Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%.0f items/s, nodes over time %v, events %q", res.ItemsPerSec, res.NodesOverTime, res.Events)
			if res.Outputs != cfg.Items || res.Missing != 0 || res.Duplicates != 0 {
				t.Fatalf("outputs %d of %d, %d missing, %d duplicated", res.Outputs, cfg.Items, res.Missing, res.Duplicates)
			}
			if res.Checked < 300 || res.Wrong != 0 {
				t.Fatalf("%d predictions recomputed, %d wrong", res.Checked, res.Wrong)
			}
			if res.MaxNodes < 2 || res.FinalNodes != 1 {
				t.Fatalf("the cluster went to %d nodes and ended with %d; want growth and a return to 1", res.MaxNodes, res.FinalNodes)
			}
			if kill > 0 && res.NodesKilled != 1 {
				t.Fatalf("%d nodes killed, want 1", res.NodesKilled)
			}
			if cfg.Parquet != "" {
				rows, err := data.ReadParquet[batchinference.Prediction]([]string{out}, 0).Collect(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != cfg.Items || res.ParquetRows != int64(cfg.Items) {
					t.Fatalf("the Parquet file has %d rows (reported %d), want %d", len(rows), res.ParquetRows, cfg.Items)
				}
				for i, p := range rows {
					if p.ID != int64(i) {
						t.Fatalf("Parquet row %d is item %d: out of order", i, p.ID)
					}
				}
			}
		})
	}
}
