package dbgen

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestGenerateOptionErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    Options
		want    error  // errors.Is target, if any
		mention string // text the message must contain
	}{
		{"unknown table", Options{SF: 1, OutDir: t.TempDir(), Tables: []string{"orders", "lineitems"}}, ErrUnknownTable, `"lineitems"`},
		{"zero SF", Options{SF: 0, OutDir: t.TempDir()}, ErrScaleFactor, "greater than 0"},
		{"negative SF", Options{SF: -2, OutDir: t.TempDir()}, ErrScaleFactor, "greater than 0"},
		{"huge SF", Options{SF: 1e6, OutDir: t.TempDir()}, ErrScaleFactor, "not supported"},
		{"negative workers", Options{SF: 1, OutDir: t.TempDir(), Workers: -1}, nil, "Workers is -1"},
		{"no out dir", Options{SF: 1}, nil, "OutDir is empty"},
		{"out dir under a file", Options{SF: 0.01, OutDir: filepath.Join(file, "data")}, nil, "cannot create output directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if verr := tc.opts.Validate(); (verr == nil) != (tc.name == "out dir under a file") {
				t.Errorf("Validate() = %v", verr)
			} else if verr != nil && (tc.want != nil && !errors.Is(verr, tc.want) || !strings.Contains(verr.Error(), tc.mention)) {
				t.Errorf("Validate() = %v, want %v mentioning %q", verr, tc.want, tc.mention)
			}
			err := Generate(context.Background(), tc.opts)
			if err == nil {
				t.Fatal("Generate succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestGenerateSubsetAndProgress(t *testing.T) {
	dir := t.TempDir()
	type call struct {
		table       string
		done, total int64
	}
	var mu sync.Mutex
	var calls []call
	opts := Options{
		SF: 0.01, OutDir: dir, Tables: []string{Lineitem, Nation, Lineitem}, Workers: 2,
		Progress: func(table string, done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, call{table, done, total})
		},
	}
	if err := Generate(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"lineitem.tbl", "nation.tbl"}) {
		t.Fatalf("directory holds %v, want only lineitem.tbl and nation.tbl", names)
	}
	checkFiles(t, dir, 0.01, map[string]string{Lineitem: referenceMD5[0.01][Lineitem], Nation: referenceMD5[0.01][Nation]}, nil)

	last := map[string]call{}
	for _, c := range calls {
		prev, seen := last[c.table]
		if !seen && c.done != 0 {
			t.Errorf("first progress call for %s reports %d rows, want 0", c.table, c.done)
		}
		if seen && (c.done < prev.done || c.total != prev.total) {
			t.Errorf("progress for %s went from %d/%d to %d/%d", c.table, prev.done, prev.total, c.done, c.total)
		}
		last[c.table] = c
	}
	for _, table := range []string{Lineitem, Nation} {
		want, _ := RowCount(table, 0.01)
		if c := last[table]; c.done != want || c.total != want {
			t.Errorf("last progress for %s: %d/%d, want %d/%d", table, c.done, c.total, want, want)
		}
	}
	if len(last) != 2 {
		t.Errorf("progress reported tables %v, want lineitem and nation", last)
	}
}

func TestGenerateCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	opts := Options{SF: 1, OutDir: dir, Tables: []string{Orders, Lineitem}, Workers: 2,
		Progress: func(table string, done, total int64) {
			if done > 0 {
				cancel()
			}
		},
	}
	err := Generate(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate after cancel: %v, want context.Canceled", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("cancelled Generate left %s behind", e.Name())
	}

	// A context cancelled before the call starts nothing.
	if err := Generate(ctx, Options{SF: 0.01, OutDir: filepath.Join(dir, "never")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate with a done context: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "never")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Generate with a done context created its directory")
	}
}

func TestGenerateReplacesFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "region.tbl"), []byte("old contents\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Generate(context.Background(), Options{SF: 0.01, OutDir: dir, Tables: []string{Region}}); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, 0.01, map[string]string{Region: referenceMD5[0.01][Region]}, nil)
	// Readable by others, as the Parquet files are (not CreateTemp's 0600).
	fi, err := os.Stat(filepath.Join(dir, "region.tbl"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("region.tbl has mode %v; want 0644", fi.Mode().Perm())
	}
}
