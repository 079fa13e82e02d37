package tpch

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-dev/shoal/dataframe"
)

// RunOptions configure Run.
type RunOptions struct {
	// Queries to run (all 22 when empty).
	Queries []int
	// AnswersDir, when set, holds qN.out files to check results against.
	AnswersDir string
	// Runs is the number of timed runs per query (the median is reported);
	// Warmup untimed runs come first.
	Runs, Warmup int
	// Collect options for every query.
	Collect []dataframe.CollectOption
	// SQL builds the queries from their SQL text (SQLQuery) instead of the
	// hand-written frames (Query).
	SQL bool
	// OnQuery, when set, is told before each query starts (done queries
	// of total, the query's number) and once at the end (q = 0).
	OnQuery func(done, total, q int)
}

// QueryResult is the outcome of one query.
type QueryResult struct {
	Query   int     `json:"query"`
	Seconds float64 `json:"seconds"`
	// Correct is nil when no answer was checked.
	Correct  *bool    `json:"correct,omitempty"`
	Rows     int      `json:"rows"`
	Error    string   `json:"error,omitempty"`
	Problems []string `json:"problems,omitempty"`
	// Times lists every timed run.
	Times []float64 `json:"times,omitempty"`
	// PlanSeconds is the time to parse, bind and optimize the SQL text
	// (with RunOptions.SQL).
	PlanSeconds float64           `json:"plan_seconds,omitempty"`
	Result      *dataframe.Result `json:"-"`
}

// Report is the outcome of a run.
type Report struct {
	Queries      []QueryResult `json:"queries"`
	TotalSeconds float64       `json:"total_seconds"`
	// Correct counts the queries whose answer matched (when answers were given).
	Correct     int     `json:"correct"`
	LoadSeconds float64 `json:"load_seconds,omitempty"`
	SF          float64 `json:"sf"`
}

// Run times the queries on db and checks them against answers.
func Run(ctx context.Context, db *DB, opts RunOptions) (*Report, error) {
	qs := opts.Queries
	if len(qs) == 0 {
		for i := 1; i <= NumQueries; i++ {
			qs = append(qs, i)
		}
	}
	runs := max(opts.Runs, 1)
	rep := &Report{LoadSeconds: db.LoadSeconds, SF: db.SF}
	var cat *dataframe.Catalog
	if opts.SQL {
		c, err := db.Catalog()
		if err != nil {
			return nil, err
		}
		cat = c
	}
	if opts.OnQuery != nil {
		defer func() { opts.OnQuery(len(qs), len(qs), 0) }()
	}
	for k, q := range qs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if opts.OnQuery != nil {
			opts.OnQuery(k, len(qs), q)
		}
		qr := QueryResult{Query: q}
		var df *dataframe.DataFrame
		var err error
		start := time.Now()
		if cat != nil {
			df, err = SQLQuery(ctx, db, cat, q)
			qr.PlanSeconds = time.Since(start).Seconds()
		} else {
			df, err = Query(db, q)
		}
		if err != nil {
			qr.Error = err.Error()
			f := false
			qr.Correct = &f
			rep.Queries = append(rep.Queries, qr)
			continue
		}
		var res *dataframe.Result
		for i := 0; i < opts.Warmup+runs && err == nil; i++ {
			start := time.Now()
			res, err = df.Collect(ctx, opts.Collect...)
			if i >= opts.Warmup {
				qr.Times = append(qr.Times, time.Since(start).Seconds())
			}
		}
		if err != nil {
			qr.Error = err.Error()
			f := false
			qr.Correct = &f
			rep.Queries = append(rep.Queries, qr)
			continue
		}
		qr.Seconds = median(qr.Times)
		qr.Rows = res.NumRows()
		qr.Result = res
		rep.TotalSeconds += qr.Seconds
		if opts.AnswersDir != "" {
			ans, err := ReadAnswer(opts.AnswersDir, q)
			if err != nil {
				return nil, err
			}
			qr.Problems = CheckQuery(q, res, ans)
			ok := len(qr.Problems) == 0
			qr.Correct = &ok
			if ok {
				rep.Correct++
			}
		}
		rep.Queries = append(rep.Queries, qr)
	}
	return rep, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ParseQueries parses "1,5,18" (and ranges like "1-5").
func ParseQueries(s string) ([]int, error) {
	var out []int
	if s == "" {
		return nil, nil
	}
	for _, part := range splitComma(s) {
		var a, b int
		if n, _ := fmt.Sscanf(part, "%d-%d", &a, &b); n == 2 {
			for q := a; q <= b; q++ {
				out = append(out, q)
			}
			continue
		}
		if _, err := fmt.Sscanf(part, "%d", &a); err != nil {
			return nil, fmt.Errorf("bad query list %q: %q is not a number", s, part)
		}
		out = append(out, a)
	}
	for _, q := range out {
		if q < 1 || q > NumQueries {
			return nil, fmt.Errorf("bad query list %q: no query %d (queries are 1 to %d)", s, q, NumQueries)
		}
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
