// Package expr defines the expression tree shared by the logical and physical
// plans: construction, type resolution with implicit casts, and canonical form.
package expr
