package hashagg

import (
	"context"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashtable"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/spill"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Agg is one aggregate of the operator: its spec and its argument columns. In
// Single and Partial phase Args holds the argument expression (none for
// count(*)); in Final phase it lists the input state columns.
type Agg struct {
	Spec Spec
	Args []*expr.Expr
}

// HashAgg groups its input by key expressions and computes aggregates.
// Output columns: the keys, then per aggregate its result (or, in Partial
// phase, its state columns).
type HashAgg struct {
	Input     colexecop.Operator
	Schema    types.Schema // input schema
	Keys      []*expr.Expr
	Aggs      []Agg
	Phase     Phase
	BatchSize int
	// Spill, when set, bounds the memory of the group table; past it the input
	// is partitioned to disk and aggregated one partition at a time.
	Spill *spill.Config
	// GroupsHint presizes the group table (an estimate; 0 when unknown).
	GroupsHint int

	ctx       context.Context
	keyEvals  []eval.Evaluator
	argEvals  [][]eval.Evaluator
	keyTypes  []types.Type
	nullable  []bool
	enc       *hashtable.KeyEncoder
	table     *hashtable.Table
	aggs      []aggregator
	keyBuf    []uint64
	gidBuf    []int32
	done      bool
	emitted   int
	global    bool
	spilled   *spill.Partitions // non-nil once over budget
	spillPart int
	sub       *HashAgg
}

// Init implements colexecop.Operator.
func (h *HashAgg) Init(ctx context.Context) {
	h.ctx = ctx
	h.Input.Init(ctx)
	h.setup()
}

func (h *HashAgg) setup() {
	if h.BatchSize <= 0 {
		h.BatchSize = coldata.DefaultBatchSize
	}
	h.keyEvals = make([]eval.Evaluator, len(h.Keys))
	h.keyTypes = make([]types.Type, len(h.Keys))
	h.nullable = make([]bool, len(h.Keys))
	for i, k := range h.Keys {
		ev, err := eval.Compile(k, h.Schema)
		if err != nil {
			colexecop.Throw(err)
		}
		h.keyEvals[i] = ev
		h.keyTypes[i] = k.T
		h.nullable[i] = k.Nullable
	}
	h.argEvals = make([][]eval.Evaluator, len(h.Aggs))
	for i, a := range h.Aggs {
		for _, arg := range a.Args {
			ev, err := eval.Compile(arg, h.Schema)
			if err != nil {
				colexecop.Throw(err)
			}
			h.argEvals[i] = append(h.argEvals[i], ev)
		}
	}
	h.global = len(h.Keys) == 0
	h.reset()
}

func (h *HashAgg) reset() {
	h.enc = hashtable.NewKeyEncoder(h.keyTypes, h.nullable)
	hint := 1024
	if h.GroupsHint > hint && (h.Spill == nil || int64(h.GroupsHint)*int64(8*h.enc.W+8) < h.Spill.Budget/2) {
		hint = h.GroupsHint
	}
	h.table = hashtable.NewTable(h.enc.W, hint)
	h.aggs = make([]aggregator, len(h.Aggs))
	for i, a := range h.Aggs {
		h.aggs[i] = newAggregator(a.Spec, h.Phase)
	}
	h.emitted = 0
}

// OutputTypes lists the operator's output column types.
func OutputTypes(keys []types.Type, aggs []Spec, ph Phase) []types.Type {
	out := append([]types.Type(nil), keys...)
	for _, a := range aggs {
		if ph == Partial {
			out = append(out, a.StateTypes()...)
		} else {
			out = append(out, a.OutType)
		}
	}
	return out
}

func (h *HashAgg) memory() int64 {
	n := h.table.Bytes()
	for _, a := range h.aggs {
		n += a.bytes()
	}
	return n
}

func (h *HashAgg) consume(b *coldata.Batch) {
	rows := b.Sel
	if rows == nil {
		rows = coldata.Iota(b.N)
	}
	nr := len(rows)
	keyVecs := make([]*coldata.Vec, len(h.keyEvals))
	for i, ev := range h.keyEvals {
		keyVecs[i] = ev.Eval(b)
	}
	W := h.enc.W
	h.keyBuf = growTo(h.keyBuf, nr*W)
	h.gidBuf = growTo(h.gidBuf, nr)
	h.enc.Encode(keyVecs, b.Sel, b.N, true, false, h.keyBuf, nil)
	gids := h.gidBuf[:nr]
	if h.spilled != nil {
		// Only groups already in memory are updated; the other rows spill.
		h.table.Find(h.keyBuf, nr, nil, gids)
		var keep, keepRows, out, parts []int32
		for k, g := range gids {
			if g >= 0 {
				keep = append(keep, g)
				keepRows = append(keepRows, rows[k])
			} else {
				out = append(out, rows[k])
				parts = append(parts, spill.PartitionOf(hashtable.HashRow(h.keyBuf, W, k), h.Spill.Level, spillFanout))
			}
		}
		if len(out) > 0 {
			h.spilled.Add(&coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: out}, parts)
		}
		gids, rows = keep, keepRows
	} else {
		h.table.FindOrInsert(h.keyBuf, nr, gids)
	}
	ng := h.table.Len()
	for i, a := range h.aggs {
		a.resize(ng)
		in := make([]*coldata.Vec, len(h.argEvals[i]))
		for j, ev := range h.argEvals[i] {
			in[j] = ev.Eval(b)
		}
		a.update(gids, rows, in)
	}
}

func (h *HashAgg) build() {
	for {
		colexecop.CheckCtx(h.ctx)
		b := h.Input.Next()
		if b.Len() == 0 {
			break
		}
		h.consume(b)
		if h.Spill != nil && h.spilled == nil && !h.global && h.Spill.Level < maxSpillLevel && h.memory() > h.Spill.Budget {
			p, err := spill.NewPartitions(h.Spill, h.Schema, spillFanout)
			if err != nil {
				colexecop.Throw(err)
			}
			h.spilled = p
			h.Spill.Notify("hash aggregate")
		}
	}
	if h.global && h.table.Len() == 0 && h.Phase != Final {
		// A global aggregate over no rows still yields one row.
		h.table.FindOrInsert(make([]uint64, h.enc.W), 1, make([]int32, 1))
		for _, a := range h.aggs {
			a.resize(1)
		}
	}
}

const (
	spillFanout = 16
	// maxSpillLevel stops re-partitioning (past it a partition is aggregated
	// in memory whatever its size: its keys are too few to split further).
	maxSpillLevel = 3
)

// Next implements colexecop.Operator. Once the table is over budget, rows of
// groups already in it keep being aggregated in memory and rows of new groups
// go to disk, partitioned by key hash; the in-memory groups are emitted first,
// then each spilled partition is aggregated on its own (recursively).
func (h *HashAgg) Next() *coldata.Batch {
	if !h.done {
		h.build()
		h.done = true
	}
	if b := h.emit(); b.Len() > 0 {
		return b
	}
	for h.spilled != nil && h.spillPart < len(h.spilled.Files) {
		if h.sub == nil {
			f := h.spilled.Files[h.spillPart]
			if f.Rows() == 0 {
				h.spillPart++
				continue
			}
			h.sub = &HashAgg{Input: f.Reader(), Schema: h.Schema, Keys: h.Keys, Aggs: h.Aggs,
				Phase: h.Phase, BatchSize: h.BatchSize, Spill: h.Spill.Deeper()}
			h.sub.Init(h.ctx)
		}
		if b := h.sub.Next(); b.Len() > 0 {
			return b
		}
		if err := h.sub.Close(); err != nil {
			colexecop.Throw(err)
		}
		h.sub = nil
		h.spillPart++
	}
	return &coldata.Batch{}
}

func (h *HashAgg) emit() *coldata.Batch {
	n := h.table.Len()
	if h.emitted >= n {
		return &coldata.Batch{}
	}
	hi := min(h.emitted+h.BatchSize, n)
	ids := make([]int32, hi-h.emitted)
	for i := range ids {
		ids[i] = int32(h.emitted + i)
	}
	h.emitted = hi
	out := &coldata.Batch{N: len(ids)}
	for c := range h.keyTypes {
		out.Vecs = append(out.Vecs, h.enc.Decode(c, h.table.Keys, ids))
	}
	for _, a := range h.aggs {
		out.Vecs = append(out.Vecs, a.results(ids)...)
	}
	return out
}

// Close implements colexecop.Operator.
func (h *HashAgg) Close() error {
	var err error
	if h.spilled != nil {
		err = h.spilled.Close()
	}
	if e := h.Input.Close(); err == nil {
		err = e
	}
	return err
}
