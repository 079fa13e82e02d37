// Package chaos proves Shoal's fault tolerance: it starts a local cluster,
// drives a workload through it while killing, draining or partitioning
// nodes on a schedule drawn from a seed, and checks every result and the
// cluster's recovery. It backs `shoal chaos`; see README.md for the
// workloads, the modes and the track record of the bugs it found.
package chaos
