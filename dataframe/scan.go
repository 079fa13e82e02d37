package dataframe

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shoal-dev/shoal/dataframe/internal/suggest"
	"github.com/shoal-dev/shoal/internal/arrowrows"
)

// Scan returns the result's rows as values of the struct type T, as the
// data package reads Parquet rows (one mapping, internal/arrowrows): each
// exported field takes the column its `parquet:"name"` tag names, or else
// its own name, matched case-insensitively (a tag of "-" skips it); the
// result's other columns are left out. Field types: bool, integers,
// floats, string, time.Time for dates, float64 or string for decimals, and
// pointers to them for columns with NULLs. A field with no column, a
// column that does not fit its field, or a NULL in a field that is not a
// pointer is an error naming them.
func Scan[T any](r *Result) ([]T, error) {
	m, err := arrowrows.For[T]()
	if err != nil {
		return nil, fmt.Errorf("dataframe.Scan: %w", err)
	}
	names := r.schema.Names()
	cols := make([]int, len(m.Fields))
	for i, f := range m.Fields {
		cols[i] = -1
		for j, n := range names {
			if strings.EqualFold(n, f.Name) {
				cols[i] = j
				break
			}
		}
		if cols[i] < 0 {
			msg := fmt.Sprintf("dataframe.Scan: the result has no column %q for field %s", f.Name, f.GoName)
			if s := suggest.Closest(f.Name, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return nil, fmt.Errorf("%s (its columns: %s)", msg, strings.Join(names, ", "))
		}
	}
	recs := r.Records(memory.DefaultAllocator)
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	out := make([]T, 0, r.rows)
	row := 0
	for r, rec := range recs {
		n := int(rec.NumRows())
		start := len(out)
		out = append(out, make([]T, n)...)
		base := reflect.ValueOf(out[start:])
		for i, f := range m.Fields {
			col := rec.Column(cols[i])
			// (Every record has the result's schema: its types are checked once.)
			if r == 0 {
				if err := f.Accepts(col.DataType()); err != nil {
					return nil, fmt.Errorf("dataframe.Scan: column %q (%s) does not fit field %s (%s): %w", names[cols[i]], col.DataType(), f.GoName, f.Type, err)
				}
			}
			for k := range n {
				if err := f.Read(col, k, base.Index(k).FieldByIndex(f.Index)); err != nil {
					return nil, fmt.Errorf("dataframe.Scan: column %q, row %d: %w", names[cols[i]], row+k, err)
				}
			}
		}
		row += n
	}
	return out, nil
}
