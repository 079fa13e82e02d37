// Command sales makes a table of sales on a Shoal cluster, one Arrow record
// batch per task that stays on the node that made it, and queries it with
// the dataframe engine there: the query's stages run as cluster tasks, with
// a peer-to-peer shuffle between them, and only the answer comes back.
//
//	go run ./examples/sales
//	go run ./examples/sales -parts 40 -rows 500000
//	go run ./examples/sales -address 127.0.0.1:7380   # a running `shoal head`
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"runtime"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
)

var regions = []string{"north", "south", "east", "west"}

var salesSchema = arrow.NewSchema([]arrow.Field{
	{Name: "region", Type: arrow.BinaryTypes.String},
	{Name: "store", Type: arrow.PrimitiveTypes.Int64},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// makeSales makes one partition of the table on the cluster.
var makeSales = shoal.Func2("sales.make", func(_ context.Context, part uint64, rows int) (arrow.RecordBatch, error) {
	return salesBatch(part, rows), nil
})

// salesBatch is rows random sales, seeded by the partition's number so that
// every run makes the same table.
func salesBatch(part uint64, rows int) arrow.RecordBatch {
	r := rand.New(rand.NewPCG(part, 0x5a1e5))
	b := array.NewRecordBuilder(memory.DefaultAllocator, salesSchema)
	defer b.Release()
	region, store, amount := b.Field(0).(*array.StringBuilder), b.Field(1).(*array.Int64Builder), b.Field(2).(*array.Float64Builder)
	for range rows {
		region.Append(regions[r.IntN(len(regions))])
		store.Append(r.Int64N(100))
		amount.Append(float64(r.IntN(10000)) / 100)
	}
	return b.NewRecordBatch()
}

// query is the report: sales and their total per region, the largest
// first.
func query(ctx context.Context, parts, rows int) (*dataframe.Result, error) {
	futs := make([]*shoal.Future[arrow.RecordBatch], parts)
	for i := range futs {
		futs[i] = makeSales.Remote(ctx, uint64(i), rows)
	}
	defer func() {
		for _, f := range futs {
			f.Release()
		}
	}()
	return dataframe.FromFutures(ctx, futs).
		Filter(dataframe.Col("amount").Ge(dataframe.Lit(1.0))).
		GroupBy("region").
		Agg(dataframe.CountAll().As("sales"), dataframe.Sum("amount").As("total"), dataframe.CountDistinct("store").As("stores")).
		WithColumn("total", dataframe.Col("total").Round(2)).
		Sort(dataframe.Desc("total")).
		Collect(ctx)
}

func main() {
	address := flag.String("address", "", "head address of a running cluster (default: an embedded local cluster)")
	parts := flag.Int("parts", 8, "partitions (tasks making the table)")
	rows := flag.Int("rows", 100_000, "rows per partition")
	nodes := flag.Int("nodes", 2, "nodes of the embedded cluster")
	flag.Parse()

	opts := []shoal.Option{shoal.WithJobName("sales")}
	if *address != "" {
		opts = append(opts, shoal.WithAddress(*address))
	} else {
		opts = append(opts, shoal.WithLocalNodes(*nodes), shoal.WithCPUsPerNode(max(1, float64(runtime.NumCPU())/float64(*nodes))))
	}
	// Init first: in the executor processes of the cluster it never returns.
	ctx, err := shoal.Init(context.Background(), opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	res, err := query(ctx, *parts, *rows)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d sales in %d partitions, by region:\n", *parts**rows, *parts)
	res.WriteTable(os.Stdout, 0)
}
