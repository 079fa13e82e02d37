package tpch

import (
	"context"
	"fmt"
	"io"

	"github.com/shoal-dev/shoal/dataframe"
)

// WriteParquet converts one table from dbgen's .tbl text (pipe-delimited, a
// trailing '|' on every line) read from tblText into a Parquet file at
// outPath, streaming: memory stays bounded whatever the scale factor. Row
// groups hold 131,072 rows so that filters on ordered columns (l_orderkey,
// o_orderkey, …) prune row groups on their statistics; decimals are stored as
// 64-bit integers with the decimal(15,2) logical type, dates as date32.
func WriteParquet(ctx context.Context, table string, tblText io.Reader, outPath string) error {
	s, err := TableSchema(table)
	if err != nil {
		return err
	}
	df := dataframe.ReadCSVStream(tblText, s, dataframe.Delimiter('|'))
	var dict []string
	for _, f := range s {
		if lowCardinality[f.Name] || f.Type != dataframe.String {
			dict = append(dict, f.Name)
		}
	}
	if err := df.WriteParquet(ctx, outPath, dataframe.ParquetCollect(dataframe.WithParallelism(1)),
		dataframe.DictionaryColumns(dict...)); err != nil {
		return fmt.Errorf("converting TPC-H table %s to Parquet: %w", table, err)
	}
	return nil
}

// lowCardinality lists the text columns worth Parquet dictionary pages.
var lowCardinality = map[string]bool{
	"r_name": true, "n_name": true, "c_mktsegment": true, "p_mfgr": true, "p_brand": true, "p_type": true,
	"p_container": true, "o_orderstatus": true, "o_orderpriority": true, "o_clerk": true,
	"l_returnflag": true, "l_linestatus": true, "l_shipinstruct": true, "l_shipmode": true,
}
