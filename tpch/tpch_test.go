package tpch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal/dataframe"
	"github.com/shoal-dev/shoal/tpch/dbgen"
)

func TestMain(m *testing.M) {
	code := func() int {
		defer func() {
			for _, d := range genDirs {
				os.RemoveAll(d)
			}
		}()
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// answersDir is the reference answers, kept in testdata (a copy of the
// project's shared answers) so that the tests run on a clean clone.
func answersDir(t *testing.T, sf string) string {
	t.Helper()
	dir := filepath.Join("testdata", "answers", sf)
	if _, err := os.Stat(filepath.Join(dir, "q1.out")); err != nil {
		t.Fatalf("reference answers not found at %s: %v", dir, err)
	}
	return dir
}

var (
	genMu   sync.Mutex
	genDirs = map[float64]string{}
)

// generate writes the .tbl files of a scale factor once per test binary.
func generate(t *testing.T, sf float64) string {
	t.Helper()
	genMu.Lock()
	defer genMu.Unlock()
	if d, ok := genDirs[sf]; ok {
		return d
	}
	dir, err := os.MkdirTemp("", "shoal-tpch-*")
	if err != nil {
		t.Fatal(err)
	}
	if err := dbgen.Generate(context.Background(), dbgen.Options{SF: sf, OutDir: dir}); err != nil {
		t.Fatalf("generating SF %g: %v", sf, err)
	}
	genDirs[sf] = dir
	return dir
}

func checkAll(t *testing.T, db *DB, answers string, opts ...dataframe.CollectOption) {
	t.Helper()
	rep, err := Run(context.Background(), db, RunOptions{AnswersDir: answers, Collect: opts})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range rep.Queries {
		if q.Error != "" {
			t.Errorf("Q%d: %s", q.Query, q.Error)
		}
		for _, p := range q.Problems {
			t.Errorf("Q%d: %s", q.Query, p)
		}
	}
	if rep.Correct != NumQueries {
		t.Errorf("%d/%d queries correct", rep.Correct, NumQueries)
	}
}

func TestQueries(t *testing.T) {
	for _, tc := range []struct {
		sf      float64
		answers string
	}{
		{0.01, "sf0.01"},
		{0.1, "sf0.1"},
	} {
		t.Run(tc.answers, func(t *testing.T) {
			dir := generate(t, tc.sf)
			ctx := context.Background()
			db, err := Open(ctx, dir, LoadOptions{InMemory: true})
			if err != nil {
				t.Fatal(err)
			}
			if db.SF != tc.sf {
				t.Fatalf("inferred SF %g, want %g", db.SF, tc.sf)
			}
			checkAll(t, db, answersDir(t, tc.answers))
		})
	}
}

// TestQueriesRandomized runs the queries with random batch sizes and
// parallelism: results must not depend on either.
func TestQueriesRandomized(t *testing.T) {
	dir := generate(t, 0.01)
	db, err := Open(context.Background(), dir, LoadOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < 3; i++ {
		bs := 1 + rng.IntN(3000)
		par := 1 + rng.IntN(4)
		t.Logf("seed %d: batch size %d, parallelism %d", seed, bs, par)
		checkAll(t, db, answersDir(t, "sf0.01"), dataframe.WithBatchSize(bs), dataframe.WithParallelism(par))
	}
}

// TestQueriesSpilling runs every query with a memory budget so small that
// hash aggregates, hash joins and sorts spill, and checks the answers.
func TestQueriesSpilling(t *testing.T) {
	dir := generate(t, 0.01)
	db, err := Open(context.Background(), dir, LoadOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	spilled := map[string]int{}
	spillDir := t.TempDir()
	checkAll(t, db, answersDir(t, "sf0.01"),
		dataframe.WithMemoryBudget(64<<10), dataframe.WithSpillDir(spillDir),
		dataframe.WithBroadcastRows(2000), dataframe.WithBatchSize(512),
		dataframe.OnSpill(func(op string) { mu.Lock(); spilled[op]++; mu.Unlock() }))
	// (Sorts spill in the dataframe package's tests: the TPC-H sorts here are
	// top-k or small.)
	for _, op := range []string{"hash aggregate", "hash join"} {
		if spilled[op] == 0 {
			t.Errorf("no %s spilled (spills: %v)", op, spilled)
		}
	}
	left, _ := os.ReadDir(spillDir)
	if len(left) != 0 {
		t.Errorf("%d spill files left behind in %s", len(left), spillDir)
	}
}

// TestParquet converts the .tbl files with WriteParquet and runs the queries
// reading Parquet (streaming, and loaded into memory).
func TestParquet(t *testing.T) {
	src := generate(t, 0.01)
	dir := t.TempDir()
	ctx := context.Background()
	for _, table := range Tables {
		f, err := os.Open(filepath.Join(src, table+".tbl"))
		if err != nil {
			t.Fatal(err)
		}
		err = WriteParquet(ctx, table, f, filepath.Join(dir, table+".parquet"))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, inMemory := range []bool{false, true} {
		db, err := Open(ctx, dir, LoadOptions{InMemory: inMemory})
		if err != nil {
			t.Fatal(err)
		}
		if db.Format != "parquet" {
			t.Fatalf("format %q, want parquet", db.Format)
		}
		checkAll(t, db, answersDir(t, "sf0.01"))
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	t.Run("missing directory", func(t *testing.T) {
		_, err := Open(ctx, "/nonexistent/tpch-data", LoadOptions{})
		if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "/nonexistent/tpch-data") {
			t.Fatalf("got %v, want ErrNoData naming the directory", err)
		}
	})
	t.Run("missing table", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "region.tbl"), []byte("0|AFRICA|x|\n"), 0o644)
		_, err := Open(ctx, dir, LoadOptions{})
		if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "nation") {
			t.Fatalf("got %v, want ErrNoData naming table nation", err)
		}
	})
	t.Run("malformed parquet", func(t *testing.T) {
		src := generate(t, 0.01)
		dir := t.TempDir()
		for _, table := range Tables {
			data, err := os.ReadFile(filepath.Join(src, table+".tbl"))
			if err != nil {
				t.Fatal(err)
			}
			if table == "orders" {
				os.WriteFile(filepath.Join(dir, "orders.parquet"), []byte("PAR1 this is not a parquet file"), 0o644)
				continue
			}
			os.WriteFile(filepath.Join(dir, table+".tbl"), data, 0o644)
		}
		_, err := Open(ctx, dir, LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), "orders.parquet") {
			t.Fatalf("got %v, want an error naming orders.parquet", err)
		}
	})
	t.Run("malformed tbl", func(t *testing.T) {
		src := generate(t, 0.01)
		dir := t.TempDir()
		for _, table := range Tables {
			data, _ := os.ReadFile(filepath.Join(src, table+".tbl"))
			if table == "region" {
				data = []byte("0|AFRICA|x|\nnot-a-number|EUROPE|y|\n")
			}
			os.WriteFile(filepath.Join(dir, table+".tbl"), data, 0o644)
		}
		_, err := Open(ctx, dir, LoadOptions{InMemory: true})
		if err == nil || !strings.Contains(err.Error(), "r_regionkey") || !strings.Contains(err.Error(), "region.tbl") {
			t.Fatalf("got %v, want an error naming region.tbl and r_regionkey", err)
		}
	})
	t.Run("bad query list", func(t *testing.T) {
		if _, err := ParseQueries("1,23"); err == nil || !strings.Contains(err.Error(), "23") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCheckReportsDifferences(t *testing.T) {
	dir := generate(t, 0.01)
	db, err := Open(context.Background(), dir, LoadOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	df, err := Query(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := df.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ans, err := ReadAnswer(answersDir(t, "sf0.01"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if p := Check(res, ans); len(p) != 0 {
		t.Fatalf("unexpected problems: %v", p)
	}
	ans.Rows[2][2] = "1.00" // sum_qty of row 3
	p := Check(res, ans)
	if len(p) != 1 || !strings.Contains(p[0], "row 3 column sum_qty") {
		t.Fatalf("got %v, want one problem naming row 3 column sum_qty", p)
	}
	ans.Rows = ans.Rows[:2]
	if p := Check(res, ans); len(p) == 0 || !strings.Contains(p[0], "rows") {
		t.Fatalf("got %v, want a row count problem", p)
	}
}

// Rows whose ORDER BY keys tie may come in any order; rows whose keys
// differ may not.
func TestCheckAcceptsPermutedTies(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 2, 3}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "c", "b", "d"}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	res, err := dataframe.FromArrow(rec).Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tied := &Answer{Header: []string{"k", "v"}, Rows: [][]string{{"1", "a"}, {"2", "b"}, {"2", "c"}, {"3", "d"}}}
	if p := check(res, tied, []int{0}); len(p) != 0 {
		t.Errorf("rows tied on the key, swapped: %v", p)
	}
	if p := check(res, tied, nil); len(p) == 0 {
		t.Error("without keys, swapped rows passed")
	}
	other := &Answer{Header: []string{"k", "v"}, Rows: [][]string{{"1", "a"}, {"2", "b"}, {"2", "x"}, {"3", "d"}}}
	if p := check(res, other, []int{0}); len(p) == 0 {
		t.Error("a tied run with a different row passed")
	}
	untied := &Answer{Header: []string{"k", "v"}, Rows: [][]string{{"1", "a"}, {"2", "b"}, {"3", "d"}, {"2", "c"}}}
	if p := check(res, untied, []int{0}); len(p) == 0 {
		t.Error("rows out of key order passed")
	}
}

// TestSQLQueries runs the 22 queries from their SQL text (parsed, bound,
// decorrelated and join-ordered by the SQL frontend) and checks the answers.
func TestSQLQueries(t *testing.T) {
	for _, tc := range []struct {
		sf      float64
		answers string
	}{
		{0.01, "sf0.01"},
		{0.1, "sf0.1"},
	} {
		t.Run(tc.answers, func(t *testing.T) {
			if testing.Short() && tc.sf > 0.01 {
				t.Skip("SF0.1 in long mode")
			}
			db, err := Open(context.Background(), generate(t, tc.sf), LoadOptions{InMemory: true})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), db, RunOptions{AnswersDir: answersDir(t, tc.answers), SQL: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range rep.Queries {
				if q.Error != "" {
					t.Errorf("Q%d: %s", q.Query, q.Error)
				}
				for _, p := range q.Problems {
					t.Errorf("Q%d: %s", q.Query, p)
				}
			}
			if rep.Correct != NumQueries {
				t.Errorf("%d/%d queries correct", rep.Correct, NumQueries)
			}
		})
	}
}
