// Package physical turns a logical plan into a physical plan: a DAG of stages,
// each a pipeline of operators over one partition whose inputs are scans or
// exchange reads and whose output is an exchange (hash, broadcast, single) or
// the result. Stages are plain data, so they can be serialized and tokenized.
package physical
