package scan

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// DistinctCount is within a few percent of the truth, small and large.
func TestDistinctCount(t *testing.T) {
	for _, tc := range []struct{ rows, distinct int }{{10, 10}, {1000, 7}, {100000, 100000}, {300000, 25000}} {
		s := types.Schema{{Name: "i", Type: types.Int64Type}, {Name: "s", Type: types.StringType}}
		iv := coldata.NewVec(types.Int64Type, tc.rows)
		sv := &coldata.Vec{Type: types.StringType}
		for r := 0; r < tc.rows; r++ {
			iv.I64[r] = int64(r % tc.distinct)
			sv.Str.AppendString(fmt.Sprintf("v%d", r%tc.distinct))
		}
		tbl := NewMemTable(s, []*coldata.Batch{{N: tc.rows, Vecs: []*coldata.Vec{iv, sv}}})
		for col := range s {
			got := tbl.DistinctCount(col)
			if d := float64(got-int64(tc.distinct)) / float64(tc.distinct); d > 0.08 || d < -0.08 { // 5 standard errors of the sketch
				t.Errorf("%d rows, %d distinct, column %s: estimated %d", tc.rows, tc.distinct, s[col].Name, got)
			}
		}
	}
}

// writeParquet writes int64 columns (each cols[k] as long as the others)
// to a Parquet file in row groups of groupRows rows, with statistics.
func writeParquet(t *testing.T, path string, names []string, cols [][]int64, groupRows int64) {
	t.Helper()
	fields := make([]arrow.Field, len(names))
	arrs := make([]arrow.Array, len(names))
	for k, n := range names {
		fields[k] = arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Int64}
		b := array.NewInt64Builder(memory.DefaultAllocator)
		b.AppendValues(cols[k], nil)
		arrs[k] = b.NewArray()
		defer arrs[k].Release()
	}
	rec := array.NewRecord(arrow.NewSchema(fields, nil), arrs, int64(len(cols[0])))
	defer rec.Release()
	tbl := array.NewTableFromRecords(rec.Schema(), []arrow.Record{rec})
	defer tbl.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pqarrow.WriteTable(tbl, f, groupRows, parquet.NewWriterProperties(parquet.WithStats(true)), pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
}

// A Parquet file's distinct counts come from its footers' min/max: a
// column whose values span at most half its rows has at most that many
// distinct values; a wider span (a key, sparse values) gives no count.
func TestParquetDistinctCount(t *testing.T) {
	const rows = 10000
	cols := map[string]func(i int) int64{
		"nation": func(i int) int64 { return int64(i * 7 % 25) },     // 0..24
		"key":    func(i int) int64 { return int64(i + 1) },          // a key
		"sparse": func(i int) int64 { return int64(4*(i/4) + 1) },    // 2,500 values over 10,000 numbers
		"half":   func(i int) int64 { return int64(100 + i%5000) },   // spans exactly half the rows
		"neg":    func(i int) int64 { return int64(-1000 + i%1000) }, // negative values
	}
	want := map[string]int64{"nation": 25, "key": -1, "sparse": -1, "half": 5000, "neg": 1000}
	var names []string
	var data [][]int64
	for n, f := range cols {
		names = append(names, n)
		v := make([]int64, rows)
		for i := range v {
			v[i] = f(i)
		}
		data = append(data, v)
	}
	for _, group := range []int64{rows, 1500} { // one row group, and several
		path := filepath.Join(t.TempDir(), "t.parquet")
		writeParquet(t, path, names, data, group)
		p, err := NewParquet(path)
		if err != nil {
			t.Fatal(err)
		}
		for k, n := range names {
			if got := p.DistinctCount(k); got != want[n] {
				t.Errorf("row groups of %d rows, column %s: DistinctCount %d, want %d", group, n, got, want[n])
			}
		}
		if got := p.DistinctCount(len(names)); got != -1 {
			t.Errorf("DistinctCount of a column past the schema: %d, want -1", got)
		}
	}
}

// Unique is exact: a column is a key only with no null and no value twice.
func TestUnique(t *testing.T) {
	const rows = 5000
	for _, tc := range []struct {
		name string
		val  func(i int) int64
		null int // a row whose value is null (-1: none)
		want bool
	}{
		{"dense", func(i int) int64 { return int64(i + 1) }, -1, true},
		{"shuffled", func(i int) int64 { return int64(i * 7919 % rows) }, -1, true},
		{"sparse", func(i int) int64 { return int64(4 * i) }, -1, true},
		{"one twice", func(i int) int64 { return int64(min(i, rows-2)) }, -1, false},
		{"a null", func(i int) int64 { return int64(i) }, 17, false},
		{"too sparse to check", func(i int) int64 { return int64(1000 * i) }, -1, false},
		{"negative", func(i int) int64 { return int64(-i) }, -1, true},
	} {
		s := types.Schema{{Name: "k", Type: types.Int64Type, Nullable: tc.null >= 0}, {Name: "k32", Type: types.Int32Type}, {Name: "s", Type: types.StringType}}
		kv, k32 := coldata.NewVec(types.Int64Type, rows), coldata.NewVec(types.Int32Type, rows)
		sv := &coldata.Vec{Type: types.StringType}
		for r := 0; r < rows; r++ {
			kv.I64[r], k32.I32[r] = tc.val(r), int32(tc.val(r))
			sv.Str.AppendString(fmt.Sprintf("v%d", r))
		}
		if tc.null >= 0 {
			kv.Nulls = make([]bool, rows)
			kv.Nulls[tc.null] = true
		}
		tbl := NewMemTable(s, []*coldata.Batch{{N: rows, Vecs: []*coldata.Vec{kv, k32, sv}}})
		if got := tbl.Unique(0); got != tc.want {
			t.Errorf("%s: Unique = %v, want %v", tc.name, got, tc.want)
		}
		if got, want := tbl.Unique(1), tc.want || tc.null >= 0; got != want {
			t.Errorf("%s, as int32: Unique = %v, want %v", tc.name, got, want)
		}
		if tbl.Unique(2) {
			t.Errorf("%s: a string column is taken for a key", tc.name)
		}
	}
}
