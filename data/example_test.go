package data_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/data"
)

// upperBatch is the remote function each batch is sent to.
var upperBatch = shoal.Func1("example.data.upper", func(ctx context.Context, words []string) ([]string, error) {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = strings.ToUpper(w)
	}
	return out, nil
})

// A dataset streams its items through a remote function in batches, a
// bounded number in flight, and gives the results back in order.
func ExampleMapBatches() {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(1), shoal.WithCPUsPerNode(2))
	if err != nil {
		log.Fatal(err)
	}
	defer shoal.Shutdown(ctx)

	words := data.FromSlice([]string{"a", "stream", "of", "words", "in", "batches"}, 4)
	upper, err := data.MapBatches(words, upperBatch, data.Options{BatchSize: 2}).Collect(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(upper)
	// Output: [A STREAM OF WORDS IN BATCHES]
}
