package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/internal/slt"
)

// sltEngine runs sqllogictest records on a catalog of its own.
type sltEngine struct{ cat *dataframe.Catalog }

func (e *sltEngine) Exec(ctx context.Context, sql string) (int64, error) {
	_, changed, err := e.cat.ExecStatement(ctx, sql)
	return changed, err
}

func (e *sltEngine) Query(ctx context.Context, sql string) (int, [][]any, error) {
	cols, rows, err := e.cat.QueryValues(ctx, sql)
	return len(cols), rows, err
}

// runSLT runs sqllogictest files, each on a fresh catalog (with the tables
// of dataDir when given), and prints the summary.
func runSLT(ctx context.Context, out io.Writer, dataDir string, files []string, asJSON bool) error {
	if len(files) == 0 {
		return fmt.Errorf("--slt needs test files")
	}
	newEngine := func() (slt.Engine, error) {
		cat, err := openCatalog(ctx, dataDir, false)
		if err != nil {
			return nil, err
		}
		return &sltEngine{cat: cat}, nil
	}
	opts := slt.Options{}
	if !asJSON {
		opts.Verbose = os.Stderr
	}
	sum, err := slt.Run(ctx, newEngine, files, opts)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(out).Encode(map[string]int{"files": sum.Files, "passed": sum.Passed, "failed": sum.Failed, "skipped": sum.Skipped})
	}
	fmt.Fprintln(out, sum.String())
	if sum.Failed > 0 {
		return fmt.Errorf("%d sqllogictest records failed", sum.Failed)
	}
	return nil
}
