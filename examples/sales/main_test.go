package main

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Run(m) }

// The report over the table made on the cluster counts every sale once,
// agreeing with the same table queried in this process.
func TestSalesQuery(t *testing.T) {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(2), shoal.WithCPUsPerNode(1))
	if err != nil {
		t.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	const parts, rows = 5, 2000
	res, err := query(ctx, parts, rows)
	if err != nil {
		t.Fatal(err)
	}
	var sales int64
	for i := range res.NumRows() {
		sales += res.Value(i, 1).I
	}
	// The same rows, made here: every row with amount ≥ 1 counts.
	var recs []arrow.RecordBatch
	for p := range parts {
		recs = append(recs, salesBatch(uint64(p), rows))
	}
	local, err := dataframe.FromArrow(recs...).Filter(dataframe.Col("amount").Ge(dataframe.Lit(1.0))).
		GroupBy().Agg(dataframe.CountAll().As("n")).Collect(ctx, dataframe.Locally())
	if err != nil {
		t.Fatal(err)
	}
	want := local.Value(0, 0).I
	if res.NumRows() != len(regions) || sales != want {
		t.Fatalf("%d regions, %d sales; want %d regions, %d sales\n%s", res.NumRows(), sales, len(regions), want, res)
	}
}
