package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/tpch"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// newSQLCommand is `shoal sql`: a SQL shell over the tables of a directory.
func newSQLCommand() *cobra.Command {
	var (
		dataDir, format string
		commands        []string
		slt, sltJSON    bool
		maxRows         int
		timing, load    bool
	)
	cmd := &cobra.Command{
		Use:   "sql [--data DIR] [-c QUERY]... [FILE.sql]...",
		Short: "Run SQL: an interactive shell, -c statements or script files",
		Long: `sql runs SQL statements on Shoal's dataframe engine. --data DIR registers the
tables of a directory by file name: TPC-H data (dbgen's .tbl files, loaded with
their schema) or any <name>.parquet file and <name>/ directory of Parquet files.
read_parquet('path') reads files in a query too; CREATE TABLE, INSERT, UPDATE,
DELETE, CREATE VIEW and DROP work on in-memory tables.

With -c or script files it runs them and exits; with neither it reads
statements from a terminal (history with the arrow keys; \dt lists tables,
\d NAME describes one, \timing toggles timings, \q quits) or from standard
input when piped. --format table|csv|json chooses how rows print.

--slt runs sqllogictest files (the arguments) and prints one summary line
(--json: {"files","passed","failed","skipped"}).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if slt {
				return runSLT(ctx, out, dataDir, args, sltJSON)
			}
			switch format {
			case "table", "csv", "json":
			default:
				return fmt.Errorf("--format %q: want table, csv or json", format)
			}
			cat, err := openCatalog(ctx, dataDir, load)
			if err != nil {
				return err
			}
			sh := &sqlShell{cat: cat, out: out, format: format, maxRows: maxRows, timing: timing}
			if len(commands) > 0 || len(args) > 0 {
				for _, c := range commands {
					if err := sh.run(ctx, c, 0); err != nil {
						return err
					}
				}
				for _, f := range args {
					text, err := os.ReadFile(f)
					if err != nil {
						return err
					}
					if err := sh.runLines(ctx, string(text)); err != nil {
						return fmt.Errorf("%s: %w", f, err)
					}
				}
				return nil
			}
			if term.IsTerminal(int(os.Stdin.Fd())) {
				return sh.interactive(ctx)
			}
			text, err := io.ReadAll(os.Stdin)
			if err != nil {
				return err
			}
			return sh.runLines(ctx, string(text))
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "", "directory whose tables to register (TPC-H .tbl, <name>.parquet, <name>/ of Parquet)")
	f.StringArrayVarP(&commands, "command", "c", nil, "run these statements and exit (repeatable)")
	f.StringVar(&format, "format", "table", "output format: table, csv or json")
	f.IntVar(&maxRows, "max-rows", 1000, "rows printed per result in table format (0: all)")
	f.BoolVar(&timing, "timing", false, "print each statement's time")
	f.BoolVar(&load, "load", false, "load --data's tables into memory first (faster queries, and column statistics for the join order)")
	f.BoolVar(&slt, "slt", false, "run the arguments as sqllogictest files and print a summary")
	f.BoolVar(&sltJSON, "json", false, "with --slt: print the summary as JSON")
	return cmd
}

// openCatalog registers the tables of dir: TPC-H's when it holds them,
// else its Parquet files and directories; load reads them into memory.
func openCatalog(ctx context.Context, dir string, load bool) (*dataframe.Catalog, error) {
	if dir == "" {
		return dataframe.NewCatalog(), nil
	}
	if db, err := tpch.Open(ctx, dir, tpch.LoadOptions{InMemory: load}); err == nil {
		return db.Catalog()
	} else if !errors.Is(err, tpch.ErrNoData) {
		return nil, err
	}
	cat := dataframe.NewCatalog()
	names, err := cat.RegisterDir(dir)
	if err != nil {
		return nil, err
	}
	if load {
		if err := cat.Load(ctx); err != nil {
			return nil, err
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("--data %s: no tables found (want TPC-H .tbl files, <name>.parquet files or <name>/ directories of Parquet files)", dir)
	}
	return cat, nil
}

// sqlShell runs statements and prints their results.
type sqlShell struct {
	cat     *dataframe.Catalog
	out     io.Writer
	format  string
	maxRows int
	timing  bool
}

// runLines runs a script whose lines may also be the shell's backslash
// commands (\dt, \d NAME, \timing, \q), as psql reads one.
func (sh *sqlShell) runLines(ctx context.Context, text string) error {
	var buf strings.Builder
	first := 0 // the line buf starts at
	for n, line := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, `\`) && strings.TrimSpace(stripComments(buf.String())) == "" || strings.HasPrefix(t, `\`) && strings.HasSuffix(strings.TrimSpace(buf.String()), ";") {
			if err := sh.run(ctx, buf.String(), first); err != nil {
				return err
			}
			buf.Reset()
			first = n + 1
			if sh.meta(ctx, sh.out, t) {
				return nil
			}
			continue
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
	}
	return sh.run(ctx, buf.String(), first)
}

// run runs a script that starts on line first (from 0) of the text it
// came from, printing each result; it stops at the first error.
func (sh *sqlShell) run(ctx context.Context, script string, first int) error {
	for _, st := range splitStatements(script) {
		if err := sh.one(ctx, st, first); err != nil {
			return err
		}
	}
	return nil
}

func (sh *sqlShell) one(ctx context.Context, st statement, first int) error {
	start := time.Now()
	stmt := st.text
	res, changed, err := sh.cat.ExecStatement(ctx, stmt)
	if err != nil {
		var se *dataframe.SQLError
		if !errors.As(err, &se) {
			return err
		}
		if lines := first + st.line; lines > 0 || st.col > 0 {
			// A statement refused before it ran (syntax, names, types),
			// read again where it stands in its text, so that the error
			// names the line and column there.
			lead := strings.Repeat("\n", lines) + strings.Repeat(" ", st.col)
			_, _, again := sh.cat.ExecStatement(ctx, lead+stmt)
			errors.As(again, &se)
		}
		return fmt.Errorf("%s\n%s", se.Error(), se.Excerpt)
	}
	switch {
	case res != nil:
		if err := printResult(sh.out, res, sh.format, sh.maxRows); err != nil {
			return err
		}
	case changed > 0 || isDML(stmt):
		fmt.Fprintf(sh.out, "%d rows changed\n", changed)
	}
	if sh.timing {
		fmt.Fprintf(sh.out, "Time: %s\n", time.Since(start).Round(time.Microsecond))
	}
	return nil
}

func isDML(stmt string) bool {
	f := strings.Fields(strings.ToLower(stmt))
	return len(f) > 0 && (f[0] == "insert" || f[0] == "update" || f[0] == "delete")
}

// statement is one statement of a script and where it starts there (line
// and column from 0).
type statement struct {
	text      string
	line, col int
}

// splitStatements cuts a script at the semicolons outside strings,
// quoted names and comments.
func splitStatements(s string) []statement {
	var out []statement
	start := 0
	var pos lineCounter
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'', '"':
			q := s[i]
			for i++; i < len(s) && s[i] != q; i++ {
			}
		case '-':
			if i+1 < len(s) && s[i+1] == '-' {
				for i < len(s) && s[i] != '\n' {
					i++
				}
			}
		case '/':
			if i+1 < len(s) && s[i+1] == '*' {
				end := strings.Index(s[i+2:], "*/")
				if end < 0 {
					i = len(s)
				} else {
					i += end + 3
				}
			}
		case ';':
			out = appendStatement(out, s, start, i, &pos)
			start = i + 1
		}
	}
	if start < len(s) {
		out = appendStatement(out, s, start, len(s), &pos)
	}
	return out
}

// lineCounter counts the lines of a text up to a position, moving forward
// only: each byte is counted once however many statements the text holds.
type lineCounter struct {
	at, lines, lineStart int
}

// advance counts up to position p of s.
func (c *lineCounter) advance(s string, p int) {
	for ; c.at < p; c.at++ {
		if s[c.at] == '\n' {
			c.lines++
			c.lineStart = c.at + 1
		}
	}
}

// appendStatement appends s[start:end] and its position unless it holds
// no statement.
func appendStatement(out []statement, s string, start, end int, pos *lineCounter) []statement {
	if strings.TrimSpace(stripComments(s[start:end])) == "" {
		return out
	}
	pos.advance(s, start)
	return append(out, statement{text: s[start:end], line: pos.lines, col: start - pos.lineStart})
}

func stripComments(s string) string {
	var sb strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		sb.WriteString(line)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// printResult prints rows as an aligned table (numbers right-aligned),
// CSV or JSON.
func printResult(w io.Writer, res *dataframe.Result, format string, maxRows int) error {
	schema := res.Schema()
	n := res.NumRows()
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(schema.Names()); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			row := res.Row(i)
			rec := make([]string, len(row))
			for j, v := range row {
				if !v.Null {
					rec[j] = dataframe.FormatValue(v)
				}
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "json":
		rows := make([]map[string]any, n)
		for i := range rows {
			m := map[string]any{}
			for j, v := range res.Row(i) {
				m[schema[j].Name] = jsonValue(v)
			}
			rows[i] = m
		}
		enc := json.NewEncoder(w)
		return enc.Encode(rows)
	}
	if len(schema) == 1 && schema[0].Name == "plan" {
		// EXPLAIN: the plan's lines as they are.
		for i := 0; i < n; i++ {
			fmt.Fprintln(w, res.Value(i, 0).S)
		}
		return nil
	}
	return res.WriteTable(w, maxRows)
}

func jsonValue(v dataframe.Value) any {
	if v.Null {
		return nil
	}
	switch v.T.ID {
	case dataframe.Int32.ID, dataframe.Int64.ID:
		return v.I
	case dataframe.Float64.ID:
		return v.F
	case dataframe.Bool.ID:
		return v.B
	case dataframe.Decimal(18, 0).ID:
		return json.Number(dataframe.FormatValue(v))
	}
	return dataframe.FormatValue(v)
}

// interactive reads statements from the terminal until \q or end of input.
func (sh *sqlShell) interactive(ctx context.Context) error {
	old, err := term.MakeRaw(int(os.Stdin.Fd()))
	if err != nil {
		return err
	}
	defer term.Restore(int(os.Stdin.Fd()), old)
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{os.Stdin, os.Stdout}, "shoal> ")
	sh.out = t
	t.History = loadHistory(filepath.Join(os.Getenv("HOME"), ".shoal_sql_history"))
	fmt.Fprintf(t, "Shoal SQL. End statements with ;  \\dt lists tables, \\d NAME describes one, \\q quits.\n")
	var buf strings.Builder
	for {
		line, err := t.ReadLine()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		trimmed := strings.TrimSpace(line)
		if buf.Len() == 0 && strings.HasPrefix(trimmed, `\`) {
			if sh.meta(ctx, t, trimmed) {
				return nil
			}
			continue
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
		if !strings.HasSuffix(trimmed, ";") {
			t.SetPrompt("   ...> ")
			continue
		}
		stmt := buf.String()
		buf.Reset()
		t.SetPrompt("shoal> ")
		if err := sh.run(ctx, stmt, 0); err != nil {
			fmt.Fprintf(t, "ERROR: %v\n", err)
		}
	}
}

// maxHistory bounds the lines the shell remembers across sessions.
const maxHistory = 1000

// fileHistory is the shell's line history (the arrow keys), kept in a file
// across sessions: the last maxHistory lines.
type fileHistory struct {
	path  string
	lines []string // oldest first
}

func loadHistory(path string) *fileHistory {
	h := &fileHistory{path: path}
	if data, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(l) != "" {
				h.lines = append(h.lines, l)
			}
		}
		if len(h.lines) > maxHistory {
			h.lines = h.lines[len(h.lines)-maxHistory:]
		}
	}
	return h
}

// Add implements term.History (and appends the line to the file).
func (h *fileHistory) Add(line string) {
	if strings.TrimSpace(line) == "" || (len(h.lines) > 0 && h.lines[len(h.lines)-1] == line) {
		return
	}
	h.lines = append(h.lines, line)
	if len(h.lines) > maxHistory {
		h.lines = h.lines[1:]
	}
	if f, err := os.OpenFile(h.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
}

// Len implements term.History.
func (h *fileHistory) Len() int { return len(h.lines) }

// At implements term.History: 0 is the most recent line.
func (h *fileHistory) At(i int) string { return h.lines[len(h.lines)-1-i] }

// meta runs a backslash command; it reports whether to quit.
func (sh *sqlShell) meta(ctx context.Context, w io.Writer, cmd string) bool {
	f := strings.Fields(cmd)
	switch f[0] {
	case `\q`, `\quit`:
		return true
	case `\dt`:
		for _, n := range sh.cat.Tables() {
			fmt.Fprintln(w, n)
		}
	case `\d`:
		if len(f) < 2 {
			fmt.Fprintln(w, `\d NAME describes a table`)
			return false
		}
		df, err := sh.cat.SQL(ctx, "select * from "+f[1])
		if err != nil {
			fmt.Fprintf(w, "ERROR: %v\n", err)
			return false
		}
		s, _ := df.Schema()
		for _, c := range s {
			fmt.Fprintf(w, "%-24s %s\n", c.Name, c.Type)
		}
	case `\timing`:
		sh.timing = !sh.timing
		fmt.Fprintf(w, "timing is %v\n", map[bool]string{true: "on", false: "off"}[sh.timing])
	default:
		fmt.Fprintf(w, "unknown command %s (\\dt, \\d NAME, \\timing, \\q)\n", f[0])
	}
	return false
}
