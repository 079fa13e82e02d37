// Package hashtable provides the typed hash tables behind group-by and hash join:
// key columns are packed into fixed-width uint64 words per row (strings interned
// to int32 codes), and an open-addressing table maps keys to dense ids.
package hashtable
