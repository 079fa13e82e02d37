package hashjoin

import (
	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashtable"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/spill"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

const (
	graceFanout   = 16
	maxGraceLevel = 4
)

// grace is the state of a join whose build side did not fit its budget: both
// sides are partitioned to disk by key hash and joined one partition at a time.
type grace struct {
	build, probe *spill.Partitions
	part         int
	sub          *HashJoin
	pending      []*coldata.Batch
}

func partitionKeys(enc *hashtable.KeyEncoder, evs []eval.Evaluator, b *coldata.Batch, insert bool, level int) (parts []int32, unmatchable []bool) {
	rows := b.Len()
	vecs := make([]*coldata.Vec, len(evs))
	for i, ev := range evs {
		vecs[i] = ev.Eval(b)
	}
	W := enc.W
	words := make([]uint64, rows*W)
	unmatchable = make([]bool, rows)
	enc.Encode(vecs, b.Sel, b.N, insert, true, words, unmatchable)
	parts = make([]int32, rows)
	for r := range parts {
		parts[r] = spill.PartitionOf(hashtable.HashRow(words, W, r), level, graceFanout)
	}
	return parts, unmatchable
}

func compileAll(es []*expr.Expr, s types.Schema) []eval.Evaluator {
	out := make([]eval.Evaluator, len(es))
	for i, e := range es {
		ev, err := eval.Compile(e, s)
		if err != nil {
			colexecop.Throw(err)
		}
		out[i] = ev
	}
	return out
}

func (j *HashJoin) startGrace(buffered []*coldata.Batch) {
	j.Spill.Notify("hash join")
	g := &grace{}
	j.grace = g
	var err error
	if g.build, err = spill.NewPartitions(j.Spill, j.BuildSchema, graceFanout); err != nil {
		colexecop.Throw(err)
	}
	if g.probe, err = spill.NewPartitions(j.Spill, j.ProbeSchema, graceFanout); err != nil {
		colexecop.Throw(err)
	}
	ts := make([]types.Type, len(j.BuildKeys))
	nullable := make([]bool, len(j.BuildKeys))
	for i, k := range j.BuildKeys {
		ts[i], nullable[i] = k.T, k.Nullable
	}
	enc := hashtable.NewKeyEncoder(ts, nullable)
	bev := compileAll(j.BuildKeys, j.BuildSchema)
	level := j.Spill.Level
	addBuild := func(b *coldata.Batch) {
		parts, skip := partitionKeys(enc, bev, b, true, level)
		rows := b.Sel
		if rows == nil {
			rows = coldata.Iota(b.N)
		}
		// Rows with null keys never match: drop them from the build side.
		var keep, kp []int32
		for k, i := range rows {
			if !skip[k] {
				keep = append(keep, i)
				kp = append(kp, parts[k])
			}
		}
		g.build.Add(&coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: keep}, kp)
	}
	for _, b := range buffered {
		addBuild(b)
	}
	for {
		colexecop.CheckCtx(j.ctx)
		b := j.Build.Next()
		if b.Len() == 0 {
			break
		}
		addBuild(b)
	}
	pev := compileAll(j.ProbeKeys, j.ProbeSchema)
	for {
		colexecop.CheckCtx(j.ctx)
		b := j.Probe.Next()
		if b.Len() == 0 {
			break
		}
		parts, skip := partitionKeys(enc, pev, b, false, level)
		rows := b.Sel
		if rows == nil {
			rows = coldata.Iota(b.N)
		}
		var keep, kp, lost []int32
		for k, i := range rows {
			if skip[k] {
				lost = append(lost, i)
				continue
			}
			keep = append(keep, i)
			kp = append(kp, parts[k])
		}
		g.probe.Add(&coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: keep}, kp)
		if len(lost) > 0 && (j.Type == Left || j.Type == Anti) {
			g.pending = append(g.pending, j.unmatchedRows(coldata.Compact(&coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: lost})))
		}
	}
}

// unmatchedRows is the output for probe rows that cannot match (left: nulls on
// the build side; anti: the probe row).
func (j *HashJoin) unmatchedRows(b *coldata.Batch) *coldata.Batch {
	out := &coldata.Batch{N: b.N}
	for _, c := range j.ProbeOut {
		out.Vecs = append(out.Vecs, b.Vecs[c])
	}
	if j.Type == Left {
		for _, c := range j.BuildOut {
			v := coldata.NewVec(j.BuildSchema[c].Type, b.N)
			v.Nulls = make([]bool, b.N)
			for i := range v.Nulls {
				v.Nulls[i] = true
			}
			out.Vecs = append(out.Vecs, v)
		}
	}
	return out
}

func (g *grace) next(j *HashJoin) *coldata.Batch {
	for {
		if len(g.pending) > 0 {
			b := g.pending[0]
			g.pending = g.pending[1:]
			return b
		}
		if g.sub != nil {
			if b := g.sub.Next(); b.Len() > 0 {
				return b
			}
			if err := g.sub.Close(); err != nil {
				colexecop.Throw(err)
			}
			g.sub = nil
			g.part++
		}
		if g.part >= graceFanout {
			return &coldata.Batch{}
		}
		pf := g.probe.Files[g.part]
		if pf.Rows() == 0 {
			g.part++
			continue
		}
		cfg := j.Spill.Deeper()
		if cfg.Level > maxGraceLevel {
			cfg = nil // skewed keys: join this partition in memory
		}
		g.sub = &HashJoin{Type: j.Type, Probe: pf.Reader(), ProbeSchema: j.ProbeSchema, ProbeKeys: j.ProbeKeys,
			Build: g.build.Files[g.part].Reader(), BuildSchema: j.BuildSchema, BuildKeys: j.BuildKeys,
			Residual: j.Residual, ProbeOut: j.ProbeOut, BuildOut: j.BuildOut, BatchSize: j.BatchSize, Spill: cfg}
		g.sub.Init(j.ctx)
	}
}

func (g *grace) close() error {
	err := g.build.Close()
	if e := g.probe.Close(); err == nil {
		err = e
	}
	return err
}
