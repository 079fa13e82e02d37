// Package credential derives and checks job credentials: tokens scoped to
// one job, which a node gives the processes of a job (its submitted driver
// and its executors) in place of the cluster token, so that a job's code
// can do its own work but not stop another job, drain a node or read
// another job's package.
//
// A job credential needs no storage: it is derived from the cluster token,
//
//	job.<job id, 32 hex digits>.<hex(HMAC-SHA256(cluster token, "shoal job credential v1\x00" | job id))>
//
// so whoever holds the cluster token (the head, the nodes, an operator's
// driver) derives any job's, and a job's credential cannot be turned into
// another's. Derived jobs (a task's environment, an actor's own executor)
// are parts of their root job and share its credential.
//
// Vocabulary:
//
//	cluster token  the head's token: every operation, every job
//	job credential a token for one (root) job
//	principal      who a verified token speaks for: the cluster or a job
//	scope          the job a connection of the data plane or of direct
//	               calls is opened for (ids.Nil: the cluster)
package credential
