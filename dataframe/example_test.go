package dataframe_test

import (
	"context"
	"log"
	"os"
	"strings"

	"github.com/shoal-dev/shoal/dataframe"
)

// A frame is a lazy plan over its sources; Collect optimizes and runs it
// (here in this process, on all cores: under shoal.Init on a cluster it
// runs its stages as cluster tasks) and WriteTable prints the result.
func Example() {
	ctx := context.Background()
	sales := dataframe.ReadCSVStream(strings.NewReader("region,amount\nnorth,10\nsouth,5\nnorth,7\neast,1\nsouth,3\n"),
		dataframe.Schema{{Name: "region", Type: dataframe.String}, {Name: "amount", Type: dataframe.Int64}}, dataframe.Header(true))
	q := sales.
		Filter(dataframe.Col("amount").Gt(dataframe.Lit(2))).
		GroupBy("region").
		Agg(dataframe.Sum("amount").As("total"), dataframe.CountAll().As("n")).
		Sort(dataframe.Desc("total"))
	res, err := q.Collect(ctx)
	if err != nil {
		log.Fatal(err)
	}
	res.WriteTable(os.Stdout, 0)
	// Output:
	//  region | total |     n
	//  string | int64 | int64
	// --------+-------+-------
	//  north  |    17 |     2
	//  south  |     8 |     2
	// (2 rows)
}

// A Catalog runs SQL over registered frames and files, with the same
// optimizer and engine; window functions rank rows within partitions.
func ExampleCatalog_SQL() {
	ctx := context.Background()
	cat := dataframe.NewCatalog()
	if _, err := cat.Exec(ctx, `
		create table scores (player text, game text, points bigint);
		insert into scores values ('ann', 'chess', 7), ('bob', 'chess', 9), ('ann', 'go', 4), ('cid', 'go', 8), ('bob', 'go', 8);`); err != nil {
		log.Fatal(err)
	}
	df, err := cat.SQL(ctx, `
		select game, player, points, rank() over (partition by game order by points desc) as place
		from scores order by game, place, player`)
	if err != nil {
		log.Fatal(err)
	}
	res, err := df.Collect(ctx)
	if err != nil {
		log.Fatal(err)
	}
	res.WriteTable(os.Stdout, 0)
	// Output:
	//  game   | player | points | place
	//  string | string |  int64 | int64
	// --------+--------+--------+-------
	//  chess  | bob    |      9 |     1
	//  chess  | ann    |      7 |     2
	//  go     | bob    |      8 |     1
	//  go     | cid    |      8 |     1
	//  go     | ann    |      4 |     3
	// (5 rows)
}
