package eval

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// TestResolvedExprTravelsAsJSON: cluster stages carry resolved expressions
// as JSON; the new operators' fields (Name for extract, the digits of round,
// the pattern of ilike, casts) must survive the trip.
func TestResolvedExprTravelsAsJSON(t *testing.T) {
	s := types.Schema{{Name: "a", Type: types.DateType, Nullable: true}, {Name: "b", Type: types.StringType, Nullable: true},
		{Name: "c", Type: types.DecimalType(2), Nullable: true}}
	ext := call(expr.OpExtract, colA)
	ext.Name = "quarter"
	il := call(expr.OpILike, colB)
	il.Pattern = `%A\_%`
	e := call(expr.OpConcatFn, ext, il, call(expr.OpRound, colC, litOf(i64(1))), call(expr.OpCoalesce, colB, litOf(str("-"))),
		call(expr.OpIntDiv, call(expr.OpLength, colB), litOf(i64(2))))
	r, err := expr.Resolve(e, s)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back expr.Expr
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	rows := [][]expr.Value{{date("1998-12-01"), str("xa_y"), dec("2.45")}, {nullD, nullS, null(types.DecimalType(2))}}
	b := buildBatch(rows, s, false)
	var got [2][]string
	for k, x := range []*expr.Expr{r, &back} {
		ev, err := Compile(x, s)
		if err != nil {
			t.Fatal(err)
		}
		out := ev.Eval(b)
		for i := range rows {
			got[k] = append(got[k], show(ValueAt(out, i)))
		}
	}
	want := []string{"4true2.5xa_y2", "-"}
	if !slices.Equal(got[0], want) || !slices.Equal(got[1], want) {
		t.Errorf("before the trip %v, after %v, want %v", got[0], got[1], want)
	}
}
