package eval

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecerror"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Values for test rows.
func i64(x int64) expr.Value   { return expr.Value{T: types.Int64Type, I: x} }
func i32(x int32) expr.Value   { return expr.Value{T: types.Int32Type, I: int64(x)} }
func f64(x float64) expr.Value { return expr.Value{T: types.Float64Type, F: x} }
func str(s string) expr.Value  { return expr.Value{T: types.StringType, S: s} }
func boolean(b bool) expr.Value {
	return expr.Value{T: types.BoolType, B: b}
}
func null(t types.Type) expr.Value { return expr.Value{T: t, Null: true} }
func dec(s string) expr.Value {
	v, scale, err := expr.ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return expr.Value{T: types.DecimalType(scale), I: v}
}
func date(s string) expr.Value {
	d, err := expr.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return expr.Value{T: types.DateType, I: int64(d)}
}

var (
	nullI   = null(types.Int64Type)
	nullF   = null(types.Float64Type)
	nullS   = null(types.StringType)
	nullB   = null(types.BoolType)
	nullD   = null(types.DateType)
	colA    = expr.Col("a")
	colB    = expr.Col("b")
	colC    = expr.Col("c")
	columns = []string{"a", "b", "c", "d"}
)

func call(op expr.Op, args ...*expr.Expr) *expr.Expr { return expr.Call(op, args...) }
func litOf(v expr.Value) *expr.Expr                  { return expr.Lit(v) }

// show prints a result value: NULL, or its text form.
func show(v expr.Value) string {
	if v.Null {
		return "NULL"
	}
	return expr.FormatText(v)
}

// buildBatch makes a batch of the rows (column k from row[k]); with dead, a
// row of zero values sits before every real one, outside the selection, so
// that kernels which look at dead rows (a zero divisor) are caught.
func buildBatch(rows [][]expr.Value, s types.Schema, dead bool) *coldata.Batch {
	n := len(rows)
	if dead {
		n *= 2
	}
	b := &coldata.Batch{N: n, Vecs: make([]*coldata.Vec, len(s))}
	for k, f := range s {
		v := coldata.NewVec(f.Type, n)
		v.Str = coldata.Strings{Offs: []int32{0}}
		v.Nulls = make([]bool, n)
		i := 0
		for _, r := range rows {
			if dead {
				if f.Type.ID == types.String {
					v.Str.AppendString("")
				}
				i++
			}
			x := r[k]
			if !x.Null && x.T != f.Type {
				panic(fmt.Sprintf("column %s is %s, row value %s", f.Name, f.Type, x))
			}
			v.Nulls[i] = x.Null
			setValue(v, i, x)
			if f.Type.ID == types.String {
				v.Str.Offs = append(v.Str.Offs, int32(len(v.Str.Data)))
			}
			i++
		}
		b.Vecs[k] = v
	}
	if dead {
		for i := 1; i < n; i += 2 {
			b.Sel = append(b.Sel, int32(i))
		}
	}
	return b
}

// evalRows resolves e over columns a, b, … typed after rows[0] and evaluates
// it three ways: on a batch with dead rows and a selection vector, on a plain
// batch, and row by row with the columns replaced by literals (constant
// vecs). It fails the test when the ways disagree, and checks a boolean
// expression's filter against its values. An evaluation error is returned
// (the first row's, for the literal way).
func evalRows(t *testing.T, e *expr.Expr, rows [][]expr.Value) ([]string, error) {
	t.Helper()
	var s types.Schema
	for k, v := range rows[0] {
		s = append(s, types.Field{Name: columns[k], Type: v.T, Nullable: true})
	}
	r, err := expr.Resolve(e, s)
	if err != nil {
		t.Fatalf("resolve %s: %v", e, err)
	}
	var results [][]string
	var errs []error
	for _, dead := range []bool{true, false} {
		b := buildBatch(rows, s, dead)
		var got []string
		err := colexecerror.Catch(func() {
			ev, err := Compile(r, s)
			if err != nil {
				t.Fatalf("compile %s: %v", r, err)
			}
			out := ev.Eval(b)
			coldata.ForEach(b.N, b.Sel, func(i int) { got = append(got, show(ValueAt(out, i))) })
			if r.T.ID == types.Bool {
				checkFilter(t, r, s, b, got)
			}
		})
		results, errs = append(results, got), append(errs, err)
	}
	var lits []string
	var litErr error
	for _, row := range rows {
		m := map[string]*expr.Expr{}
		for k, v := range row {
			m[columns[k]] = litOf(v)
		}
		le, err := expr.Resolve(expr.Substitute(e, m), nil)
		if err != nil {
			t.Fatalf("resolve %s with literals: %v", e, err)
		}
		err = colexecerror.Catch(func() {
			ev, err := Compile(le, nil)
			if err != nil {
				t.Fatalf("compile %s: %v", le, err)
			}
			lits = append(lits, show(ValueAt(ev.Eval(&coldata.Batch{N: 1}), 0)))
		})
		if err != nil && litErr == nil {
			litErr = err
		}
	}
	if (errs[0] == nil) != (errs[1] == nil) || (errs[0] == nil) != (litErr == nil) {
		t.Fatalf("%s: errors differ: with selection %v, without %v, literals %v", r, errs[0], errs[1], litErr)
	}
	if errs[0] != nil {
		return nil, errs[0]
	}
	if !slices.Equal(results[0], results[1]) || !slices.Equal(results[0], lits) {
		t.Fatalf("%s: results differ:\nwith selection %v\nwithout        %v\nliterals       %v", r, results[0], results[1], lits)
	}
	return results[0], nil
}

// checkFilter: the rows a filter keeps are the rows whose value is true.
func checkFilter(t *testing.T, e *expr.Expr, s types.Schema, b *coldata.Batch, values []string) {
	t.Helper()
	f, err := CompileFilter(e, s)
	if err != nil {
		t.Fatalf("compile filter %s: %v", e, err)
	}
	kept := map[int32]bool{}
	for _, i := range f.Select(b, b.Sel) {
		kept[i] = true
	}
	k := 0
	coldata.ForEach(b.N, b.Sel, func(i int) {
		if kept[int32(i)] != (values[k] == "true") {
			t.Errorf("filter %s keeps row %d: %v, but its value is %s", e, k, kept[int32(i)], values[k])
		}
		k++
	})
}

type evalCase struct {
	e    *expr.Expr
	rows [][]expr.Value
	want []string
}

func runCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.e.String(), func(t *testing.T) {
			got, err := evalRows(t, c.e, c.rows)
			if err != nil {
				t.Fatalf("%s: %v", c.e, err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s:\n got %s\nwant %s", c.e, fmtList(got), fmtList(c.want))
			}
		})
	}
}

func fmtList(s []string) string { return "[" + strings.Join(s, ", ") + "]" }

// rowsOf makes one-column rows.
func rowsOf(vs ...expr.Value) [][]expr.Value {
	out := make([][]expr.Value, len(vs))
	for i, v := range vs {
		out[i] = []expr.Value{v}
	}
	return out
}

// pairs makes two-column rows from alternating values.
func pairs(vs ...expr.Value) [][]expr.Value {
	if len(vs)%2 != 0 {
		panic(fmt.Sprint("odd number of values ", len(vs)))
	}
	var out [][]expr.Value
	for i := 0; i < len(vs); i += 2 {
		out = append(out, []expr.Value{vs[i], vs[i+1]})
	}
	return out
}

func strs(s ...string) []string { return s }
