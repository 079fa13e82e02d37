package dataframe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// ShowRows is how many rows Show prints.
const ShowRows = 20

// Head is the frame's first n rows (Limit).
func (df *DataFrame) Head(n int64) *DataFrame { return df.Limit(n) }

// Show runs the frame and prints its first ShowRows rows to standard
// output as an aligned table with the columns' names and types
// (WriteTable).
func (df *DataFrame) Show(ctx context.Context, opts ...CollectOption) error {
	res, err := df.Limit(ShowRows+1).Collect(ctx, opts...)
	if err != nil {
		return err
	}
	return res.writeTable(os.Stdout, ShowRows, false)
}

// WriteTable prints the result as an aligned table: the column names,
// their types, a rule, then the rows (numbers right-aligned, NULL for
// nulls) and their count; maxRows > 0 prints only the first maxRows.
//
//	 l_returnflag | count_order
//	 string       |       int64
//	--------------+-------------
//	 A            |     1478493
//	(1 row)
func (r *Result) WriteTable(w io.Writer, maxRows int) error { return r.writeTable(w, maxRows, true) }

// writeTable is WriteTable; counted says the result holds every row (else
// more rows than maxRows may exist, but how many is not known).
func (r *Result) writeTable(w io.Writer, maxRows int, counted bool) error {
	schema := r.Schema()
	n := r.NumRows()
	shown := n
	if maxRows > 0 && shown > maxRows {
		shown = maxRows
	}
	cells := make([][]string, shown)
	width := make([]int, len(schema))
	for j, f := range schema {
		width[j] = max(utf8.RuneCountInString(f.Name), utf8.RuneCountInString(f.Type.String()))
	}
	for i := range cells {
		row := r.Row(i)
		cells[i] = make([]string, len(row))
		for j, v := range row {
			s := FormatValue(v)
			cells[i][j] = s
			width[j] = max(width[j], utf8.RuneCountInString(s))
		}
	}
	bw := bufio.NewWriter(w)
	pad := func(s string, j int) string {
		gap := strings.Repeat(" ", width[j]-utf8.RuneCountInString(s))
		if schema[j].Type.IsNumeric() {
			return gap + s
		}
		return s + gap
	}
	line := func(parts []string) {
		bw.WriteString(" " + strings.Join(parts, " | ") + "\n")
	}
	var head, typeNames, rule []string
	for j, f := range schema {
		head = append(head, pad(f.Name, j))
		typeNames = append(typeNames, pad(f.Type.String(), j))
		rule = append(rule, strings.Repeat("-", width[j]))
	}
	line(head)
	line(typeNames)
	bw.WriteString("-" + strings.Join(rule, "-+-") + "-\n")
	for _, row := range cells {
		parts := make([]string, len(row))
		for j, s := range row {
			parts[j] = pad(s, j)
		}
		line(parts)
	}
	switch {
	case shown < n && counted:
		fmt.Fprintf(bw, "(%d rows, the first %d shown)\n", n, shown)
	case shown < n:
		fmt.Fprintf(bw, "(the first %d rows shown)\n", shown)
	case n == 1:
		bw.WriteString("(1 row)\n")
	default:
		fmt.Fprintf(bw, "(%d rows)\n", n)
	}
	return bw.Flush()
}
