// Package parser parses the PostgreSQL-flavoured SQL of Shoal's SQL frontend
// into a syntax tree (ast.go, ast_expr.go, ast_stmt.go) for the binder.
package parser
