package physical

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashagg"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/scan"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/sorter"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/window"
	"github.com/shoal-dev/shoal/dataframe/internal/exchange"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Kind names a physical operator.
type Kind string

// Physical operators.
const (
	KindScan         Kind = "scan"
	KindExchangeRead Kind = "exchange_read"
	KindFilter       Kind = "filter"
	KindProject      Kind = "project"
	KindHashAgg      Kind = "hash_agg"
	KindHashJoin     Kind = "hash_join"
	KindSort         Kind = "sort"
	KindLimit        Kind = "limit"
	// KindUnion reads Input, then Build (the second input, not a join's
	// build side): the rows of both, same schema.
	KindUnion Kind = "union"
	// KindSingleRow passes on Input's rows and fails past the first.
	KindSingleRow Kind = "single_row"
	// KindWindow computes window functions over Input, sorted on the
	// window's partition columns then its order (Window).
	KindWindow Kind = "window"
)

// Op is one operator of a stage's pipeline, described as data.
type Op struct {
	Kind   Kind         `json:"kind"`
	Schema types.Schema `json:"schema"`
	Input  *Op          `json:"input,omitempty"`

	// Scan.
	Source   scan.Source `json:"-"`
	SourceID string      `json:"source,omitempty"`
	// SourceSpec describes Source for another process (a file source
	// shipped to a cluster: AttachSpecs); nil otherwise.
	SourceSpec *scan.Spec `json:"source_spec,omitempty"`
	Columns    []int      `json:"columns,omitempty"`
	// Filter (also the filter pushed into a scan).
	Pred *expr.Expr `json:"pred,omitempty"`
	// ExchangeRead: the producing stage.
	Stage int `json:"stage,omitempty"`
	// Project.
	Exprs []*expr.Expr `json:"exprs,omitempty"`
	// HashAgg.
	Keys  []*expr.Expr  `json:"keys,omitempty"`
	Aggs  []hashagg.Agg `json:"aggs,omitempty"`
	Phase hashagg.Phase `json:"phase,omitempty"`
	// GroupsHint is the estimated number of groups per partition (presizing).
	GroupsHint int64 `json:"groups_hint,omitempty"`
	// HashJoin: Input is the probe side, Build reads the build stage.
	JoinType  hashjoin.Type `json:"join_type,omitempty"`
	ProbeKeys []*expr.Expr  `json:"probe_keys,omitempty"`
	BuildKeys []*expr.Expr  `json:"build_keys,omitempty"`
	Residual  *expr.Expr    `json:"residual,omitempty"`
	Build     *Op           `json:"build,omitempty"`
	Broadcast bool          `json:"broadcast,omitempty"`
	// BuildLeft: the build side is the preserved left input of a semi, anti
	// or left join (the smaller side); Input then reads the right side.
	BuildLeft bool `json:"build_left,omitempty"`
	// Sort / Limit.
	SortKeys []sorter.Key `json:"sort_keys,omitempty"`
	Limit    int64        `json:"limit,omitempty"`
	Offset   int64        `json:"offset,omitempty"`
	// Window.
	Window *window.Spec `json:"window,omitempty"`
}

// Stage is a pipeline run once per partition.
type Stage struct {
	ID         int           `json:"id"`
	Partitions int           `json:"partitions"`
	Root       *Op           `json:"root"`
	Output     exchange.Spec `json:"output"`
	Inputs     []int         `json:"inputs,omitempty"`
}

// Plan is the stages in dependency order; the last one produces the result.
type Plan struct {
	Stages []*Stage `json:"stages"`
	// Adaptive are the partitioned joins that may become broadcast joins
	// once their build side's size is known (BroadcastJoin).
	Adaptive []AdaptiveJoin `json:"adaptive,omitempty"`
}

// AdaptiveJoin is a partitioned join whose build side was estimated small
// enough that it may turn out small enough to broadcast: the stages that
// hash-partition its probe and build sides. A coordinator runs the probe
// stage only once the build stage is done, and then either as planned, or
// not at all (BroadcastJoin: the join's stage reads the probe side's input
// itself and the whole build side), as Spark's adaptive execution turns a
// shuffle join into a broadcast join.
type AdaptiveJoin struct {
	Probe int `json:"probe"`
	Build int `json:"build"`
}

// adaptiveFactor bounds the build sides of adaptive joins: estimated at up
// to this many times the broadcast bound (estimates of filtered aggregates
// are rough: TPC-H Q18's 57 large orders were estimated at 600,000).
const adaptiveFactor = 4

// BroadcastJoin turns adaptive join a into a broadcast join, if it still
// can: the probe stage is read by the join's stage alone, and that stage
// reads no other partitioned exchange. The join's stage then runs the
// probe stage's operators in its place (as many partitions as it had), and
// its join builds the whole build side (every partition of the build
// stage's hash output). It returns the join's stage (nil: left as it is).
func (p *Plan) BroadcastJoin(a AdaptiveJoin) *Stage {
	var probe, join *Stage
	for _, st := range p.Stages {
		if st.ID == a.Probe {
			probe = st
		}
		if slices.Contains(st.Inputs, a.Probe) {
			if join != nil {
				return nil // (read twice: it runs)
			}
			join = st
		}
	}
	if probe == nil || join == nil {
		return nil
	}
	output := map[int]exchange.Kind{}
	for _, st := range p.Stages {
		output[st.ID] = st.Output.Kind
	}
	var target *Op
	ok := true
	var walk func(o *Op)
	walk = func(o *Op) {
		if o == nil {
			return
		}
		if o.Kind == KindHashJoin && o.Input != nil && o.Input.Kind == KindExchangeRead && o.Input.Stage == a.Probe &&
			o.Build != nil && o.Build.Kind == KindExchangeRead && o.Build.Stage == a.Build && !o.BuildLeft {
			target = o
			return
		}
		if o.Kind == KindExchangeRead && output[o.Stage] != exchange.Broadcast {
			ok = false
		}
		walk(o.Input)
		walk(o.Build)
	}
	walk(join.Root)
	if target == nil || !ok {
		return nil
	}
	target.Input, target.Broadcast = probe.Root, true
	join.Partitions, join.Inputs = probe.Partitions, inputsOf(join.Root)
	return join
}

// SplitsOn reports whether a partition of st may run as several tasks,
// each reading a part of its rows of stage input and all of its rows of
// the stage's other inputs, the tasks' outputs together being the
// partition's: st reads input once, on the probe side of its joins, and
// every operator between that read and st's output takes each of its rows
// on its own (filters, projections, joins probing with it, not building a
// preserved side, and partial aggregates, merged by a later stage). A
// skewed partition of a join is split this way (Spark's adaptive skew
// join); an operator that sees a partition's rows together (a final
// aggregate, a sort, a limit, a window) cannot be split.
func (st *Stage) SplitsOn(input int) bool {
	reads := 0
	for _, id := range inputsOf(st.Root) {
		if id == input {
			reads++
		}
	}
	if reads != 1 {
		return false
	}
	for o := st.Root; o != nil; o = o.Input {
		switch o.Kind {
		case KindExchangeRead:
			return o.Stage == input
		case KindFilter, KindProject:
		case KindHashJoin:
			if o.BuildLeft {
				return false
			}
		case KindHashAgg:
			if o.Phase != hashagg.Partial {
				return false
			}
		default:
			return false
		}
	}
	return false
}

// Options tune planning.
type Options struct {
	// Partitions is the number of partitions of parallel stages.
	Partitions int
	// BroadcastRows: joins whose build side is estimated above this many rows
	// are planned as partitioned (shuffle) joins instead of broadcast joins.
	BroadcastRows int64
	// Distributed plans for partitions that run in separate processes: no
	// operator shares state across partitions (a join never builds its
	// preserved left side, whose rows every probe partition marks).
	Distributed bool
}

type builder struct {
	opts   Options
	stages []*Stage
	// cuts maps a stage's description (its operators, partitions and
	// output) to its ID: a subplan met twice (a WITH query used twice) is
	// one stage that both readers read.
	cuts     map[string]int
	adaptive []AdaptiveJoin
	// sharedStages maps each subplan used more than once (plan.Shared, by
	// its canonical text) to the stage that computes it.
	sharedStages map[string]int
}

// Build plans n.
func Build(n plan.Node, opts Options) (p *Plan, err error) {
	if opts.Partitions <= 0 {
		opts.Partitions = 1
	}
	if opts.BroadcastRows <= 0 {
		opts.BroadcastRows = 1 << 62
	}
	b := &builder{opts: opts}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("physical planning: %v", r)
		}
	}()
	op, parts := b.op(n)
	b.cut(op, parts, exchange.Spec{Kind: exchange.Result, Partitions: 1})
	return &Plan{Stages: b.stages, Adaptive: b.adaptive}, nil
}

func (b *builder) cut(op *Op, parts int, out exchange.Spec) int {
	key, err := json.Marshal(struct {
		Op    *Op
		Parts int
		Out   exchange.Spec
	}{op, parts, out})
	if err == nil && out.Kind != exchange.Result {
		if id, ok := b.cuts[string(key)]; ok {
			return id
		}
		if b.cuts == nil {
			b.cuts = map[string]int{}
		}
		b.cuts[string(key)] = len(b.stages)
	}
	id := len(b.stages)
	b.stages = append(b.stages, &Stage{ID: id, Partitions: parts, Root: op, Output: out, Inputs: inputsOf(op)})
	return id
}

// inputsOf is the stages the operators under op read.
func inputsOf(op *Op) []int {
	var inputs []int
	var walk func(*Op)
	walk = func(o *Op) {
		if o == nil {
			return
		}
		if o.Kind == KindExchangeRead {
			inputs = append(inputs, o.Stage)
		}
		walk(o.Input)
		walk(o.Build)
	}
	walk(op)
	return inputs
}

// reads reports whether stage id is stage other or reads it, directly or
// through the stages it reads.
func (b *builder) reads(id, other int) bool {
	if id == other {
		return true
	}
	for _, in := range b.stages[id].Inputs {
		if b.reads(in, other) {
			return true
		}
	}
	return false
}

func read(stage int, s types.Schema) *Op {
	return &Op{Kind: KindExchangeRead, Schema: s, Stage: stage}
}

func colRefs(s types.Schema, from, to int) []*expr.Expr {
	var out []*expr.Expr
	for i := from; i < to; i++ {
		c, err := expr.Resolve(expr.Col(s[i].Name), s)
		if err != nil {
			panic(err)
		}
		out = append(out, c)
	}
	return out
}

func (b *builder) op(n plan.Node) (*Op, int) {
	P := b.opts.Partitions
	switch x := n.(type) {
	case *plan.Scan:
		parts := P
		if ps, ok := x.Source.(scan.Partitioned); ok {
			parts = max(1, ps.NumPartitions())
		} else if r := x.Source.Rows(); r >= 0 && r < 8192 {
			parts = 1
		}
		return &Op{Kind: KindScan, Schema: x.Schema(), Source: x.Source, SourceID: x.Source.Identity(),
			Columns: x.Columns, Pred: x.Filter}, parts
	case *plan.Filter:
		in, parts := b.op(x.Input)
		return &Op{Kind: KindFilter, Schema: x.Schema(), Input: in, Pred: x.Pred}, parts
	case *plan.Project:
		in, parts := b.op(x.Input)
		return &Op{Kind: KindProject, Schema: x.Schema(), Input: in, Exprs: x.Exprs}, parts
	case *plan.Limit:
		in, parts := b.op(x.Input)
		if parts > 1 {
			local := &Op{Kind: KindLimit, Schema: x.Schema(), Input: in, Limit: x.N + x.Offset}
			id := b.cut(local, parts, exchange.Spec{Kind: exchange.Single, Partitions: 1})
			in = read(id, x.Schema())
		}
		return &Op{Kind: KindLimit, Schema: x.Schema(), Input: in, Limit: x.N, Offset: x.Offset}, 1
	case *plan.Sort:
		in, parts := b.op(x.Input)
		s := x.Schema()
		// Sort keys that are not plain columns are computed first.
		keys, pre, post := sortKeys(x, s)
		if pre != nil {
			in = &Op{Kind: KindProject, Schema: projSchema(pre), Input: in, Exprs: pre}
		}
		ks := in.Schema
		if parts > 1 {
			if x.Limit > 0 {
				in = &Op{Kind: KindSort, Schema: ks, Input: in, SortKeys: keys, Limit: x.Limit}
			}
			id := b.cut(in, parts, exchange.Spec{Kind: exchange.Single, Partitions: 1})
			in = read(id, ks)
		}
		out := &Op{Kind: KindSort, Schema: ks, Input: in, SortKeys: keys, Limit: x.Limit}
		if post != nil {
			out = &Op{Kind: KindProject, Schema: s, Input: out, Exprs: post}
		}
		return out, 1
	case *plan.Repartition:
		in, parts := b.op(x.Input)
		id := b.cut(in, parts, exchange.Spec{Kind: exchange.Hash, Keys: x.Keys, Partitions: x.N, Fixed: true})
		return read(id, x.Schema()), x.N
	case *plan.Aggregate:
		return b.aggregate(x)
	case *plan.Join:
		return b.join(x)
	case *plan.Union:
		return b.union(x)
	case *plan.Window:
		return b.window(x)
	case *plan.SingleRow:
		in, parts := b.op(x.Input)
		if parts > 1 {
			id := b.cut(in, parts, exchange.Spec{Kind: exchange.Single, Partitions: 1})
			in = read(id, in.Schema)
		}
		return &Op{Kind: KindSingleRow, Schema: x.Schema(), Input: in}, 1
	case *plan.Shared:
		return b.shared(x)
	}
	panic(fmt.Sprintf("no physical plan for %T", n))
}

// shared plans a subplan used more than once as one stage that each use
// reads: its rows hash-partitioned on every column (deterministic, so that
// a rerun of one of its tasks writes the same rows to the same readers),
// planned once for all its uses (the optimizer made them identical).
func (b *builder) shared(x *plan.Shared) (*Op, int) {
	key := plan.Canonical(x.Input)
	if id, ok := b.sharedStages[key]; ok {
		return read(id, x.Schema()), b.opts.Partitions
	}
	in, parts := b.op(x.Input)
	s := x.Schema()
	id := b.cut(in, parts, exchange.Spec{Kind: exchange.Hash, Keys: colRefs(s, 0, len(s)), Partitions: b.opts.Partitions})
	if b.sharedStages == nil {
		b.sharedStages = map[string]int{}
	}
	b.sharedStages[key] = id
	return read(id, s), b.opts.Partitions
}

func projSchema(es []*expr.Expr) types.Schema {
	s := make(types.Schema, len(es))
	for i, e := range es {
		s[i] = types.Field{Name: e.OutputName(), Type: e.T, Nullable: e.Nullable}
	}
	return s
}

// sortKeys maps sort expressions to columns, adding computed ones with a
// projection before the sort (pre) and dropping them after it (post).
func sortKeys(x *plan.Sort, s types.Schema) ([]sorter.Key, []*expr.Expr, []*expr.Expr) {
	var keys []sorter.Key
	var extra []*expr.Expr
	for _, k := range x.Keys {
		e := k.Expr.Unalias()
		col := -1
		if e.Op == expr.OpCol {
			col = s.Index(e.Name)
		}
		if col < 0 {
			col = len(s) + len(extra)
			extra = append(extra, expr.Alias(e, fmt.Sprintf("__sort%d", len(extra))))
			extra[len(extra)-1].T, extra[len(extra)-1].Nullable = e.T, e.Nullable
		}
		keys = append(keys, sorter.Key{Col: col, Desc: k.Desc, NullsFirst: k.NullsFirst})
	}
	if len(extra) == 0 {
		return keys, nil, nil
	}
	pre := append(colRefs(s, 0, len(s)), extra...)
	return keys, pre, colRefs(projSchema(pre), 0, len(s))
}

func (b *builder) aggregate(x *plan.Aggregate) (*Op, int) {
	in, parts := b.op(x.Input)
	hint := int64(0)
	if len(x.Keys) > 0 {
		groups, rows := plan.EstimateRows(x), plan.EstimateRows(x.Input)
		hint = min(groups, rows/int64(max(parts, 1)), 4<<20)
	}

	s := x.Schema()
	specs := make([]hashagg.Spec, len(x.Aggs))
	singlePhase := false
	for i, a := range x.Aggs {
		specs[i] = aggSpec(a)
		if specs[i].Func.SinglePhase() {
			singlePhase = true
		}
	}
	single := func(input *Op) *Op {
		aggs := make([]hashagg.Agg, len(x.Aggs))
		for i, a := range x.Aggs {
			aggs[i] = hashagg.Agg{Spec: specs[i], Args: a.Unalias().Args}
		}
		return &Op{Kind: KindHashAgg, Schema: s, Input: input, Keys: x.Keys, Aggs: aggs, Phase: hashagg.Single, GroupsHint: hint}
	}
	if parts == 1 {
		return single(in), 1
	}
	if singlePhase {
		// Distinct aggregates and string_agg have no mergeable state: bring
		// each group's rows together.
		if len(x.Keys) == 0 {
			id := b.cut(in, parts, exchange.Spec{Kind: exchange.Single, Partitions: 1})
			return single(read(id, in.Schema)), 1
		}
		id := b.cut(in, parts, exchange.Spec{Kind: exchange.Hash, Keys: x.Keys, Partitions: b.opts.Partitions})
		return single(read(id, in.Schema)), b.opts.Partitions
	}
	// Two phases: partial states per input partition, merged after an exchange.
	var partialSchema types.Schema
	for _, k := range x.Keys {
		partialSchema = append(partialSchema, types.Field{Name: k.OutputName(), Type: k.T, Nullable: k.Nullable})
	}
	partialAggs := make([]hashagg.Agg, len(x.Aggs))
	var stateCols [][]int
	for i, a := range x.Aggs {
		partialAggs[i] = hashagg.Agg{Spec: specs[i], Args: a.Unalias().Args}
		var cols []int
		for j, t := range specs[i].StateTypes() {
			cols = append(cols, len(partialSchema))
			partialSchema = append(partialSchema, types.Field{Name: fmt.Sprintf("__state%d_%d", i, j), Type: t, Nullable: true})
		}
		stateCols = append(stateCols, cols)
	}
	partial := &Op{Kind: KindHashAgg, Schema: partialSchema, Input: in, Keys: x.Keys, Aggs: partialAggs, Phase: hashagg.Partial, GroupsHint: hint}
	keyRefs := colRefs(partialSchema, 0, len(x.Keys))
	spec := exchange.Spec{Kind: exchange.Hash, Keys: keyRefs, Partitions: b.opts.Partitions}
	outParts := b.opts.Partitions
	if len(x.Keys) == 0 {
		spec = exchange.Spec{Kind: exchange.Single, Partitions: 1}
		outParts = 1
	}
	id := b.cut(partial, parts, spec)
	finalAggs := make([]hashagg.Agg, len(x.Aggs))
	for i := range x.Aggs {
		var args []*expr.Expr
		for _, c := range stateCols[i] {
			args = append(args, colRefs(partialSchema, c, c+1)...)
		}
		finalAggs[i] = hashagg.Agg{Spec: specs[i], Args: args}
	}
	final := &Op{Kind: KindHashAgg, Schema: s, Input: read(id, partialSchema), Keys: keyRefs, Aggs: finalAggs, Phase: hashagg.Final, GroupsHint: hint}
	return final, outParts
}

func aggSpec(a *expr.Expr) hashagg.Spec {
	e := a.Unalias()
	s := hashagg.Spec{OutType: e.T}
	if len(e.Args) > 0 {
		s.InType = e.Args[0].T
	}
	switch e.Op {
	case expr.OpSum:
		s.Func = hashagg.Sum
	case expr.OpCount:
		s.Func = hashagg.Count
	case expr.OpCountStar:
		s.Func = hashagg.CountStar
	case expr.OpMin:
		s.Func = hashagg.Min
	case expr.OpMax:
		s.Func = hashagg.Max
	case expr.OpAvg:
		s.Func = hashagg.Avg
	case expr.OpCountDistinct:
		s.Func = hashagg.CountDistinct
	case expr.OpSumDistinct:
		s.Func = hashagg.SumDistinct
	case expr.OpAvgDistinct:
		s.Func = hashagg.AvgDistinct
	case expr.OpAnyValue:
		s.Func = hashagg.Any
	case expr.OpStringAgg, expr.OpStringAggDistinct:
		s.Func = hashagg.StringAgg
		if e.Op == expr.OpStringAggDistinct {
			s.Func = hashagg.StringAggDistinct
		}
		for i, d := range e.Order {
			s.Order = append(s.Order, sorter.Key{Col: 2 + i, Desc: d.Desc, NullsFirst: d.NullsFirst})
		}
	default:
		panic(fmt.Sprintf("%s is not an aggregate", a))
	}
	return s
}

func (b *builder) join(x *plan.Join) (*Op, int) {
	probe, pp := b.op(x.Left)
	build, bp := b.op(x.Right)
	s := x.Schema()
	op := &Op{Kind: KindHashJoin, Schema: s, JoinType: x.Type, ProbeKeys: x.LeftKeys, BuildKeys: x.RightKeys, Residual: x.Residual}
	le, re := plan.EstimateRows(x.Left), plan.EstimateRows(x.Right)
	if x.Type != hashjoin.Inner && le < re && le <= b.opts.BroadcastRows && !b.opts.Distributed {
		// Build the smaller, preserved side; probes mark its rows.
		id := b.cut(probe, pp, exchange.Spec{Kind: exchange.Broadcast, Partitions: 1})
		op.Input, op.Build, op.Broadcast, op.BuildLeft = build, read(id, probe.Schema), true, true
		op.ProbeKeys, op.BuildKeys = x.RightKeys, x.LeftKeys
		return op, bp
	}
	if plan.EstimateRows(x.Right) <= b.opts.BroadcastRows || (pp == 1 && bp == 1) {
		id := b.cut(build, bp, exchange.Spec{Kind: exchange.Broadcast, Partitions: 1})
		op.Input, op.Build, op.Broadcast = probe, read(id, build.Schema), true
		return op, pp
	}
	if b.opts.Distributed && (x.Type == hashjoin.Semi || x.Type == hashjoin.Anti) && x.Residual == nil &&
		le >= 0 && le < re && le <= b.opts.BroadcastRows && bp > 1 {
		return b.semiByMatchedKeys(x, probe, pp, build, bp, le)
	}
	P := b.opts.Partitions
	pid := b.cut(probe, pp, exchange.Spec{Kind: exchange.Hash, Keys: x.LeftKeys, Partitions: P})
	bid := b.cut(build, bp, exchange.Spec{Kind: exchange.Hash, Keys: x.RightKeys, Partitions: P})
	op.Input, op.Build = read(pid, probe.Schema), read(bid, build.Schema)
	buildLeft := x.Type != hashjoin.Inner && le >= 0 && le < re && le <= b.opts.BroadcastRows*int64(P) && b.opts.Distributed
	if b.opts.Distributed && !buildLeft && re >= 0 && re <= adaptiveFactor*b.opts.BroadcastRows && (le < 0 || re < le) &&
		!b.reads(bid, pid) { // (the probe stage waits for the build stage: never for itself)
		b.adaptive = append(b.adaptive, AdaptiveJoin{Probe: pid, Build: bid})
	}
	if buildLeft {
		// Partitioned on the keys, a partition holds every row that can
		// match its rows: it builds the smaller, preserved side and marks
		// it alone (no state shared across partitions). Each partition's
		// share of that side is kept in memory, hence the bound.
		op.Input, op.Build, op.BuildLeft = read(bid, build.Schema), read(pid, probe.Schema), true
		op.ProbeKeys, op.BuildKeys = x.RightKeys, x.LeftKeys
	}
	return op, P
}

// semiByMatchedKeys plans a semi or anti join (no residual) of a small
// preserved side L (probe) with a large side R (build) across processes
// without shuffling R: L is broadcast to R's partitions, each keeps the
// distinct keys of its rows that match L (at most L's rows), and one
// partition gathers those keys and joins L with them. L ⋉ R is
// L ⋉ keys(R ⋉ L), and L ▷ R is L ▷ keys(R ⋉ L), NULL keys matching
// nothing either way. (Partitioned on the keys instead, R's rows all
// crossed the network: TPC-H Q4 shuffled 3.8 million lineitem rows to
// mark 57,000 orders.)
func (b *builder) semiByMatchedKeys(x *plan.Join, probe *Op, pp int, build *Op, bp int, le int64) (*Op, int) {
	lid := b.cut(probe, pp, exchange.Spec{Kind: exchange.Broadcast, Partitions: 1})
	matched := &Op{Kind: KindHashJoin, Schema: build.Schema, JoinType: hashjoin.Semi, Input: build,
		Build: read(lid, probe.Schema), Broadcast: true, ProbeKeys: x.RightKeys, BuildKeys: x.LeftKeys}
	var keySchema types.Schema
	for i, k := range x.RightKeys {
		keySchema = append(keySchema, types.Field{Name: fmt.Sprintf("__matched_key%d", i), Type: k.T, Nullable: k.Nullable})
	}
	distinct := &Op{Kind: KindHashAgg, Schema: keySchema, Input: matched, Keys: x.RightKeys, Phase: hashagg.Partial, GroupsHint: min(le, 4<<20)}
	kid := b.cut(distinct, bp, exchange.Spec{Kind: exchange.Single, Partitions: 1})
	return &Op{Kind: KindHashJoin, Schema: x.Schema(), JoinType: x.Type, Input: read(lid, probe.Schema),
		Build: read(kid, keySchema), Broadcast: true, ProbeKeys: x.LeftKeys, BuildKeys: colRefs(keySchema, 0, len(keySchema))}, 1
}

// union reads both inputs in one pipeline when each is one partition, and
// otherwise hash-partitions both on every column into the same number of
// partitions, partition p of the union reading partition p of each.
func (b *builder) union(x *plan.Union) (*Op, int) {
	l, lp := b.op(x.Left)
	r, rp := b.op(x.Right)
	s := x.Schema()
	if lp == 1 && rp == 1 {
		return &Op{Kind: KindUnion, Schema: s, Input: l, Build: r}, 1
	}
	P := b.opts.Partitions
	side := func(o *Op, parts int) *Op {
		id := b.cut(o, parts, exchange.Spec{Kind: exchange.Hash, Keys: colRefs(o.Schema, 0, len(o.Schema)), Partitions: P})
		return read(id, o.Schema)
	}
	return &Op{Kind: KindUnion, Schema: s, Input: side(l, lp), Build: side(r, rp)}, P
}

// Explain prints the stages.
func (p *Plan) Explain() string { return p.ExplainWith(nil, nil) }

// ExplainWith prints the stages, each stage's line followed by
// stageNote(stage) and each operator's by opNote(operator) when they are
// set and say something (EXPLAIN ANALYZE's figures).
func (p *Plan) ExplainWith(stageNote func(*Stage) string, opNote func(*Op) string) string {
	var sb strings.Builder
	for _, st := range p.Stages {
		fmt.Fprintf(&sb, "Stage %d: %d partition(s) -> %s", st.ID, st.Partitions, st.Output.Kind)
		if len(st.Output.Keys) > 0 {
			parts := make([]string, len(st.Output.Keys))
			for i, k := range st.Output.Keys {
				parts[i] = k.String()
			}
			fmt.Fprintf(&sb, "(%s) x%d", strings.Join(parts, ", "), st.Output.Partitions)
		}
		if stageNote != nil {
			if n := stageNote(st); n != "" {
				sb.WriteString("  " + n)
			}
		}
		sb.WriteByte('\n')
		explainOp(&sb, st.Root, 1, opNote)
	}
	for _, a := range p.Adaptive {
		fmt.Fprintf(&sb, "Adaptive join: once stage %d is done, stage %d runs only if the rows of stage %d are too many to broadcast\n",
			a.Build, a.Probe, a.Build)
	}
	return sb.String()
}

func explainOp(sb *strings.Builder, o *Op, depth int, note func(*Op) string) {
	ind := strings.Repeat("  ", depth)
	noted := func() {
		if note != nil {
			if n := note(o); n != "" {
				sb.WriteString("  " + n)
			}
		}
	}
	sb.WriteString(ind)
	switch o.Kind {
	case KindScan:
		fmt.Fprintf(sb, "Scan %s %v", o.Source.Describe(), o.Schema.Names())
		if o.Pred != nil {
			fmt.Fprintf(sb, " filter %s", o.Pred)
		}
	case KindExchangeRead:
		fmt.Fprintf(sb, "ExchangeRead stage %d", o.Stage)
	case KindFilter:
		fmt.Fprintf(sb, "Filter %s", o.Pred)
	case KindProject:
		fmt.Fprintf(sb, "Project %v", o.Schema.Names())
	case KindHashAgg:
		phase := [...]string{"single", "partial", "final"}[o.Phase]
		fmt.Fprintf(sb, "HashAgg(%s) keys %d aggs %d -> %v", phase, len(o.Keys), len(o.Aggs), o.Schema.Names())
	case KindHashJoin:
		mode := "partitioned"
		if o.Broadcast {
			mode = "broadcast"
		}
		if o.BuildLeft {
			mode += " build-left"
		}
		fmt.Fprintf(sb, "HashJoin %s %s", o.JoinType, mode)
		if o.Residual != nil {
			fmt.Fprintf(sb, " residual %s", o.Residual)
		}
	case KindSort:
		if o.Limit > 0 {
			fmt.Fprintf(sb, "TopK %d", o.Limit)
		} else {
			sb.WriteString("Sort")
		}
	case KindLimit:
		fmt.Fprintf(sb, "Limit %d offset %d", o.Limit, o.Offset)
	case KindSingleRow:
		sb.WriteString("SingleRow")
	case KindWindow:
		fmt.Fprintf(sb, "Window partition %v order %v -> %v", o.Window.Partition, o.Window.Order, o.Schema.Names())
	case KindUnion:
		sb.WriteString("Union all")
		noted()
		sb.WriteByte('\n')
		explainOp(sb, o.Input, depth+1, note)
		explainOp(sb, o.Build, depth+1, note)
		return
	}
	noted()
	sb.WriteByte('\n')
	if o.Build != nil {
		sb.WriteString(ind + "  build:\n")
		explainOp(sb, o.Build, depth+2, note)
		sb.WriteString(ind + "  probe:\n")
		explainOp(sb, o.Input, depth+2, note)
		return
	}
	if o.Input != nil {
		explainOp(sb, o.Input, depth+1, note)
	}
}

// Token hashes a stage's description (with input identities).
func (st *Stage) Token() (string, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("serializing stage %d: %w", st.ID, err)
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:]), nil
}

// AttachSpecs describes every scan's source as data (Op.SourceSpec), for the
// stages to run in other processes; it fails, naming the source, when one
// cannot be (an in-memory table, a stream).
func (p *Plan) AttachSpecs() error {
	var walk func(o *Op) error
	walk = func(o *Op) error {
		if o == nil {
			return nil
		}
		if o.Kind == KindScan && o.SourceSpec == nil {
			sp, ok := o.Source.(scan.Specced)
			if !ok {
				return fmt.Errorf("%s can only be read in this process: read files (ReadParquet, ReadCSV) readable by every node to run on a cluster, or collect this frame locally", o.Source.Describe())
			}
			spec := sp.Spec()
			o.SourceSpec = &spec
		}
		if err := walk(o.Input); err != nil {
			return err
		}
		return walk(o.Build)
	}
	for _, st := range p.Stages {
		if err := walk(st.Root); err != nil {
			return err
		}
	}
	return nil
}

// OpenSpecs opens the sources of a stage received from another process
// (Op.SourceSpec) with open (scan.FromSpec, which checks that each file is
// the data its planner saw, when nil).
func (st *Stage) OpenSpecs(open func(scan.Spec) (scan.Source, error)) error {
	if open == nil {
		open = scan.FromSpec
	}
	var walk func(o *Op) error
	walk = func(o *Op) error {
		if o == nil {
			return nil
		}
		if o.Kind == KindScan && o.Source == nil {
			if o.SourceSpec == nil {
				return fmt.Errorf("stage %d: a scan has no source description", st.ID)
			}
			src, err := open(*o.SourceSpec)
			if err != nil {
				return fmt.Errorf("stage %d: %w", st.ID, err)
			}
			o.Source = src
		}
		if err := walk(o.Input); err != nil {
			return err
		}
		return walk(o.Build)
	}
	return walk(st.Root)
}
