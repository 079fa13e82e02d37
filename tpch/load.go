package tpch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shoal-dev/shoal/dataframe"
)

// ErrNoData is wrapped when a data directory or one of its tables is missing.
var ErrNoData = errors.New("TPC-H data not found")

// DB holds the eight tables of one TPC-H database and its scale factor.
type DB struct {
	Dir    string
	tables map[string]*dataframe.DataFrame
	// SF is the scale factor, inferred from the supplier count (10,000 per SF).
	SF float64
	// LoadSeconds is the time spent loading tables into memory (0 when not).
	LoadSeconds float64
	// Format is "tbl" or "parquet".
	Format string
}

// Table returns the frame of one of the eight tables (nil for other names).
func (db *DB) Table(name string) *dataframe.DataFrame { return db.tables[name] }

// LoadOptions configure Open.
type LoadOptions struct {
	// InMemory loads every table into memory once (timed as LoadSeconds), so
	// that queries do not re-read files: like a database's buffer pool, and
	// like DuckDB's in-memory tables that it is compared with.
	InMemory bool
	// Collect options used while loading.
	Collect []dataframe.CollectOption
}

// Open finds the TPC-H tables in dir: <table>.tbl (dbgen's format),
// <table>.parquet, or a directory <table>/ of Parquet files.
func Open(ctx context.Context, dir string, opts LoadOptions) (*DB, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: data directory %s: %w", ErrNoData, dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrNoData, dir)
	}
	db := &DB{Dir: dir, tables: map[string]*dataframe.DataFrame{}}
	start := time.Now()
	for _, t := range Tables {
		df, format, err := openTable(dir, t)
		if err != nil {
			return nil, err
		}
		db.Format = format
		if opts.InMemory {
			m, err := df.Persist(ctx, opts.Collect...) // (into the nodes' stores on a cluster, else in memory)
			if err != nil {
				return nil, fmt.Errorf("loading TPC-H table %s from %s: %w", t, dir, err)
			}
			df = m
		}
		db.tables[t] = df
	}
	if opts.InMemory {
		db.LoadSeconds = time.Since(start).Seconds()
	}
	res, err := db.tables["supplier"].GroupBy().Agg(dataframe.CountAll().As("n")).Collect(ctx, opts.Collect...)
	if err != nil {
		return nil, fmt.Errorf("counting suppliers in %s: %w", dir, err)
	}
	n := res.Value(0, 0).I
	if n <= 0 {
		return nil, fmt.Errorf("%w: supplier table in %s is empty", ErrNoData, dir)
	}
	db.SF = float64(n) / 10000
	return db, nil
}

func openTable(dir, t string) (*dataframe.DataFrame, string, error) {
	s, err := TableSchema(t)
	if err != nil {
		return nil, "", err
	}
	tbl := filepath.Join(dir, t+".tbl")
	if _, err := os.Stat(tbl); err == nil {
		df := dataframe.ReadCSV(tbl, s, dataframe.Delimiter('|'))
		return df, "tbl", df.Err()
	}
	for _, p := range []string{filepath.Join(dir, t+".parquet"), filepath.Join(dir, t)} {
		if _, err := os.Stat(p); err == nil {
			df := dataframe.ReadParquet(p)
			if df.Err() != nil {
				return nil, "", fmt.Errorf("TPC-H table %s: %w", t, df.Err())
			}
			got, _ := df.Schema()
			if err := sameSchema(got, s); err != nil {
				return nil, "", fmt.Errorf("TPC-H table %s in %s: %w", t, p, err)
			}
			return df, "parquet", nil
		}
	}
	return nil, "", fmt.Errorf("%w: %s has no %s.tbl, %s.parquet or %s/", ErrNoData, dir, t, t, t)
}

func sameSchema(got, want dataframe.Schema) error {
	if len(got) != len(want) {
		return fmt.Errorf("has %d columns, want %d (%s)", len(got), len(want), want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Type != want[i].Type {
			return fmt.Errorf("column %d is %s %s, want %s %s", i, got[i].Name, got[i].Type, want[i].Name, want[i].Type)
		}
	}
	return nil
}
