package dataframe_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	. "github.com/shoal-dev/shoal/dataframe"
)

// Random newline-delimited JSON (integers, floats, strings with quotes and
// unicode, bools, dates, nulls, missing keys, nested values, keys in any
// order) in several files, read by directory and by glob with an inferred
// schema, against the rows as Go wrote them.
func TestReadJSONRandom(t *testing.T) {
	rng := newRNG(t)
	for iter := 0; iter < 8; iter++ {
		dir := t.TempDir()
		var want []string
		words := []string{"plain", `say "hi"`, "naïve ☃", "", "back\\slash", "1234"}
		for f := 0; f < 1+rng.IntN(3); f++ {
			var sb strings.Builder
			for i := 0; i < rng.IntN(300); i++ {
				id := f*1000 + i
				row := map[string]any{"id": id}
				cells := []string{fmt.Sprint(id), "NULL", "NULL", "NULL", "NULL", "NULL"}
				if rng.IntN(5) > 0 {
					x := float64(rng.IntN(1000)) / 8
					row["x"], cells[1] = x, FormatValue(Value{T: Float64, F: x})
				} else if rng.IntN(2) == 0 {
					row["x"] = nil
				}
				if rng.IntN(4) > 0 {
					w := words[rng.IntN(len(words))]
					row["name"], cells[2] = w, w
				}
				if rng.IntN(3) > 0 {
					ok := rng.IntN(2) == 0
					row["ok"], cells[3] = ok, fmt.Sprint(ok)
				}
				if rng.IntN(3) > 0 {
					d := fmt.Sprintf("199%d-%02d-%02d", rng.IntN(10), 1+rng.IntN(12), 1+rng.IntN(28))
					row["day"], cells[4] = d, d
				}
				if rng.IntN(3) == 0 {
					row["tags"], cells[5] = []any{"a", 1}, `["a",1]`
				}
				b, _ := json.Marshal(row) // (keys sorted: the schema's order comes from the file)
				sb.Write(b)
				sb.WriteString("\n")
				if rng.IntN(10) == 0 {
					sb.WriteString("\n") // blank lines are skipped
				}
				want = append(want, strings.Join(cells, "|"))
			}
			// Every key once first, so that every run infers every column.
			first := `{"id": -1, "x": 0.5, "name": "first", "ok": true, "day": "2000-01-01", "tags": {"k": [1]}}` + "\n"
			if f == 0 {
				want = append(want, `-1|0.5|first|true|2000-01-01|{"k": [1]}`)
			} else {
				first = ""
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part%d.json", f)), []byte(first+sb.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		sort.Strings(want)
		for _, path := range []string{dir, filepath.Join(dir, "part*.json")} {
			df := ReadJSON(path, nil).Select("id", "x", "name", "ok", "day", "tags")
			s, err := df.Schema()
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(s); got != "(id int64 null, x float64 null, name string null, ok bool null, day date null, tags string null)" {
				t.Errorf("%s: inferred schema %s", path, got)
			}
			got := collectStrings(t, df, randomOpts(rng)...)
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: %d rows, want %d (%v, %v)", path, len(got), len(want), head(got), head(want))
			}
		}
	}
}

// JSON that does not fit says where and why.
func TestReadJSONErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		path   string
		schema Schema
		want   string
	}{
		{write("bad.json", `{"a": 1}`+"\n"+`{"a": 2`+"\n"), Schema{{Name: "a", Type: Int64}}, "the line starting at byte 9: not a JSON object"},
		{write("type.json", `{"a": 1}`+"\n"+`{"a": "x"}`+"\n"), Schema{{Name: "a", Type: Int64}}, `key "a": invalid int64 "x"`},
		{write("empty.json", "\n\n"), nil, "no JSON objects"},
		{write("notobj.json", "[1, 2]\n"), nil, "line 1 is not a JSON object"},
		{filepath.Join(dir, "nothing*.json"), nil, "no such file"},
	} {
		_, err := ReadJSON(c.path, c.schema).Collect(t.Context())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", filepath.Base(c.path), err, c.want)
		}
	}
}

// SQL reads newline-delimited JSON through read_json.
func TestReadJSONFromSQL(t *testing.T) {
	p := filepath.Join(t.TempDir(), "events.json")
	text := `{"who": "ann", "n": 3}` + "\n" + `{"who": "bob", "n": 4}` + "\n" + `{"who": "ann", "n": 5, "extra": [1]}` + "\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cat := NewCatalog()
	cols, rows, err := cat.QueryValues(t.Context(), fmt.Sprintf("select who, sum(n) from read_json('%s') group by who order by who", p))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(cols, rows); got != "[who sum] [[ann 8] [bob 4]]" {
		t.Fatalf("got %s", got)
	}
}
