package dbgen_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"runtime"

	"github.com/shoal-dev/shoal/tpch/dbgen"
)

// Write the eight .tbl files of TPC-H scale factor 0.01 into a directory.
func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "tpch-sf0.01-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	err = dbgen.Generate(context.Background(), dbgen.Options{
		SF:      0.01,
		OutDir:  dir,
		Workers: runtime.NumCPU(),
		Progress: func(table string, done, total int64) {
			if done == total {
				fmt.Printf("%s: %d rows\n", table, total)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Unordered output:
	// customer: 1500 rows
	// lineitem: 60175 rows
	// nation: 25 rows
	// orders: 15000 rows
	// part: 2000 rows
	// partsupp: 8000 rows
	// region: 5 rows
	// supplier: 100 rows
}

// Generate a table in memory, one chunk at a time: here the first of 1000
// chunks of lineitem at scale factor 1, which holds the first 1500 orders.
func ExampleTextBlocks() {
	var lines int
	for block, err := range dbgen.TextBlocks(context.Background(), dbgen.Lineitem, 1, 0, 1000) {
		if err != nil {
			log.Fatal(err)
		}
		if lines == 0 {
			first, _, _ := bytes.Cut(block, []byte("\n"))
			fmt.Printf("%s\n", first)
		}
		lines += bytes.Count(block, []byte("\n"))
	}
	fmt.Println(lines, "lineitems")
	// Output:
	// 1|155190|7706|1|17|21168.23|0.04|0.02|N|O|1996-03-13|1996-02-12|1996-03-22|DELIVER IN PERSON|TRUCK|egular courts above the|
	// 6005 lineitems
}

func ExampleWriteChunk() {
	if err := dbgen.WriteChunk(context.Background(), os.Stdout, dbgen.Region, 1, 0, 1); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 0|AFRICA|lar deposits. blithely final packages cajole. regular waters are final requests. regular accounts are according to |
	// 1|AMERICA|hs use ironic, even requests. s|
	// 2|ASIA|ges. thinly even pinto beans ca|
	// 3|EUROPE|ly final courts cajole furiously final excuse|
	// 4|MIDDLE EAST|uickly special accounts cajole carefully blithely close requests. carefully final asymptotes haggle furiousl|
}
