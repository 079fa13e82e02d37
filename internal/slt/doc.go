// Package slt runs sqllogictest files against an SQL engine: SQLite's
// format, with the additions DuckDB, sqllogictest-rs (DataFusion) and
// CockroachDB use, so that their corpora run unchanged. `shoal sql --slt
// FILE...` runs Shoal's engine through it:
//
//	sum, err := slt.Run(ctx, func() (slt.Engine, error) { return newSession() }, files, slt.Options{Verbose: os.Stderr})
//	sum.WriteText(os.Stdout) // slt: 3 files, 1200 passed, 4 failed, 10 skipped
//
// # Pipeline
//
//	file ──parse──▶ records ──run, one Engine per file──▶ result values
//	     ──render by type char──▶ text ──sort (rowsort/valuesort)──▶ compare with the lines after ----
//	                                                                 (value per line | row per line | hash)
//
// # Records
//
// Records are separated by blank lines (a line of white space is blank).
// Lines starting with # are comments between records and inside SQL; after
// ---- they are result values (as in sqllogictest-rs). A record may start
// with skipif NAME / onlyif NAME lines, matched against Options.Engines
// (by default postgresql and shoal) without regard to case. Then:
//
//   - statement ok | error [regex] | count N | maybe, then the SQL up to a
//     blank line. statement error may be followed by ---- and the expected
//     message (DuckDB, sqllogictest-rs).
//   - query TYPES [SORT] [LABEL], then the SQL up to ---- (or the end of
//     the record) and the expected results up to a blank line. SORT is
//     nosort, rowsort (or DuckDB's sort) or valuesort, or CockroachDB's
//     comma-separated options (colnames drops the first result line,
//     partialsort(...) is taken as rowsort, retry is ignored).
//     query error [regex] expects an error, with an optional message
//     under ----.
//   - hash-threshold N, halt (stop reading the file), control sortmode X
//     (the file's default sort mode, sqllogictest-rs).
//   - DuckDB: require ... skips the rest of the file; mode skip skips
//     records until mode unskip; loop/foreach ... endloop bodies are
//     skipped (they need the loop's variable substituted); other mode and
//     control records, subtest and sleep are ignored.
//   - Any other directive (load, include, connection, system, let, ...) is
//     a record counted as skipped. A known directive written wrongly
//     (statement with no SQL, a non-numeric count, an unknown sort mode, a
//     type string with a non-letter) is a failed record with its line.
//
// A query without a ---- line passes if it returns no rows (sqllogictest-rs
// expects an empty result), or, when it has a label, by the label check
// alone (SQLite).
//
// # Rendering values
//
// Each value is rendered as SQLite's runner renders it for its column's
// type character: NULL is "NULL" under every type; I is an integer (%d;
// reals truncated toward zero, booleans 1/0, text and decimals by their
// leading integer, as SQLite reads text as an integer); R is %.3f; T and
// every other character (B, D, P, ? of other runners) is text: strings as
// they are, "(empty)" for the empty string, '@' for each byte below 0x20 or
// above 0x7e; integers as %d; reals in PostgreSQL's shortest spelling (1,
// 0.1, 1e+20); booleans true and false (as DuckDB, DataFusion and
// CockroachDB print them; PostgreSQL's t and f are accepted too);
// time.Time as PostgreSQL prints a timestamp; a fmt.Stringer by String.
// These renderings are what is sorted and hashed.
//
// When results are compared value by value (not by hash), another runner's
// spelling of the same value also matches: any value as plain text under
// any type (DuckDB writes "0.5" under R and "true" under I), reals in their
// shortest form, with a trailing ".0" or SQLite's %!.15g, non-ASCII text
// unreplaced, "·" for the empty string (CockroachDB), and runs of white
// space fold. DuckDB's <REGEX>:re and <!REGEX>:re match a whole value.
//
// # Comparing results
//
// A result must have as many columns as the type string has characters (as
// SQLite and DuckDB require; a bare "query" takes any number, as text).
// How the expected lines are laid out is decided per record by counting:
//
//   - one line "N values hashing to H": the values, each followed by a
//     newline, in order after sorting, are hashed with MD5 and compared
//     with N and H (SQLite). A file's hash-threshold says when SQLite's
//     runner writes that form; the runner follows the form the file holds.
//   - as many lines as values: one value per line (SQLite).
//   - otherwise, with more than one column and as many lines as rows: one
//     row per line (DuckDB, sqllogictest-rs), its values separated by tabs,
//     or by white space (a value may then hold spaces: the line's words
//     must be the row's values' words in order).
//
// rowsort sorts rows by their rendered values column by column in byte
// order, valuesort sorts all values, as SQLite does. The expected lines of
// another runner were sorted by its own spellings, so when a sorted result
// does not match in order it is compared again as a multiset.
//
// Records with the same label must give the same hash of their sorted
// values; a labelled record skipped by skipif/onlyif seeds the label with
// the hash of its expected results when they are a hash or one column.
//
// An expected error's regex on the directive line must match somewhere in
// the message (a pattern that is not a valid RE2 expression is looked for
// as text; CockroachDB's "pgcode XXXXX" prefix is passed over); the text
// under ---- must appear in the message with white space folded. A
// timeout or a panic never counts as the expected error.
//
// # Counting
//
// Every statement and query record of a file up to its halt is one unit:
// passed, failed, or skipped (by skipif/onlyif, require, mode skip, a
// loop, an unknown directive, StopAfter, or an engine stuck past its
// timeout). See Summary. Failures carry the file, the directive's line,
// the SQL and trimmed expected and actual results.
package slt
