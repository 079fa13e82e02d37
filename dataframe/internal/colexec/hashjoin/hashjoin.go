package hashjoin

import (
	"context"
	"fmt"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashtable"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/spill"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Type is a join type. The probe side is the left (preserved) side.
type Type uint8

// Join types.
const (
	Inner Type = iota
	Left
	Semi
	Anti
)

var typeNames = [...]string{"inner", "left", "semi", "anti"}

func (t Type) String() string { return typeNames[t] }

// Table is the build side of a join: its rows, and a hash table from key to
// the chain of rows with that key. It is read-only once built.
type Table struct {
	Schema types.Schema
	Data   *coldata.Batch
	enc    *hashtable.KeyEncoder
	ht     *hashtable.Table
	head   []int32
	next   []int32
	rowKey []int32 // key id of each row (-1: null key)
	unique bool
}

// Bytes is the approximate memory held by the table.
func (t *Table) Bytes() int64 {
	return t.Data.Bytes() + t.ht.Bytes() + int64(len(t.head)+len(t.next))*4
}

// Rows is the number of build rows.
func (t *Table) Rows() int { return t.Data.N }

// BuildTable makes a join table from owned batches of schema s keyed by keys.
func BuildTable(s types.Schema, batches []*coldata.Batch, keys []*expr.Expr) *Table {
	data := coldata.Concat(s, batches)
	t := &Table{Schema: s, Data: data}
	ts := make([]types.Type, len(keys))
	nullable := make([]bool, len(keys))
	vecs := make([]*coldata.Vec, len(keys))
	for i, k := range keys {
		ev, err := eval.Compile(k, s)
		if err != nil {
			colexecop.Throw(err)
		}
		ts[i], nullable[i] = k.T, k.Nullable
		vecs[i] = ev.Eval(data)
		if vecs[i].Const {
			vecs[i] = coldata.Gather(vecs[i], make([]int32, data.N))
		}
	}
	t.enc = hashtable.NewKeyEncoder(ts, nullable)
	n := data.N
	W := t.enc.W
	words := make([]uint64, n*W)
	skip := make([]bool, n)
	t.enc.Encode(vecs, nil, n, true, true, words, skip)
	// Insert only rows with non-null keys.
	live := words
	var rowOf []int32
	anySkip := false
	for _, s := range skip {
		if s {
			anySkip = true
			break
		}
	}
	if anySkip {
		live = make([]uint64, 0, n*W)
		for r := 0; r < n; r++ {
			if !skip[r] {
				live = append(live, words[r*W:r*W+W]...)
				rowOf = append(rowOf, int32(r))
			}
		}
	}
	rows := len(live) / W
	ids := make([]int32, rows)
	t.ht = hashtable.NewTable(W, rows)
	t.ht.FindOrInsert(live, rows, ids)
	if len(keys) == 1 && !nullable[0] {
		direct := false
		switch ts[0].ID {
		case types.Int32, types.Date:
			direct = t.ht.BuildDirect(true)
		case types.Int64:
			direct = t.ht.BuildDirect(false)
		}
		if !direct {
			t.ht.BuildBloom()
		}
	}
	t.ht.Spread()
	t.head = make([]int32, t.ht.Len())
	for i := range t.head {
		t.head[i] = -1
	}
	t.next = make([]int32, n)
	t.rowKey = make([]int32, n)
	for i := range t.rowKey {
		t.rowKey[i] = -1
	}
	t.unique = t.ht.Len() == rows
	for k := rows - 1; k >= 0; k-- {
		r := int32(k)
		if rowOf != nil {
			r = rowOf[k]
		}
		id := ids[k]
		t.next[r] = t.head[id]
		t.head[id] = r
		t.rowKey[r] = id
	}
	return t
}

// HashJoin probes a build table with its Probe input.
// Output columns: ProbeOut columns of the probe, then (inner and left joins)
// BuildOut columns of the build side.
type HashJoin struct {
	Type        Type
	Probe       colexecop.Operator
	ProbeSchema types.Schema
	ProbeKeys   []*expr.Expr
	// Table returns the shared build table (broadcast joins). When nil, the
	// join drains Build itself (partitioned joins) and may spill.
	Table       func(ctx context.Context) *Table
	Build       colexecop.Operator
	BuildSchema types.Schema
	BuildKeys   []*expr.Expr
	// Residual is a predicate over ProbeSchema ++ BuildSchema that a pair must satisfy.
	Residual  *expr.Expr
	ProbeOut  []int
	BuildOut  []int
	BatchSize int
	Spill     *spill.Config
	// BuildLeft marks a join whose build side is the preserved side (the
	// left input of a semi, anti or left join, built because it is the
	// smaller one): probes mark build rows in Preserved, and the last probe
	// partition to finish emits the build rows the join keeps. Output
	// columns are then the build columns first.
	BuildLeft bool
	Preserved *Preserved

	ctx       context.Context
	table     *Table
	enc       *hashtable.KeyEncoder
	keyEvals  []eval.Evaluator
	residual  eval.Selector
	resProbe  []int // residual input columns taken from the probe
	resBuild  []int
	words     []uint64
	iota      []int32
	skip      []bool
	ids       []int32
	pending   []*coldata.Batch
	grace     *grace
	probeDone bool
}

// Init implements colexecop.Operator.
func (j *HashJoin) Init(ctx context.Context) {
	j.ctx = ctx
	if j.BatchSize <= 0 {
		j.BatchSize = coldata.DefaultBatchSize
	}
	j.Probe.Init(ctx)
	if j.Table != nil {
		j.table = j.Table(ctx)
	} else {
		j.Build.Init(ctx)
		j.table = j.drainBuild()
		if j.BuildLeft && j.grace == nil && j.Preserved == nil {
			// A partition of a partitioned join: its probe rows are all
			// the rows that can match its build rows, so it marks and
			// emits them alone.
			j.Preserved = NewPreserved(j.table, 1)
		}
	}
	if j.grace != nil {
		return
	}
	j.prepare()
}

func (j *HashJoin) prepare() {
	j.enc = j.table.enc.ForProbe()
	j.keyEvals = make([]eval.Evaluator, len(j.ProbeKeys))
	for i, k := range j.ProbeKeys {
		ev, err := eval.Compile(k, j.ProbeSchema)
		if err != nil {
			colexecop.Throw(err)
		}
		j.keyEvals[i] = ev
	}
	if j.Residual != nil {
		both := append(append(types.Schema{}, j.ProbeSchema...), j.table.Schema...)
		sel, err := eval.CompileFilter(j.Residual, both)
		if err != nil {
			colexecop.Throw(fmt.Errorf("join condition: %w", err))
		}
		j.residual = sel
		for _, c := range expr.Columns(j.Residual) {
			if i := j.ProbeSchema.Index(c); i >= 0 {
				j.resProbe = append(j.resProbe, i)
			}
		}
	}
}

func (j *HashJoin) drainBuild() *Table {
	var batches []*coldata.Batch
	var bytes int64
	for {
		colexecop.CheckCtx(j.ctx)
		b := j.Build.Next()
		if b.Len() == 0 {
			break
		}
		c := coldata.Compact(b)
		batches = append(batches, c)
		bytes += c.Bytes()
		if j.Spill != nil && bytes > j.Spill.Budget {
			j.startGrace(batches)
			return nil
		}
	}
	return BuildTable(j.BuildSchema, batches, j.BuildKeys)
}

// Next implements colexecop.Operator.
func (j *HashJoin) Next() *coldata.Batch {
	if j.grace != nil {
		return j.grace.next(j)
	}
	if j.BuildLeft {
		return j.nextPreserved()
	}
	for {
		if len(j.pending) > 0 {
			b := j.pending[0]
			j.pending = j.pending[1:]
			if b.Len() > 0 {
				return b
			}
			continue
		}
		if j.probeDone {
			return &coldata.Batch{}
		}
		colexecop.CheckCtx(j.ctx)
		b := j.Probe.Next()
		if b.Len() == 0 {
			j.probeDone = true
			continue
		}
		j.probeBatch(b)
	}
}

// lookup encodes the probe keys of b's live rows and finds their key ids.
func (j *HashJoin) lookup(b *coldata.Batch) (rows []int32, ids []int32) {
	rows = b.Sel
	if rows == nil {
		if cap(j.iota) < b.N {
			j.iota = coldata.Iota(max(b.N, j.BatchSize))
		}
		rows = j.iota[:b.N]
	}
	nr := len(rows)
	if cap(j.words) < nr*j.enc.W {
		j.words = make([]uint64, nr*j.enc.W)
		j.skip = make([]bool, nr)
		j.ids = make([]int32, nr)
	}
	if len(j.keyEvals) == 1 {
		v := j.keyEvals[0].Eval(b)
		if v.Nulls == nil && !v.Const && j.enc.W == 1 {
			switch v.Type.ID {
			case types.Int32, types.Date:
				j.table.ht.FindInt32(v.I32, b.Sel, b.N, j.ids[:nr])
				return rows, j.ids[:nr]
			case types.Int64, types.Decimal:
				j.table.ht.FindInt64(v.I64, b.Sel, b.N, j.ids[:nr])
				return rows, j.ids[:nr]
			}
		}
	}
	vecs := make([]*coldata.Vec, len(j.keyEvals))
	for i, ev := range j.keyEvals {
		vecs[i] = ev.Eval(b)
	}
	j.enc.Encode(vecs, b.Sel, b.N, false, true, j.words, j.skip[:nr])
	j.table.ht.Find(j.words, nr, j.skip[:nr], j.ids[:nr])
	return rows, j.ids[:nr]
}

func (j *HashJoin) probeBatch(b *coldata.Batch) {
	rows, ids := j.lookup(b)
	if j.table.unique {
		j.probeUnique(b, rows, ids)
		return
	}
	j.probeChains(b, rows, ids)
}

// probeUnique handles a build side with at most one row per key: build
// columns are gathered into vecs aligned with the probe batch, and the probe
// columns pass through untouched (late materialization).
func (j *HashJoin) probeUnique(b *coldata.Batch, rows, ids []int32) {
	matched := make([]int32, 0, len(rows))
	brow := make([]int32, b.N)
	for k, id := range ids {
		if id >= 0 {
			i := rows[k]
			matched = append(matched, i)
			brow[i] = j.table.head[id]
		}
	}
	if j.residual != nil && len(matched) > 0 {
		pair := &coldata.Batch{N: b.N, Sel: matched, Vecs: make([]*coldata.Vec, len(j.ProbeSchema)+len(j.table.Schema))}
		copy(pair.Vecs, b.Vecs)
		for _, c := range expr.Columns(j.Residual) {
			if i := j.table.Schema.Index(c); i >= 0 && j.ProbeSchema.Index(c) < 0 {
				pair.Vecs[len(j.ProbeSchema)+i] = gatherAligned(j.table.Data.Vecs[i], b.N, matched, brow)
			}
		}
		matched = append([]int32(nil), j.residual.Select(pair, matched)...)
	}
	switch j.Type {
	case Semi:
		j.emitProbe(b, matched)
	case Anti:
		j.emitProbe(b, minus(rows, matched))
	case Inner:
		if len(matched) == 0 {
			return
		}
		if len(matched)*4 < b.N {
			// Few matches: a compact batch is cheaper than aligned vecs.
			bi := make([]int32, len(matched))
			for k, i := range matched {
				bi[k] = brow[i]
			}
			out := &coldata.Batch{N: len(matched)}
			for _, c := range j.ProbeOut {
				out.Vecs = append(out.Vecs, coldata.Gather(b.Vecs[c], matched))
			}
			for _, c := range j.BuildOut {
				out.Vecs = append(out.Vecs, coldata.Gather(j.table.Data.Vecs[c], bi))
			}
			j.pending = append(j.pending, out)
			return
		}
		out := j.probeCols(b, matched)
		for _, c := range j.BuildOut {
			out.Vecs = append(out.Vecs, gatherAligned(j.table.Data.Vecs[c], b.N, matched, brow))
		}
		j.pending = append(j.pending, out)
	case Left:
		out := j.probeCols(b, rows)
		unmatched := minus(rows, matched)
		for _, c := range j.BuildOut {
			v := gatherAligned(j.table.Data.Vecs[c], b.N, matched, brow)
			if len(unmatched) > 0 {
				nulls := make([]bool, b.N)
				if v.Nulls != nil {
					copy(nulls, v.Nulls)
				}
				for _, i := range unmatched {
					nulls[i] = true
				}
				v.Nulls = nulls
			}
			out.Vecs = append(out.Vecs, v)
		}
		j.pending = append(j.pending, out)
	}
}

func (j *HashJoin) probeCols(b *coldata.Batch, sel []int32) *coldata.Batch {
	out := &coldata.Batch{N: b.N, Sel: sel, Vecs: make([]*coldata.Vec, 0, len(j.ProbeOut)+len(j.BuildOut))}
	for _, c := range j.ProbeOut {
		out.Vecs = append(out.Vecs, b.Vecs[c])
	}
	return out
}

func (j *HashJoin) emitProbe(b *coldata.Batch, sel []int32) {
	if len(sel) == 0 {
		return
	}
	j.pending = append(j.pending, j.probeCols(b, sel))
}

// probeChains handles build sides with duplicate keys by enumerating pairs.
func (j *HashJoin) probeChains(b *coldata.Batch, rows, ids []int32) {
	var matchedProbe []bool
	if j.Type != Inner {
		matchedProbe = make([]bool, b.N)
	}
	pIdx := make([]int32, 0, j.BatchSize)
	bIdx := make([]int32, 0, j.BatchSize)
	flush := func() {
		if len(pIdx) == 0 {
			return
		}
		keep := coldata.Iota(len(pIdx))
		if j.residual != nil {
			pair := &coldata.Batch{N: len(pIdx), Vecs: make([]*coldata.Vec, len(j.ProbeSchema)+len(j.table.Schema))}
			for _, c := range j.resProbe {
				pair.Vecs[c] = coldata.Gather(b.Vecs[c], pIdx)
			}
			for _, c := range expr.Columns(j.Residual) {
				if i := j.table.Schema.Index(c); i >= 0 && j.ProbeSchema.Index(c) < 0 {
					pair.Vecs[len(j.ProbeSchema)+i] = coldata.Gather(j.table.Data.Vecs[i], bIdx)
				}
			}
			keep = append([]int32(nil), j.residual.Select(pair, nil)...)
		}
		if j.Type == Inner || j.Type == Left {
			pi := make([]int32, len(keep))
			bi := make([]int32, len(keep))
			for k, x := range keep {
				pi[k], bi[k] = pIdx[x], bIdx[x]
			}
			if len(pi) > 0 {
				out := &coldata.Batch{N: len(pi)}
				for _, c := range j.ProbeOut {
					out.Vecs = append(out.Vecs, coldata.Gather(b.Vecs[c], pi))
				}
				for _, c := range j.BuildOut {
					out.Vecs = append(out.Vecs, coldata.Gather(j.table.Data.Vecs[c], bi))
				}
				j.pending = append(j.pending, out)
			}
		}
		if matchedProbe != nil {
			for _, x := range keep {
				matchedProbe[pIdx[x]] = true
			}
		}
		pIdx, bIdx = pIdx[:0], bIdx[:0]
	}
	for k, id := range ids {
		if id < 0 {
			continue
		}
		i := rows[k]
		if (j.Type == Semi || j.Type == Anti) && j.residual == nil {
			matchedProbe[i] = true
			continue
		}
		for r := j.table.head[id]; r >= 0; r = j.table.next[r] {
			if (j.Type == Semi || j.Type == Anti) && matchedProbe[i] {
				break
			}
			pIdx = append(pIdx, i)
			bIdx = append(bIdx, r)
			if len(pIdx) >= j.BatchSize {
				flush()
			}
		}
	}
	flush()
	switch j.Type {
	case Semi, Anti:
		var sel []int32
		for _, i := range rows {
			if matchedProbe[i] == (j.Type == Semi) {
				sel = append(sel, i)
			}
		}
		j.emitProbe(b, sel)
	case Left:
		var un []int32
		for _, i := range rows {
			if !matchedProbe[i] {
				un = append(un, i)
			}
		}
		if len(un) > 0 {
			out := &coldata.Batch{N: len(un)}
			for _, c := range j.ProbeOut {
				out.Vecs = append(out.Vecs, coldata.Gather(b.Vecs[c], un))
			}
			for _, c := range j.BuildOut {
				v := coldata.Gather(j.table.Data.Vecs[c], make([]int32, len(un)))
				if j.table.Data.N == 0 {
					v = coldata.NewVec(j.table.Schema[c].Type, len(un))
				}
				v.Nulls = make([]bool, len(un))
				for i := range v.Nulls {
					v.Nulls[i] = true
				}
				out.Vecs = append(out.Vecs, v)
			}
			j.pending = append(j.pending, out)
		}
	}
}

// gatherAligned returns a vec of length n whose row sel[k] holds src row
// idx[sel[k]]; other rows are zero.
func gatherAligned(src *coldata.Vec, n int, sel []int32, idx []int32) *coldata.Vec {
	out := &coldata.Vec{Type: src.Type, Dict: src.Dict}
	if src.Nulls != nil {
		out.Nulls = make([]bool, n)
		for _, i := range sel {
			out.Nulls[i] = src.Nulls[idx[i]]
		}
	}
	switch src.Type.ID {
	case types.Bool:
		out.Bool = make([]bool, n)
		for _, i := range sel {
			out.Bool[i] = src.Bool[idx[i]]
		}
	case types.Int32, types.Date:
		out.I32 = make([]int32, n)
		for _, i := range sel {
			out.I32[i] = src.I32[idx[i]]
		}
	case types.Int64, types.Decimal:
		out.I64 = make([]int64, n)
		for _, i := range sel {
			out.I64[i] = src.I64[idx[i]]
		}
	case types.Float64:
		out.F64 = make([]float64, n)
		for _, i := range sel {
			out.F64[i] = src.F64[idx[i]]
		}
	case types.String:
		if src.Dict != nil {
			out.I32 = make([]int32, n)
			for _, i := range sel {
				out.I32[i] = src.I32[idx[i]]
			}
			break
		}
		out.Str.Offs = make([]int32, n+1)
		k := 0
		for i := 0; i < n; i++ {
			if k < len(sel) && int(sel[k]) == i {
				out.Str.Data = append(out.Str.Data, src.Str.Get(int(idx[i]))...)
				k++
			}
			out.Str.Offs[i+1] = int32(len(out.Str.Data))
		}
	}
	return out
}

func minus(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)-len(b))
	k := 0
	for _, x := range a {
		for k < len(b) && b[k] < x {
			k++
		}
		if k < len(b) && b[k] == x {
			continue
		}
		out = append(out, x)
	}
	return out
}

// Close implements colexecop.Operator.
func (j *HashJoin) Close() error {
	err := j.Probe.Close()
	if j.Build != nil {
		if e := j.Build.Close(); err == nil {
			err = e
		}
	}
	if j.grace != nil {
		if e := j.grace.close(); err == nil {
			err = e
		}
	}
	return err
}
