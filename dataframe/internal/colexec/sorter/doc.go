// Package sorter implements sort (external merge sort past a memory budget),
// top-k and the ordered merge of sorted streams.
package sorter
