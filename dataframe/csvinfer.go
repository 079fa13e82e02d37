package dataframe

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// inferRows is how many data lines ReadCSVInfer looks at.
const inferRows = 1000

// ReadCSVInfer is ReadCSV with no schema: the first line names the
// columns, whose types are inferred.
func ReadCSVInfer(path string, opts ...CSVOption) *DataFrame { return ReadCSV(path, nil, opts...) }

// inferCSVSchema reads the header of the file at path and infers each
// column's type from the first 1,000 lines: int64 when every value is an
// integer, float64 when a number, date when YYYY-MM-DD, bool when
// true/false, else string.
func inferCSVSchema(path string, o scan.CSVOptions) (Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	if !sc.Scan() {
		return nil, fmt.Errorf("no header line (%v)", sc.Err())
	}
	names := strings.Split(strings.TrimRight(sc.Text(), "\r"), string(o.Delimiter))
	kinds := make([]types.ID, len(names)) // Invalid: nothing seen yet
	for i := 0; i < inferRows && sc.Scan(); i++ {
		fields := bytes.Split(bytes.TrimRight(sc.Bytes(), "\r"), []byte{o.Delimiter})
		for j := range names {
			if j >= len(fields) || len(fields[j]) == 0 || (o.NullString != "" && string(fields[j]) == o.NullString) {
				continue
			}
			kinds[j] = widen(kinds[j], string(fields[j]))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	schema := make(Schema, len(names))
	for j, n := range names {
		t := types.Type{ID: kinds[j]}
		if t.ID == types.Invalid {
			t = types.StringType
		}
		schema[j] = types.Field{Name: strings.TrimSpace(n), Type: t, Nullable: true}
	}
	return schema, nil
}

// widen is the narrowest type holding a column's values so far and v.
func widen(k types.ID, v string) types.ID {
	fits := func(id types.ID) bool {
		switch id {
		case types.Int64:
			_, err := strconv.ParseInt(v, 10, 64)
			return err == nil
		case types.Float64:
			_, err := strconv.ParseFloat(v, 64)
			return err == nil
		case types.Date:
			_, err := expr.ParseDate(v)
			return err == nil && len(v) == 10
		case types.Bool:
			return v == "true" || v == "false"
		}
		return true
	}
	order := []types.ID{types.Int64, types.Float64}
	switch k {
	case types.Invalid:
		for _, id := range []types.ID{types.Int64, types.Float64, types.Date, types.Bool} {
			if fits(id) {
				return id
			}
		}
		return types.String
	case types.Int64, types.Float64:
		for _, id := range order {
			if (id == k || k == types.Int64) && fits(id) {
				return id
			}
		}
		return types.String
	case types.Date, types.Bool:
		if fits(k) {
			return k
		}
		return types.String
	}
	return types.String
}
