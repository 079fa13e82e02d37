// Package bench holds Shoal's built-in benchmark workloads, run by
// `shoal bench` on an embedded or a multi-process cluster and compared with
// the peers' published and measured figures (Dask distributed, Ray).
package bench
