// Package head is Shoal's control plane: cluster membership and node
// health, the task table and its scheduler, the object directory with its
// reference counts, jobs, and the executors that run them.
//
// The head is the authority on every task's state. It receives tasks from
// drivers and executors on their session streams, places them with
// scheduler.Place, and hands them in batches straight to the executor of the
// task's job on the chosen node; results come back on the same streams and
// readiness goes to each object's owner. Node agents keep a stream of their
// own for heartbeats, executor lifecycle and object copies. Object bytes never
// pass through the head, except values small enough to travel inline.
//
// Locks: Head.mu guards every table; an outbox's lock is taken under it,
// never the other way round (see locksordering.txt).
package head
