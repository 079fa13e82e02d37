package tpch

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/dataframe"
)

// Answer is a parsed qN.out file: a header line, then '|'-separated rows.
type Answer struct {
	Header []string
	Rows   [][]string
}

// ReadAnswer parses dir/qN.out.
func ReadAnswer(dir string, n int) (*Answer, error) {
	path := filepath.Join(dir, fmt.Sprintf("q%d.out", n))
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading TPC-H answer: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil, fmt.Errorf("TPC-H answer %s is empty", path)
	}
	a := &Answer{Header: strings.Split(lines[0], "|")}
	for _, l := range lines[1:] {
		a.Rows = append(a.Rows, strings.Split(l, "|"))
	}
	return a, nil
}

// Tolerances: money (decimal) within 0.01; floats (averages, ratios) within a
// relative 1e-9 (or 1e-9 absolute near zero); everything else exact.
const (
	moneyTolerance = 0.01
	floatRelative  = 1e-9
)

// orderKeys are the result columns of each query's ORDER BY. Rows whose
// keys tie may come in any order (SQL leaves it open), so the check
// compares a run of tied rows as a set: at SF10, two rows of Q11 with the
// same value came out swapped against DuckDB's answer.
var orderKeys = map[int][]int{
	1: {0, 1}, 2: {0, 2, 1, 3}, 3: {1, 2}, 4: {0}, 5: {1}, 7: {0, 1, 2}, 8: {0}, 9: {0, 1}, 10: {2},
	11: {1}, 12: {0}, 13: {1, 0}, 15: {0}, 16: {3, 0, 1, 2}, 18: {4, 3}, 20: {0}, 21: {1, 0}, 22: {0},
}

// CheckQuery is Check for TPC-H query q: rows whose ORDER BY keys tie may
// be in any order among themselves.
func CheckQuery(q int, res *dataframe.Result, ans *Answer) []string {
	return check(res, ans, orderKeys[q])
}

// Check compares a result with an answer and returns the differences found
// (at most 10), each naming the row and column; none means correct.
func Check(res *dataframe.Result, ans *Answer) []string { return check(res, ans, nil) }

// check is Check where rows whose keys (answer columns) are equal may be
// in any order among themselves (nil keys: every row in place).
func check(res *dataframe.Result, ans *Answer, keys []int) []string {
	var problems []string
	schema := res.Schema()
	if len(schema) != len(ans.Header) {
		return []string{fmt.Sprintf("%d columns, answer has %d (%s)", len(schema), len(ans.Header), strings.Join(ans.Header, "|"))}
	}
	if res.NumRows() != len(ans.Rows) {
		problems = append(problems, fmt.Sprintf("%d rows, answer has %d", res.NumRows(), len(ans.Rows)))
	}
	n := min(res.NumRows(), len(ans.Rows))
	for i := 0; i < n && len(problems) < 10; i++ {
		want := ans.Rows[i]
		if len(want) != len(schema) {
			problems = append(problems, fmt.Sprintf("answer row %d has %d fields, want %d", i+1, len(want), len(schema)))
			continue
		}
		if rowMatches(res, i, want) {
			continue
		}
		if end := tieEnd(ans, i, keys, n); end > i+1 && tiedRowsMatch(res, ans, i, end) {
			i = end - 1 // (the run of tied rows matched as a set)
			continue
		}
		for j := range schema {
			got := res.Value(i, j)
			if !cellMatches(got, want[j]) {
				problems = append(problems, fmt.Sprintf("row %d column %s: got %s, want %s",
					i+1, ans.Header[j], dataframe.FormatValue(got), want[j]))
			}
		}
	}
	return problems
}

func rowMatches(res *dataframe.Result, i int, want []string) bool {
	for j := range want {
		if !cellMatches(res.Value(i, j), want[j]) {
			return false
		}
	}
	return true
}

// tieEnd is the end of the run of answer rows from start (before n) whose
// key columns equal those of the row before start or of row start: the
// rows that may come in any order with row start.
func tieEnd(ans *Answer, start int, keys []int, n int) int {
	if len(keys) == 0 {
		return start + 1
	}
	same := func(a, b int) bool {
		for _, k := range keys {
			if k >= len(ans.Rows[a]) || k >= len(ans.Rows[b]) || strings.TrimSpace(ans.Rows[a][k]) != strings.TrimSpace(ans.Rows[b][k]) {
				return false
			}
		}
		return true
	}
	end := start + 1
	for end < n && same(start, end) {
		end++
	}
	return end
}

// tiedRowsMatch reports whether result rows [start, end) are answer rows
// [start, end) in some order.
func tiedRowsMatch(res *dataframe.Result, ans *Answer, start, end int) bool {
	used := make([]bool, end-start)
	for i := start; i < end; i++ {
		found := false
		for k := start; k < end && !found; k++ {
			if !used[k-start] && len(ans.Rows[k]) == len(res.Schema()) && rowMatches(res, i, ans.Rows[k]) {
				used[k-start], found = true, true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func cellMatches(got dataframe.Value, want string) bool {
	if want == "NULL" {
		return got.Null
	}
	if got.Null {
		return false
	}
	switch got.T {
	case dataframe.String, dataframe.Date32, dataframe.Bool:
		g := dataframe.FormatValue(got)
		return g == want || strings.TrimRight(g, " ") == strings.TrimRight(want, " ")
	case dataframe.Int32, dataframe.Int64:
		w, err := strconv.ParseInt(strings.TrimSpace(want), 10, 64)
		if err != nil {
			// Some engines print integral sums with decimals.
			f, ferr := strconv.ParseFloat(strings.TrimSpace(want), 64)
			return ferr == nil && f == float64(got.I)
		}
		return w == got.I
	case dataframe.Float64:
		w, err := strconv.ParseFloat(strings.TrimSpace(want), 64)
		if err != nil {
			return false
		}
		d := math.Abs(got.F - w)
		return d <= floatRelative*math.Abs(w) || d <= floatRelative
	}
	// Decimals.
	w, err := strconv.ParseFloat(strings.TrimSpace(want), 64)
	if err != nil {
		return false
	}
	return math.Abs(got.Float()-w) <= moneyTolerance+1e-9
}
