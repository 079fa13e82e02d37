package data_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/data"
)

type record struct {
	ID      int64 `parquet:"id"`
	Name    string
	Score   float64
	Small   int8
	Count   uint32
	Flag    bool
	Blob    []byte
	Vec     []float32
	Maybe   *int32
	skipped int    //nolint:unused // unexported: not a column
	Ignored string `parquet:"-"`
}

func records(n int) []record {
	out := make([]record, n)
	for i := range out {
		r := record{ID: int64(i), Name: strings.Repeat("x", i%7), Score: float64(i) / 3, Small: int8(i % 100), Count: uint32(i * 7), Flag: i%3 == 0, Blob: []byte{byte(i), byte(i >> 8)}}
		if i%4 != 0 {
			r.Vec = []float32{float32(i), float32(-i), 0.5}
		}
		if i%5 != 0 {
			v := int32(-i)
			r.Maybe = &v
		}
		out[i] = r
	}
	return out
}

func TestParquetRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rows.parquet")
	want := records(25_000)
	n, err := data.WriteParquet(ctx, data.FromSlice(want, 999), path, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(want)) {
		t.Fatalf("wrote %d rows, want %d", n, len(want))
	}
	got, err := data.ReadParquet[record]([]string{path, path}, 4096).Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*len(want) {
		t.Fatalf("read %d rows from the file twice, want %d", len(got), 2*len(want))
	}
	for i := range got {
		w := want[i%len(want)]
		if w.Vec != nil && len(w.Vec) == 0 {
			w.Vec = nil
		}
		if !reflect.DeepEqual(got[i], w) {
			t.Fatalf("row %d: got %+v, want %+v", i, got[i], w)
		}
	}

	// Projection: a narrower struct reads only its columns, matched
	// case-insensitively.
	type narrow struct {
		ID    int32 `parquet:"ID"`
		Score float32
	}
	rows, err := data.ReadParquet[narrow]([]string{path}, 0).Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) || rows[123].ID != 123 || rows[123].Score != float32(want[123].Score) {
		t.Fatalf("projection read %d rows, row 123 = %+v", len(rows), rows[123])
	}
}

func TestParquetErrors(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rows.parquet")
	if _, err := data.WriteParquet(ctx, data.FromSlice(records(100), 10), path, 0); err != nil {
		t.Fatal(err)
	}
	type missing struct{ Nope int64 }
	type wrongType struct {
		Name int64
	}
	type nullInValue struct {
		Maybe int32
	}
	type tooSmall struct {
		Count int8
	}
	type unsupported struct{ M map[string]int }
	cases := []struct {
		name string
		read func() error
		want []string
	}{
		{"missing column", func() error { _, err := data.ReadParquet[missing]([]string{path}, 0).Collect(ctx); return err }, []string{`no column "Nope"`, "its columns: id, Name"}},
		{"wrong type", func() error { _, err := data.ReadParquet[wrongType]([]string{path}, 0).Collect(ctx); return err }, []string{`column "Name" (utf8) does not fit field Name (int64)`}},
		{"null in a value field", func() error { _, err := data.ReadParquet[nullInValue]([]string{path}, 0).Collect(ctx); return err }, []string{`column "Maybe", row 0`, "make it a pointer"}},
		{"overflow", func() error { _, err := data.ReadParquet[tooSmall]([]string{path}, 0).Collect(ctx); return err }, []string{`column "Count", row 19`, "does not fit int8"}},
		{"unsupported field", func() error { _, err := data.ReadParquet[unsupported]([]string{path}, 0).Collect(ctx); return err }, []string{"field data_test.unsupported.M", "map[string]int is not supported"}},
		{"not a struct", func() error { _, err := data.ReadParquet[int]([]string{path}, 0).Collect(ctx); return err }, []string{"must be structs, not int"}},
		{"no such file", func() error {
			_, err := data.ReadParquet[record]([]string{path + ".gone"}, 0).Collect(ctx)
			return err
		}, []string{"rows.parquet.gone"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.read()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// A failing source leaves no partial file behind.
func TestWriteParquetRemovesPartialFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "partial.parquet")
	boom := errors.New("boom")
	ds := data.Generate(1000, 100, func(i int) record { return record{ID: int64(i)} })
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := data.WriteParquet(ctx, data.Map(ds, func(r record) (record, error) {
		calls++
		if calls == 500 {
			cancel()
			return r, boom
		}
		return r, nil
	}), path, 100)
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want boom", err)
	}
	if _, statErr := os.Stat(path); statErr == nil {
		t.Fatal("the partial file was left behind")
	}
}
