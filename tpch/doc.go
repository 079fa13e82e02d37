// Package tpch runs the TPC-H benchmark on Shoal's dataframe engine: the table
// schemas, loading dbgen's .tbl files or Parquet, conversion of .tbl text to
// Parquet, the 22 queries written with the dataframe API, answer checking and a
// timing runner.
package tpch
