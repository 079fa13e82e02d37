package physical

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/shoal-dev/shoal/dataframe/internal/exchange"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/optimize"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// A window over a partitioned input is a hash exchange on its partition
// keys (computed ones too) and a stage that sorts and computes the window,
// all of it data: the stages survive a JSON round trip to another process.
func TestWindowStages(t *testing.T) {
	l := table(t, "", 50000)
	s := &plan.Scan{Source: l, Columns: []int{0, 1}}
	in := s.Schema()
	key := resolve(t, expr.Call(expr.OpMod, expr.Col("k"), expr.Lit(expr.Value{T: types.Int64Type, I: 7})), in)
	funcs := []*expr.Expr{
		resolve(t, expr.Alias(expr.Call(expr.OpRank), "r"), in),
		resolve(t, expr.Alias(expr.Call(expr.OpSum, expr.Col("v")), "s"), in),
	}
	w := &plan.Window{Input: s, PartitionBy: []*expr.Expr{key}, Funcs: funcs,
		OrderBy: []plan.SortKey{{Expr: resolve(t, expr.Col("v"), in), Desc: true}}}
	p, err := Build(optimize.Optimize(w), Options{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Stages) != 2 {
		t.Fatalf("%d stages, want 2 (scan + exchange, window):\n%s", len(p.Stages), p.Explain())
	}
	ex := p.Stages[0].Output
	if ex.Kind != exchange.Hash || len(ex.Keys) != 1 || ex.Keys[0].Name != "__wkey0" {
		t.Errorf("the scan stage's output is %+v, want a hash exchange on the computed key", ex)
	}
	root := p.Stages[1].Root
	if root.Kind != KindProject || root.Input.Kind != KindWindow || root.Input.Input.Kind != KindSort {
		t.Fatalf("window stage:\n%s", p.Explain())
	}
	if got := root.Schema.Names(); !reflect.DeepEqual(got, []string{"k", "v", "r", "s"}) {
		t.Errorf("window stage outputs %v", got)
	}
	for _, st := range p.Stages {
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var back Stage
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if st.ID == 1 && !reflect.DeepEqual(back.Root.Input.Window, root.Input.Window) {
			t.Errorf("window spec after a JSON round trip: %+v, want %+v", back.Root.Input.Window, root.Input.Window)
		}
	}
}
