// Command dashjob is a job for the dashboard's browser test: it runs
// batches of tasks, one of which fails, and prints a line per batch
// (markup included, which the dashboard must show as text) until it is
// stopped or -batches have run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/shoal-dev/shoal"
)

var (
	work = shoal.Func1("dashjob.work", func(ctx context.Context, i int) (int, error) {
		time.Sleep(time.Duration(100+i%5*40) * time.Millisecond)
		return i * i, nil
	})
	fail = shoal.Func1("dashjob.fail", func(ctx context.Context, i int) (int, error) {
		return 0, errors.New("dashjob: batch input <missing> (as planned)")
	})
)

func main() {
	batches := flag.Int("batches", 1000, "batches to run before exiting")
	flag.Parse()
	ctx, err := shoal.Init(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	for b := range *batches {
		var futs []*shoal.Future[int]
		for i := range 8 {
			futs = append(futs, work.Remote(ctx, b*8+i))
		}
		sum := 0
		for _, f := range futs {
			v, err := f.Get(ctx)
			if err != nil {
				log.Fatal(err)
			}
			sum += v
		}
		if b == 0 {
			_, err := fail.Remote(ctx, b).Get(ctx)
			fmt.Printf("batch 0: the failing task said %q\n", err)
		}
		fmt.Printf("batch %d: sum=%d <b>not bold</b>\n", b, sum)
		time.Sleep(50 * time.Millisecond)
	}
}
