// Package exchange moves batches between stages: the Exchange interface that a
// distributed runner implements with P2P shuffles, and its in-memory version.
package exchange
