// Package plan defines the logical plan: relational nodes over resolved
// expressions, their schemas, cardinality estimates and canonical form.
package plan
