// Package dataframe is Shoal's lazy dataframe engine on Apache Arrow.
//
// A DataFrame records a logical plan; nothing runs until Collect. Plans are
// optimized (constant folding, predicate and projection pushdown into scans
// with Parquet row-group pruning, build-side choice by estimated cardinality,
// top-k), cut into stages separated by exchanges, and run by vectorized
// operators over Arrow-layout batches on all cores, spilling to disk past a
// memory budget.
//
//	lineitem := dataframe.ReadParquet("lineitem.parquet")
//	q := lineitem.
//		Filter(dataframe.Col("l_shipdate").Le(dataframe.Date("1998-09-02"))).
//		GroupBy(dataframe.Col("l_returnflag")).
//		Agg(dataframe.Sum(dataframe.Col("l_quantity")).As("sum_qty"), dataframe.CountAll().As("n")).
//		Sort(dataframe.Asc("l_returnflag"))
//	res, err := q.Collect(ctx)
//
// Errors in building a frame (a missing column, mismatched types) are kept in
// the frame and returned by Collect, Explain and Err.
package dataframe
