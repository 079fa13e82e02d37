// Package types defines the logical column types of Shoal's dataframe engine and
// their mapping to Apache Arrow types.
package types
