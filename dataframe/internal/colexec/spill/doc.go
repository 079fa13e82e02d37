// Package spill writes batches to temporary Arrow IPC files (zstd-compressed)
// and reads them back, for operators whose state outgrows their memory budget.
package spill
