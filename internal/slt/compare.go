package slt

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// cell is one value of a query's result with its type character and its
// SQLite rendering.
type cell struct {
	v    any
	typ  byte
	text string
}

// cells renders a result row by row into one flat slice. Columns beyond the
// type string (a bare "query" has none) are typed as text.
func cells(types string, rows [][]any) []cell {
	var flat []cell
	for _, row := range rows {
		for j, v := range row {
			typ := byte('T')
			if j < len(types) {
				typ = types[j]
			}
			flat = append(flat, cell{v: v, typ: typ, text: render(v, typ)})
		}
	}
	return flat
}

// sortCells orders a flat result as SQLite's runner does before comparing
// or hashing: rowsort compares rows column by column with strcmp (byte
// order), valuesort sorts every value on its own.
func sortCells(flat []cell, ncols int, m sortMode) {
	switch m {
	case valueSort:
		sort.SliceStable(flat, func(i, j int) bool { return flat[i].text < flat[j].text })
	case rowSort:
		if ncols <= 0 {
			return
		}
		rows := make([][]cell, len(flat)/ncols)
		for i := range rows {
			rows[i] = append([]cell(nil), flat[i*ncols:(i+1)*ncols]...)
		}
		sort.SliceStable(rows, func(i, j int) bool {
			for k := range rows[i] {
				if a, b := rows[i][k].text, rows[j][k].text; a != b {
					return a < b
				}
			}
			return false
		})
		for i, r := range rows {
			copy(flat[i*ncols:], r)
		}
	}
}

// hashCells is SQLite's result hash: the MD5 of every value's text followed
// by a newline, in result order after sorting, in lower-case hex.
func hashCells(flat []cell) string {
	h := md5.New()
	for _, c := range flat {
		io.WriteString(h, c.text)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

var hashLineRE = regexp.MustCompile(`^\s*([0-9]+)\s+values?\s+hashing\s+to\s+([0-9a-fA-F]{32})\s*$`)

// comparison is the outcome of comparing a result with a record's
// expected lines.
type comparison struct {
	ok     bool
	reason string
	actual string // the result, laid out as the expected lines are
}

// compareResult compares a sorted flat result of ncols columns with a
// record's expected lines. The layout is decided by counting lines: one
// line that says "N values hashing to H" is a hash; as many lines as values
// is SQLite's one value per line; as many lines as rows (and more than one
// column) is DuckDB's and sqllogictest-rs's one row per line.
func compareResult(expected []string, flat []cell, ncols int, m sortMode) comparison {
	nvals := len(flat)
	nrows := 0
	if ncols > 0 {
		nrows = nvals / ncols
	}
	if len(expected) == 1 {
		if h := hashLineRE.FindStringSubmatch(expected[0]); h != nil {
			got := hashCells(flat)
			n, err := strconv.Atoi(h[1])
			if err == nil && n == nvals && strings.EqualFold(h[2], got) {
				return comparison{ok: true}
			}
			return comparison{reason: "wrong result hash", actual: fmt.Sprintf("%d values hashing to %s", nvals, got)}
		}
	}
	switch {
	case len(expected) == nvals:
		if valuesMatch(expected, flat, ncols, m) {
			return comparison{ok: true}
		}
		return comparison{reason: "wrong result", actual: showValues(flat)}
	case ncols > 1 && len(expected) == nrows:
		if rowsMatch(expected, flat, ncols, m) {
			return comparison{ok: true}
		}
		return comparison{reason: "wrong result", actual: showRows(flat, ncols)}
	}
	reason := fmt.Sprintf("wrong result: %d expected lines, but the query returned %d rows of %d columns", len(expected), nrows, ncols)
	if ncols > 1 && len(expected) > 0 && len(strings.Fields(expected[0])) > 1 {
		return comparison{reason: reason, actual: showRows(flat, ncols)}
	}
	return comparison{reason: reason, actual: showValues(flat)}
}

// valuesMatch compares expected lines one value each. In a sorted mode the
// expected lines may have been sorted by another runner's spelling of the
// values, so a failed in-order comparison is retried as a comparison of
// multisets (of rows for rowsort, of values for valuesort).
func valuesMatch(expected []string, flat []cell, ncols int, m sortMode) bool {
	switch {
	case every(len(expected), func(i int) bool { return matchCell(expected[i], flat[i]) }):
		return true
	case m == valueSort:
		return sameMultiset(len(expected),
			func(e int) string { return normWS(expected[e]) },
			func(a int) string { return normWS(flat[a].text) },
			func(e, a int) bool { return matchCell(expected[e], flat[a]) })
	case m == rowSort && ncols > 0:
		return sameMultiset(len(expected)/ncols,
			func(e int) string { return normWS(strings.Join(expected[e*ncols:(e+1)*ncols], " ")) },
			func(a int) string { return rowKey(flat[a*ncols : (a+1)*ncols]) },
			func(e, a int) bool {
				return every(ncols, func(k int) bool { return matchCell(expected[e*ncols+k], flat[a*ncols+k]) })
			})
	}
	return false
}

// rowsMatch compares expected lines one row each.
func rowsMatch(expected []string, flat []cell, ncols int, m sortMode) bool {
	row := func(i int) []cell { return flat[i*ncols : (i+1)*ncols] }
	switch {
	case every(len(expected), func(i int) bool { return matchRowLine(expected[i], row(i)) }):
		return true
	case m == rowSort:
		return sameMultiset(len(expected),
			func(e int) string { return normWS(expected[e]) },
			func(a int) string { return rowKey(row(a)) },
			func(e, a int) bool { return matchRowLine(expected[e], row(a)) })
	case m == valueSort:
		var vals []string
		for _, e := range expected {
			if parts := strings.Split(e, "\t"); len(parts) == ncols {
				vals = append(vals, parts...)
			} else {
				vals = append(vals, strings.Fields(e)...)
			}
		}
		return len(vals) == len(flat) && valuesMatch(vals, flat, 1, valueSort)
	}
	return false
}

// every reports whether ok holds for 0..n-1.
func every(n int, ok func(i int) bool) bool {
	for i := 0; i < n; i++ {
		if !ok(i) {
			return false
		}
	}
	return true
}

func rowKey(row []cell) string {
	texts := make([]string, len(row))
	for i, c := range row {
		texts[i] = c.text
	}
	return normWS(strings.Join(texts, " "))
}

// sameMultiset reports whether n expected items can be paired one to one
// with n actual items that match. Items with equal keys are paired first;
// the rest are paired greedily by match.
func sameMultiset(n int, keyE, keyA func(int) string, match func(e, a int) bool) bool {
	byKey := make(map[string][]int, n)
	for a := 0; a < n; a++ {
		k := keyA(a)
		byKey[k] = append(byKey[k], a)
	}
	used := make([]bool, n)
	var rest []int
	for e := 0; e < n; e++ {
		k := keyE(e)
		paired := false
		for i, a := range byKey[k] {
			if !used[a] && match(e, a) {
				used[a] = true
				byKey[k] = byKey[k][i+1:]
				paired = true
				break
			}
		}
		if !paired {
			rest = append(rest, e)
		}
	}
	for _, e := range rest {
		paired := false
		for a := 0; a < n; a++ {
			if !used[a] && match(e, a) {
				used[a] = true
				paired = true
				break
			}
		}
		if !paired {
			return false
		}
	}
	return true
}

// matchCell reports whether an expected value's text stands for a result
// value: SQLite's rendering, another runner's spelling (alternates), either
// with white space runs folded, or DuckDB's <REGEX>:re and <!REGEX>:re (the
// whole rendering must match re).
func matchCell(exp string, c cell) bool {
	if exp == c.text {
		return true
	}
	if re, ok := strings.CutPrefix(exp, "<REGEX>:"); ok {
		return regexFull(re, c)
	}
	if re, ok := strings.CutPrefix(exp, "<!REGEX>:"); ok {
		return !regexFull(re, c)
	}
	alts := alternates(c.v, c.typ)
	for _, s := range alts {
		if exp == s {
			return true
		}
	}
	ne := normWS(exp)
	if ne == normWS(c.text) {
		return true
	}
	for _, s := range alts {
		if ne == normWS(s) {
			return true
		}
	}
	return false
}

func regexFull(re string, c cell) bool {
	r, err := regexp.Compile(`^(?s:` + re + `)$`)
	if err != nil {
		return false
	}
	if r.MatchString(c.text) {
		return true
	}
	for _, s := range alternates(c.v, c.typ) {
		if r.MatchString(s) {
			return true
		}
	}
	return false
}

// matchRowLine reports whether one expected line stands for one row: its
// tab-separated fields match the row's values (DuckDB), or its
// white-space-separated words are the words of the row's values in order
// (sqllogictest-rs compares rows with white space folded, so a value may
// hold spaces).
func matchRowLine(line string, row []cell) bool {
	if parts := strings.Split(line, "\t"); len(parts) == len(row) &&
		every(len(parts), func(i int) bool { return matchCell(parts[i], row[i]) }) {
		return true
	}
	return matchWords(strings.Fields(line), row)
}

func matchWords(words []string, row []cell) bool {
	if len(row) == 0 {
		return len(words) == 0
	}
	c := row[0]
	tried := map[string]bool{}
	for _, s := range append([]string{c.text}, alternates(c.v, c.typ)...) {
		w := strings.Fields(s)
		key := strings.Join(w, " ")
		if tried[key] || len(w) > len(words) {
			continue
		}
		tried[key] = true
		if slices.Equal(words[:len(w)], w) && matchWords(words[len(w):], row[1:]) {
			return true
		}
	}
	return false
}

func normWS(s string) string { return strings.Join(strings.Fields(s), " ") }

func showValues(flat []cell) string {
	var b strings.Builder
	for i, c := range flat {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(c.text)
	}
	return b.String()
}

func showRows(flat []cell, ncols int) string {
	var b strings.Builder
	for i, c := range flat {
		if i > 0 {
			if i%ncols == 0 {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(c.text)
	}
	return b.String()
}
