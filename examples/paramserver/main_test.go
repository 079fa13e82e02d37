package main

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Run(m) }

// The fit finds the weights the data was made with, and the loss falls.
func TestFit(t *testing.T) {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(2), shoal.WithCPUsPerNode(2))
	if err != nil {
		t.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var losses []float64
	w, err := fit(ctx, 3, 2000, 40, 0.1, func(_ int, loss float64, _ []float64) { losses = append(losses, loss) })
	if err != nil {
		t.Fatal(err)
	}
	for j, want := range trueWeights {
		if math.Abs(w[j]-want) > 0.01 {
			t.Fatalf("weights %.4f, want %.4f", w, trueWeights)
		}
	}
	if len(losses) != 40 || losses[39] > losses[0]/100 {
		t.Fatalf("losses %.5f", losses)
	}
}
