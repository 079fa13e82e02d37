// Package window computes window functions (row_number, rank, dense_rank,
// lag, lead, and sum, count, avg, min, max over a frame) over input sorted
// on the window's partition keys, then its order keys.
//
// The operator streams: it holds the rows of the partition still being
// read and computes a partition once a row of the next one (or the end of
// the input) shows that it is complete. A partition is held whole (its
// rows are needed for lag/lead and for the values of peers and of
// whole-partition frames), so one partition must fit in memory; the sort
// beneath it spills.
//
// Vocabulary:
//
//	partition  rows with equal partition keys
//	peers      rows of a partition with equal order keys (all of them
//	           when the window has no order)
//	frame      the rows an aggregate sees for the current row:
//	           expr.FramePeers (the partition up to the row's last peer,
//	           SQL's default), expr.FrameRows (up to the row itself) or
//	           expr.FramePartition (the whole partition)
package window
