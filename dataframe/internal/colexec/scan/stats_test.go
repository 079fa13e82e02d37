package scan

import (
	"fmt"
	"testing"

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
