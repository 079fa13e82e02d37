package physical

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashagg"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/exchange"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/optimize"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

func table(t *testing.T, prefix string, rows int) *scan.MemTable {
	t.Helper()
	s := types.Schema{{Name: prefix + "k", Type: types.Int64Type}, {Name: prefix + "v", Type: types.DecimalType(2)}}
	b := &coldata.Batch{N: rows, Vecs: []*coldata.Vec{coldata.NewVec(s[0].Type, rows), coldata.NewVec(s[1].Type, rows)}}
	for i := 0; i < rows; i++ {
		b.Vecs[0].I64[i] = int64(i % 100)
		b.Vecs[1].I64[i] = int64(i)
	}
	return scan.NewMemTable(s, []*coldata.Batch{b})
}

func resolve(t *testing.T, e *expr.Expr, s types.Schema) *expr.Expr {
	t.Helper()
	r, err := expr.Resolve(e, s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// buildPlan: join two tables on k, filter, aggregate sum(v) by k.
func buildPlan(t *testing.T, l, r *scan.MemTable, limit int64) plan.Node {
	ls := &plan.Scan{Source: l, Columns: []int{0, 1}}
	rs := &plan.Scan{Source: r, Columns: []int{0, 1}}
	j := &plan.Join{Left: ls, Right: rs, Type: hashjoin.Inner,
		LeftKeys: []*expr.Expr{resolve(t, expr.Col("k"), ls.Schema())}, RightKeys: []*expr.Expr{resolve(t, expr.Col("rk"), rs.Schema())}}
	f := &plan.Filter{Input: j, Pred: resolve(t, expr.Call(expr.OpLt, expr.Col("k"), expr.Lit(expr.Value{T: types.Int64Type, I: limit})), j.Schema())}
	sum := expr.Alias(expr.Call(expr.OpSum, expr.Col("rv")), "s")
	return &plan.Aggregate{Input: f, Keys: []*expr.Expr{resolve(t, expr.Col("k"), f.Schema())}, Aggs: []*expr.Expr{resolve(t, sum, f.Schema())}}
}

func tokens(t *testing.T, p *Plan) []string {
	t.Helper()
	var out []string
	for _, st := range p.Stages {
		tok, err := st.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tok)
	}
	return out
}

// TestStagesAreData checks that stages serialize and tokenize deterministically,
// so that a distributed runner can ship and cache them.
func TestStagesAreData(t *testing.T) {
	l, r := table(t, "", 50000), table(t, "r", 20000)
	opts := Options{Partitions: 4}
	p1, err := Build(optimize.Optimize(buildPlan(t, l, r, 10)), opts)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Build(optimize.Optimize(buildPlan(t, l, r, 10)), opts)
	if err != nil {
		t.Fatal(err)
	}
	p3, err := Build(optimize.Optimize(buildPlan(t, l, r, 11)), opts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(p1)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"hash_join"`, `"kind":"broadcast"`, `"kind":"hash"`, `"source":"memory:`, `"phase":1`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("serialized plan lacks %s", want)
		}
	}
	t1, t2, t3 := tokens(t, p1), tokens(t, p2), tokens(t, p3)
	if strings.Join(t1, ",") != strings.Join(t2, ",") {
		t.Errorf("the same plan gave different stage tokens:\n%v\n%v", t1, t2)
	}
	if strings.Join(t1, ",") == strings.Join(t3, ",") {
		t.Error("plans with different filters gave the same stage tokens")
	}
	// A new table with the same contents is a different input.
	p4, _ := Build(optimize.Optimize(buildPlan(t, table(t, "", 50000), r, 10)), opts)
	if strings.Join(t1, ",") == strings.Join(tokens(t, p4), ",") {
		t.Error("a different input table gave the same stage tokens")
	}
	last := p1.Stages[len(p1.Stages)-1]
	if last.Root.Kind != KindHashAgg || last.Root.Phase != 2 {
		t.Errorf("last stage root is %s phase %d, want the final hash aggregate", last.Root.Kind, last.Root.Phase)
	}
}

// A distributed join planned partitioned with a build side estimated
// within adaptiveFactor of the broadcast bound is adaptive; BroadcastJoin
// makes its stage read the probe side's input itself and the build side
// whole, once, and leaves joins it cannot change as they are.
func TestBroadcastJoinRewritesTheJoinStage(t *testing.T) {
	l, r := table(t, "", 20000), table(t, "r", 300) // (the large side partitioned; the small one within 4x the bound)
	p, err := Build(optimize.Optimize(buildPlan(t, l, r, 50)), Options{Partitions: 4, BroadcastRows: 100, Distributed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Adaptive) != 1 {
		t.Fatalf("adaptive joins %v, want one:\n%s", p.Adaptive, p.Explain())
	}
	a := p.Adaptive[0]
	probe := p.Stages[a.Probe]
	join := p.BroadcastJoin(a)
	if join == nil {
		t.Fatalf("the join was not made broadcast:\n%s", p.Explain())
	}
	if join.Partitions != probe.Partitions {
		t.Errorf("the join's stage has %d partitions, want the probe stage's %d", join.Partitions, probe.Partitions)
	}
	for _, id := range join.Inputs {
		if id == a.Probe {
			t.Errorf("the join's stage still reads the probe stage: %v", join.Inputs)
		}
	}
	if !strings.Contains(p.Explain(), "HashJoin inner broadcast") || !strings.Contains(p.Explain(), "Scan") {
		t.Errorf("the plan after the switch:\n%s", p.Explain())
	}
	if again := p.BroadcastJoin(a); again != nil {
		t.Errorf("the join was switched twice (stage %d)", again.ID)
	}
}

// A stage splits a partition on an input only when every operator above
// that input's one read takes its rows one by one.
func TestSplitsOn(t *testing.T) {
	read := func(stage int) *Op { return &Op{Kind: KindExchangeRead, Stage: stage} }
	join := func(probe, build *Op, buildLeft bool) *Op {
		return &Op{Kind: KindHashJoin, Input: probe, Build: build, BuildLeft: buildLeft}
	}
	agg := func(in *Op, ph hashagg.Phase) *Op { return &Op{Kind: KindHashAgg, Input: in, Phase: ph} }
	filter := func(in *Op) *Op { return &Op{Kind: KindFilter, Input: in} }
	project := func(in *Op) *Op { return &Op{Kind: KindProject, Input: in} }
	for _, tc := range []struct {
		name  string
		root  *Op
		input int
		want  bool
	}{
		{"the probe side of a join", project(join(filter(read(1)), read(2), false)), 1, true},
		{"the build side of a join", project(join(read(1), read(2), false)), 2, false},
		{"the probe side under a preserved build side", join(read(1), read(2), true), 1, false},
		{"two joins deep, then a partial aggregate", agg(join(join(read(1), read(2), false), read(3), false), hashagg.Partial), 1, true},
		{"under a final aggregate", agg(join(read(1), read(2), false), hashagg.Final), 1, false},
		{"under a single-phase aggregate", agg(read(1), hashagg.Single), 1, false},
		{"under a sort", &Op{Kind: KindSort, Input: read(1)}, 1, false},
		{"under a limit", &Op{Kind: KindLimit, Input: read(1)}, 1, false},
		{"read twice", join(read(1), read(1), false), 1, false},
		{"not read", join(read(1), read(2), false), 3, false},
		{"a scan", filter(&Op{Kind: KindScan}), 1, false},
	} {
		st := &Stage{ID: 9, Root: tc.root}
		if got := st.SplitsOn(tc.input); got != tc.want {
			t.Errorf("%s: SplitsOn(%d) = %v, want %v", tc.name, tc.input, got, tc.want)
		}
	}
}

// string_agg has no partial state: on several partitions its aggregation
// runs in one phase after an exchange on the group keys (one partition
// without keys), and its ORDER BY travels with the stage.
func TestStringAggRunsInOnePhase(t *testing.T) {
	tb := table(t, "", 20000) // (past one partition's worth)
	sc := &plan.Scan{Source: tb, Columns: []int{0, 1}}
	text := expr.Call(expr.OpCast, expr.Col("v"))
	text.To = types.StringType
	agg := expr.Call(expr.OpStringAgg, text, expr.Lit(expr.Value{T: types.StringType, S: ","}), expr.Col("v"))
	agg.Order = []expr.Direction{{Desc: true}}
	for _, keys := range [][]*expr.Expr{{resolve(t, expr.Col("k"), sc.Schema())}, nil} {
		a := &plan.Aggregate{Input: sc, Keys: keys, Aggs: []*expr.Expr{resolve(t, expr.Alias(agg, "s"), sc.Schema())}}
		p, err := Build(a, Options{Partitions: 4})
		if err != nil {
			t.Fatal(err)
		}
		var aggs []*Op
		for _, st := range p.Stages {
			for o := st.Root; o != nil; o = o.Input {
				if o.Kind == KindHashAgg {
					aggs = append(aggs, o)
				}
			}
		}
		if len(aggs) != 1 || aggs[0].Phase != hashagg.Single {
			t.Fatalf("keys %v: want one single-phase aggregation, got %d (%s)", keys, len(aggs), p.Explain())
		}
		if got := aggs[0].Aggs[0].Spec.Order; len(got) != 1 || got[0].Col != 2 || !got[0].Desc {
			t.Errorf("keys %v: string_agg's order is %+v, want its third argument descending", keys, got)
		}
		in := p.Stages[len(p.Stages)-2].Output
		if want := map[bool]exchange.Kind{true: exchange.Hash, false: exchange.Single}[len(keys) > 0]; in.Kind != want {
			t.Errorf("keys %v: rows reach the aggregation by a %v exchange, want %v", keys, in.Kind, want)
		}
		data, err := json.Marshal(p)
		if err != nil || !strings.Contains(string(data), `"Order":[{"Col":2,"Desc":true`) {
			t.Errorf("keys %v: the serialized stage lacks string_agg's order (%v): %s", keys, err, data)
		}
	}
}
