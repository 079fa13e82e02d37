package eval

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// benchBatch is 4,096 rows of (i int64, j int64, d decimal(2), f float64, s string, b bool)
// with 10% nulls in j.
func benchBatch() (*coldata.Batch, types.Schema) {
	const n = coldata.DefaultBatchSize
	rng := rand.New(rand.NewPCG(1, 2))
	s := types.Schema{
		{Name: "i", Type: types.Int64Type}, {Name: "j", Type: types.Int64Type, Nullable: true},
		{Name: "d", Type: types.DecimalType(2)}, {Name: "f", Type: types.Float64Type},
		{Name: "s", Type: types.StringType}, {Name: "b", Type: types.BoolType},
	}
	vecs := make([]*coldata.Vec, len(s))
	for k, f := range s {
		vecs[k] = coldata.NewVec(f.Type, n)
	}
	vecs[1].Nulls = make([]bool, n)
	words := []string{"alpha", "beta", "gamma", "delta"}
	vecs[4].Str = coldata.Strings{}
	for r := 0; r < n; r++ {
		vecs[0].I64[r] = rng.Int64N(1000) - 500
		vecs[1].I64[r] = rng.Int64N(100) + 1
		vecs[1].Nulls[r] = rng.IntN(10) == 0
		vecs[2].I64[r] = rng.Int64N(1_000_000)
		vecs[3].F64[r] = rng.Float64() * 100
		vecs[4].Str.AppendString(words[rng.IntN(len(words))])
		vecs[5].Bool[r] = rng.IntN(2) == 0
	}
	return &coldata.Batch{N: n, Vecs: vecs}, s
}

func benchEval(b *testing.B, e *expr.Expr) {
	batch, s := benchBatch()
	r, err := expr.Resolve(e, s)
	if err != nil {
		b.Fatal(err)
	}
	ev, err := Compile(r, s)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		ev.Eval(batch)
	}
}

func benchFilter(b *testing.B, e *expr.Expr) {
	batch, s := benchBatch()
	r, err := expr.Resolve(e, s)
	if err != nil {
		b.Fatal(err)
	}
	sl, err := CompileFilter(r, s)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		sl.Select(batch, nil)
	}
}

func lit(v int64) *expr.Expr { return expr.Lit(expr.Value{T: types.Int64Type, I: v}) }

func BenchmarkEval(b *testing.B) {
	i, j, d, f := expr.Col("i"), expr.Col("j"), expr.Col("d"), expr.Col("f")
	for _, c := range []struct {
		name string
		e    *expr.Expr
	}{
		{"AddInt64", expr.Call(expr.OpAdd, i, j)},
		{"MulDecimal", expr.Call(expr.OpMul, d, d)},
		{"SubFloat", expr.Call(expr.OpSub, f, f)},
		{"DivDecimal", expr.Call(expr.OpDiv, d, j)},
		{"LtInt64Const", expr.Call(expr.OpLt, i, lit(7))},
		{"AndCmp", expr.Call(expr.OpAnd, expr.Call(expr.OpLt, i, lit(7)), expr.Call(expr.OpGt, j, lit(3)))},
		{"Not", expr.Call(expr.OpNot, expr.Call(expr.OpLt, i, lit(7)))},
	} {
		b.Run(c.name, func(b *testing.B) { benchEval(b, c.e) })
	}
}

func BenchmarkFilter(b *testing.B) {
	i, j := expr.Col("i"), expr.Col("j")
	for _, c := range []struct {
		name string
		e    *expr.Expr
	}{
		{"LtInt64Const", expr.Call(expr.OpLt, i, lit(7))},
		{"AndCmp", expr.Call(expr.OpAnd, expr.Call(expr.OpLt, i, lit(7)), expr.Call(expr.OpGt, j, lit(3)))},
		{"OrCmp", expr.Call(expr.OpOr, expr.Call(expr.OpLt, i, lit(7)), expr.Call(expr.OpGt, j, lit(3)))},
		{"StrEq", expr.Call(expr.OpEq, expr.Col("s"), expr.Lit(expr.Value{T: types.StringType, S: "beta"}))},
	} {
		b.Run(c.name, func(b *testing.B) { benchFilter(b, c.e) })
	}
}

// BenchmarkSelect runs a selection kernel over random data (a fresh 4,096
// rows each time, from 4M, so that no branch predictor learns them) keeping
// none, half or all of the rows, with and without a selection vector.
func BenchmarkSelect(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := make([]int32, 1<<22)
	for i := range a {
		a[i] = rng.Int32N(1000)
	}
	half := make([]int32, 0, 4096)
	for i := range int32(4096) {
		if i%2 == 0 || i%3 == 0 {
			half = append(half, i)
		}
	}
	for _, kept := range []int32{0, 500, 1000} {
		for _, sel := range [][]int32{nil, half} {
			b.Run(fmt.Sprintf("kept=%d/1000,sel=%v", 1000-kept, sel != nil), func(b *testing.B) {
				out := make([]int32, 0, 4096)
				off := 0
				for b.Loop() {
					out = SelGeInt32VC(out[:0], a[off:off+4096], kept, sel, 4096)
					off = (off + 4096) % len(a)
				}
				b.SetBytes(4096 * 4)
			})
		}
	}
}
