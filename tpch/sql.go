package tpch

import (
	"context"
	"embed"
	"fmt"
	"strings"

	"github.com/shoal-dev/shoal/dataframe"
)

// The 22 queries as the specification writes them, with its qualification
// parameters (the files of shared/tpch/queries; Q15's view is a WITH).
//
//go:embed sql/q*.sql
var sqlFiles embed.FS

// SQL is the text of TPC-H query n for scale factor sf: the specification's
// qualification parameters, with Q11's FRACTION set to 0.0001/SF.
func SQL(n int, sf float64) (string, error) {
	if n < 1 || n > NumQueries {
		return "", fmt.Errorf("no TPC-H query %d (queries are 1 to %d)", n, NumQueries)
	}
	b, err := sqlFiles.ReadFile(fmt.Sprintf("sql/q%02d.sql", n))
	if err != nil {
		return "", fmt.Errorf("TPC-H query %d: %w", n, err)
	}
	q := string(b)
	if n == 11 && sf > 0 {
		q = strings.Replace(q, "* 0.0001\n", "* "+Fraction(sf)+"\n", 1)
	}
	return q, nil
}

// Catalog returns a SQL catalog of the database's eight tables.
func (db *DB) Catalog() (*dataframe.Catalog, error) {
	cat := dataframe.NewCatalog()
	for name, df := range db.tables {
		if err := cat.Register(name, df); err != nil {
			return nil, err
		}
	}
	return cat, nil
}

// SQLQuery builds TPC-H query n from its SQL text (SQL) over cat.
func SQLQuery(ctx context.Context, db *DB, cat *dataframe.Catalog, n int) (*dataframe.DataFrame, error) {
	text, err := SQL(n, db.SF)
	if err != nil {
		return nil, err
	}
	df, err := cat.SQL(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("TPC-H query %d (SQL): %w", n, err)
	}
	return df, nil
}
