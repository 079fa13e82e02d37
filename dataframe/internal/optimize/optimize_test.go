package optimize

import (
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

func tbl(names []string, rows int) *plan.Scan {
	var s types.Schema
	var vecs []*coldata.Vec
	for _, n := range names {
		s = append(s, types.Field{Name: n, Type: types.Int64Type})
		v := coldata.NewVec(types.Int64Type, rows)
		for i := range v.I64 {
			v.I64[i] = int64(i) // distinct values, for the statistics
		}
		vecs = append(vecs, v)
	}
	t := scan.NewMemTable(s, []*coldata.Batch{{N: rows, Vecs: vecs}})
	cols := make([]int, len(s))
	for i := range cols {
		cols[i] = i
	}
	return &plan.Scan{Source: t, Columns: cols}
}

func must(t *testing.T, e *expr.Expr, s types.Schema) *expr.Expr {
	t.Helper()
	r, err := expr.Resolve(e, s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func join(t *testing.T, l, r plan.Node, lk, rk string) *plan.Join {
	return &plan.Join{Left: l, Right: r, Type: hashjoin.Inner,
		LeftKeys: []*expr.Expr{must(t, expr.Col(lk), l.Schema())}, RightKeys: []*expr.Expr{must(t, expr.Col(rk), r.Schema())}}
}

func TestOptimizerRules(t *testing.T) {
	fact := tbl([]string{"f_a", "f_b", "f_v"}, 100000)
	dimA := tbl([]string{"a_key", "a_x"}, 1000)
	dimB := tbl([]string{"b_key", "b_y"}, 1000)
	lit := func(v int64) *expr.Expr { return expr.Lit(expr.Value{T: types.Int64Type, I: v}) }
	j := join(t, join(t, fact, dimA, "f_a", "a_key"), dimB, "f_b", "b_key")
	// A filter above the joins: one conjunct per side, one constant expression.
	pred := expr.Call(expr.OpAnd, expr.Call(expr.OpAnd,
		expr.Call(expr.OpEq, expr.Col("b_y"), expr.Call(expr.OpAdd, lit(1), lit(2))),
		expr.Call(expr.OpLt, expr.Col("b_key"), lit(500))),
		expr.Call(expr.OpGt, expr.Col("f_v"), lit(10)))
	f := &plan.Filter{Input: j, Pred: must(t, pred, j.Schema())}
	top := &plan.Project{Input: f, Exprs: []*expr.Expr{must(t, expr.Col("a_x"), f.Schema()), must(t, expr.Col("f_v"), f.Schema())}}
	opt := Optimize(top)
	text := plan.Explain(opt)
	for _, want := range []string{
		"filter ((b_y = 3) and (b_key < 500))", // folded and pushed into B's scan
		"filter (f_v > 10)",                    // pushed into the fact scan
	} {
		if !strings.Contains(text, want) {
			t.Errorf("optimized plan lacks %q:\n%s", want, text)
		}
	}
	// The selective dimension B is now joined before A: the deepest join is with B.
	idxB, idxA := strings.Index(text, "[b_key"), strings.Index(text, "[a_key")
	if idxB < 0 || idxA < 0 || strings.Index(text, "Join inner on [f_b]") < strings.Index(text, "Join inner on [f_a]") {
		t.Errorf("expected (fact ⋈ B) ⋈ A:\n%s", text)
	}
	// Only needed columns are read.
	if strings.Contains(text, "b_y, ") && !strings.Contains(text, "[b_key, b_y]") {
		t.Errorf("unexpected columns:\n%s", text)
	}
	if got := opt.Schema().Names(); strings.Join(got, ",") != "a_x,f_v" {
		t.Errorf("output columns %v, want [a_x f_v]", got)
	}
}

// TestFoldScalarFunctions: constant function calls fold to literals; ones
// that raise are left for evaluation, which reports the error if a row
// reaches them.
func TestFoldScalarFunctions(t *testing.T) {
	i := func(v int64) *expr.Expr { return expr.Lit(expr.Value{T: types.Int64Type, I: v}) }
	s := func(v string) *expr.Expr { return expr.Lit(expr.Value{T: types.StringType, S: v}) }
	cast := expr.Call(expr.OpCast, s("abc"))
	cast.To = types.Int32Type
	for _, c := range []struct {
		e    *expr.Expr
		want string
	}{
		{expr.Call(expr.OpUpper, expr.Call(expr.OpConcat, s("ab"), i(1))), "'AB1'"},
		{expr.Call(expr.OpIntDiv, i(-7), i(2)), "-3"},
		{expr.Call(expr.OpCoalesce, expr.Lit(expr.Value{Null: true}), i(4)), "4"},
		{expr.Call(expr.OpIntDiv, i(1), i(0)), "div(1, 0)"},
		{cast, "cast('abc' AS int32)"},
	} {
		if got := Fold(must(t, c.e, nil)).String(); got != c.want {
			t.Errorf("Fold(%s) = %s, want %s", c.e, got, c.want)
		}
	}
}
