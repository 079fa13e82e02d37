// Package scan implements the table sources that leaf operators read: in-memory
// tables, Parquet files (projection, row-group pruning on statistics) and
// delimited text files (parallel parsing by byte range).
package scan
