package exchange

import (
	"math/rand/v2"
	"testing"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// BenchmarkMapOutput is one map task of `shoal bench shuffle`: 500,000 rows
// of (int64 key, float64 value) in batches of 4096, hashed on the key to 20
// reducers, encoded as one map output.
func BenchmarkMapOutput(b *testing.B) {
	s := types.Schema{{Name: "key", Type: types.Type{ID: types.Int64}}, {Name: "value", Type: types.Type{ID: types.Float64}}}
	r := rand.New(rand.NewPCG(1, 2))
	const rows, batch = 500_000, coldata.DefaultBatchSize
	var batches []*coldata.Batch
	for lo := 0; lo < rows; lo += batch {
		n := min(batch, rows-lo)
		k, v := coldata.NewVec(s[0].Type, n), coldata.NewVec(s[1].Type, n)
		for i := range n {
			k.I64[i] = r.Int64N(1 << 40)
			v.F64[i] = r.Float64()
		}
		batches = append(batches, &coldata.Batch{N: n, Vecs: []*coldata.Vec{k, v}})
	}
	key, err := expr.Resolve(expr.Col("key"), s)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(rows * 16)
	b.ReportAllocs()
	for b.Loop() {
		w, err := NewMapOutputWriter(Spec{Kind: Hash, Keys: []*expr.Expr{key}, Partitions: 20}, s)
		if err != nil {
			b.Fatal(err)
		}
		for _, bt := range batches {
			w.Write(bt)
		}
		if _, _, err := w.Finish(); err != nil {
			b.Fatal(err)
		}
	}
}
