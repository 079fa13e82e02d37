// Package scheduler decides where a task runs. Place is a pure function of
// one request and a snapshot of the nodes, so every placement rule is tested
// with a table of snapshots and no network (as Nomad tests its scheduler).
//
// Vocabulary:
//   - fits: the node's free resources (total minus committed) cover the
//     request.
//   - feasible: the node's total resources cover the request, so it could
//     run the task once work drains.
//   - backlog: a task placed beyond a node's free resources, queued on its
//     executor. Only short CPU-only tasks are backlogged, up to a limit, so
//     that tiny tasks pipeline instead of paying a head round trip per slot.
//   - held: a node an older task waits for; nothing is backlogged there, so
//     that the slots it frees reach the head (and the older task) first.
//   - locality: the bytes of a task's object arguments each node holds.
package scheduler
