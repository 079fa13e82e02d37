package dataframe_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/shoal-dev/shoal/dataframe"
)

// fileFormat writes a one-column table (v int64) in some format and reads it back.
type fileFormat struct {
	name  string
	write func(t *testing.T, path, csvText string)
	read  func(path string) *DataFrame
}

var vSchema = Schema{{Name: "v", Type: Int64}}

var fileFormats = []fileFormat{
	{
		name: "csv",
		write: func(t *testing.T, path, csvText string) {
			t.Helper()
			if err := os.WriteFile(path, []byte(csvText), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		read: func(path string) *DataFrame { return ReadCSV(path, vSchema) },
	},
	{
		name: "parquet",
		write: func(t *testing.T, path, csvText string) {
			t.Helper()
			src := filepath.Join(t.TempDir(), "src.csv")
			if err := os.WriteFile(src, []byte(csvText), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := ReadCSV(src, vSchema).WriteParquet(context.Background(), path); err != nil {
				t.Fatal(err)
			}
		},
		read: ReadParquet,
	},
}

// TestCacheSeesSameSizeRewriteWithRestoredMtime: a file rewritten with other
// content of the same size, its old mtime then restored (as cp -p, rsync -t and
// tar x do), is a new input: the cache misses and the query gives the new
// answer. Re-reading an unchanged file still hits.
func TestCacheSeesSameSizeRewriteWithRestoredMtime(t *testing.T) {
	const (
		before, sumBefore = "111111\n222222\n333333\n", 666666
		after, sumAfter   = "444444\n555555\n666666\n", 1666665
	)
	oldMtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	rewrites := []struct {
		name    string
		rewrite func(t *testing.T, f fileFormat, path string)
	}{
		// os.WriteFile truncates and writes: the inode stays.
		{"in place", func(t *testing.T, f fileFormat, path string) { f.write(t, path, after) }},
		// rsync and most editors write a new file and rename it over the old one.
		{"renamed over", func(t *testing.T, f fileFormat, path string) {
			tmp := path + ".tmp"
			f.write(t, tmp, after)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, f := range fileFormats {
		for _, rw := range rewrites {
			t.Run(f.name+"/"+rw.name, func(t *testing.T) {
				ctx := context.Background()
				path := filepath.Join(t.TempDir(), "t."+f.name)
				restoreMtime := func() os.FileInfo {
					t.Helper()
					if err := os.Chtimes(path, oldMtime, oldMtime); err != nil {
						t.Fatal(err)
					}
					st, err := os.Stat(path)
					if err != nil {
						t.Fatal(err)
					}
					return st
				}
				f.write(t, path, before)
				st1 := restoreMtime()
				cache := NewCache(1 << 20)
				// Each run builds the query afresh, as a re-run script or request does.
				run := func() *Result {
					t.Helper()
					q := f.read(path).GroupBy().Agg(Sum(Col("v")).As("s"))
					r, err := q.Collect(ctx, WithCache(cache))
					if err != nil {
						t.Fatal(err)
					}
					return r
				}
				check := func(step string, r *Result, wantSum int64, wantHits, wantMisses int64) {
					t.Helper()
					if got := r.Value(0, 0).I; got != wantSum {
						t.Errorf("%s: sum %d, want %d", step, got, wantSum)
					}
					if h, m := cache.Stats(); h != wantHits || m != wantMisses {
						t.Errorf("%s: cache hits %d misses %d, want %d and %d", step, h, m, wantHits, wantMisses)
					}
				}

				r1 := run()
				check("first run", r1, sumBefore, 0, 1)
				r2 := run()
				check("unchanged file", r2, sumBefore, 1, 1)
				if r2 != r1 {
					t.Error("unchanged file: the cache returned another result")
				}

				rw.rewrite(t, f, path)
				st2 := restoreMtime()
				if st2.Size() != st1.Size() || !st2.ModTime().Equal(st1.ModTime()) {
					t.Fatalf("the rewrite changed size or mtime (%d %v, was %d %v): the test needs both kept",
						st2.Size(), st2.ModTime(), st1.Size(), st1.ModTime())
				}
				r3 := run()
				check("after the rewrite", r3, sumAfter, 1, 2)
				r4 := run()
				check("rewritten file unchanged since", r4, sumAfter, 2, 2)
				if r4 != r3 {
					t.Error("rewritten file unchanged since: the cache returned another result")
				}
			})
		}
	}
}

// TestFileTokens: a CSV file's token follows its content and every option
// that changes what is read from it, and not its timestamps.
func TestFileTokens(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(path, []byte("v\n1\n2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	token := func(df *DataFrame) string {
		t.Helper()
		tok, err := df.Token()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	plain := func() *DataFrame { return ReadCSV(path, vSchema) }
	for _, tc := range []struct {
		name string
		// between runs after the plain frame's token is taken.
		between func(t *testing.T)
		other   func() *DataFrame
		same    bool
	}{
		{name: "read again", other: plain, same: true},
		{name: "mtime changed, same content", other: plain, same: true,
			between: func(t *testing.T) {
				if err := os.Chtimes(path, time.Time{}, time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "identical copy elsewhere", other: func() *DataFrame {
			other := filepath.Join(dir, "copy.csv")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(other, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return ReadCSV(other, vSchema)
		}},
		{name: "header", other: func() *DataFrame { return ReadCSV(path, vSchema, Header(true)) }},
		{name: "null string", other: func() *DataFrame { return ReadCSV(path, vSchema, NullString("2")) }},
		{name: "delimiter", other: func() *DataFrame { return ReadCSV(path, vSchema, Delimiter('|')) }},
		{name: "column type", other: func() *DataFrame { return ReadCSV(path, Schema{{Name: "v", Type: String}}) }},
		{name: "nullable column", other: func() *DataFrame {
			return ReadCSV(path, Schema{{Name: "v", Type: Int64, Nullable: true}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := token(plain())
			if tc.between != nil {
				tc.between(t)
			}
			if got := token(tc.other()); (got == base) != tc.same {
				t.Errorf("token %s, plain frame's %s: want equal %v", got, base, tc.same)
			}
		})
	}
}
