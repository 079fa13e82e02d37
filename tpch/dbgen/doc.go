// Package dbgen generates TPC-H data byte for byte as the reference dbgen writes it, in parallel chunks.
package dbgen
