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

// Check compares a result with an answer and returns the differences found
// (at most 10), each naming the row and column; none means correct.
func Check(res *dataframe.Result, ans *Answer) []string {
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
