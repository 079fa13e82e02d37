package dataframe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// ReadJSON reads newline-delimited JSON (one object per line, as Dask's
// read_json(lines=True) and Spark's json): a file, a directory of *.json
// and *.jsonl files, or a glob, all with one schema. Each column is a key;
// a missing key or null is NULL, and a nested object or array is read as
// its JSON text. A nil schema is inferred from the first 1,000 lines of
// the first file: the keys in the order they first appear, each typed
// int64 when every value is an integer, float64 when a number, bool,
// date when a string YYYY-MM-DD, else string. Files are read in
// partitions at Collect, like CSV.
func ReadJSON(path string, schema Schema) *DataFrame {
	files, err := listFiles(path, "*.json")
	if err != nil && isDir(path) {
		files, err = listFiles(path, "*.jsonl")
	}
	if err != nil {
		return errFrame(fmt.Errorf("reading JSON %s: %w", path, err))
	}
	if schema == nil {
		if schema, err = inferJSONSchema(files[0]); err != nil {
			return errFrame(fmt.Errorf("reading JSON %s: %w", files[0], err))
		}
	}
	if err := checkSchema(schema); err != nil {
		return errFrame(fmt.Errorf("reading JSON %s: %w", path, err))
	}
	frames := make([]*DataFrame, len(files))
	for i, f := range files {
		s, err := scan.NewCSV(f, schema, scan.CSVOptions{JSONLines: true})
		if err != nil {
			return errFrame(err)
		}
		frames[i] = sourceFrame(s)
	}
	return frames[0].UnionAll(frames[1:]...)
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// inferJSONSchema reads the first inferRows lines of a newline-delimited
// JSON file and types each key (ReadJSON says how).
func inferJSONSchema(path string) (Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var names []string
	kinds := map[string]types.ID{}
	for line, seen := 1, 0; seen < inferRows && sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		seen++
		err := jsonFieldsInOrder(b, func(k string, v any) {
			if _, ok := kinds[k]; !ok {
				names = append(names, k)
				kinds[k] = types.Invalid
			}
			kinds[k] = widenJSON(kinds[k], v)
		})
		if err != nil {
			return nil, fmt.Errorf("line %d is not a JSON object: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no JSON objects to infer a schema from")
	}
	schema := make(Schema, len(names))
	for i, n := range names {
		t := types.Type{ID: kinds[n]}
		if t.ID == types.Invalid {
			t = types.StringType
		}
		schema[i] = types.Field{Name: n, Type: t, Nullable: true}
	}
	return schema, nil
}

// jsonFieldsInOrder calls f with each top-level key of a JSON object and
// its value (numbers as json.Number), in the order they appear.
func jsonFieldsInOrder(b []byte, f func(key string, value any)) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil {
		return err
	} else if t != json.Delim('{') {
		return fmt.Errorf("found %v, want an object", t)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := t.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		f(k, v)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	if dec.More() {
		return fmt.Errorf("more after the object")
	}
	return nil
}

// widenJSON is the narrowest type holding a key's values so far and v (a
// value decoded with UseNumber).
func widenJSON(k types.ID, v any) types.ID {
	switch x := v.(type) {
	case nil:
		return k
	case json.Number:
		return widen(k, x.String())
	case bool:
		return widen(k, fmt.Sprint(x))
	case string:
		if _, err := expr.ParseDate(x); err == nil && len(x) == 10 && (k == types.Invalid || k == types.Date) {
			return types.Date
		}
	}
	return types.String
}
