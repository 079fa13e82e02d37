package hashjoin

import (
	"sync/atomic"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
)

// Preserved is the state shared by the probes of a join whose build side is
// the preserved side: which build rows (or keys) found a match, and how many
// probe partitions are still running.
type Preserved struct {
	rows      []atomic.Uint32
	keys      []atomic.Uint32
	remaining atomic.Int32
}

// NewPreserved prepares the shared state of table t probed by partitions probes.
func NewPreserved(t *Table, partitions int) *Preserved {
	p := &Preserved{rows: make([]atomic.Uint32, t.Data.N), keys: make([]atomic.Uint32, len(t.head))}
	p.remaining.Store(int32(partitions))
	return p
}

func (p *Preserved) matched(t *Table, r int) bool {
	if p.rows[r].Load() != 0 {
		return true
	}
	k := t.rowKey[r]
	return k >= 0 && p.keys[k].Load() != 0
}

func (j *HashJoin) nextPreserved() *coldata.Batch {
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
		b := j.Probe.Next()
		if b.Len() == 0 {
			j.probeDone = true
			if j.Preserved.remaining.Add(-1) == 0 {
				j.emitPreserved()
			}
			continue
		}
		j.probePreserved(b)
	}
}

// probePreserved marks the build rows that match rows of probe batch b (and,
// for left joins, emits the matching pairs).
func (j *HashJoin) probePreserved(b *coldata.Batch) {
	rows, ids := j.lookup(b)
	p, t := j.Preserved, j.table
	if j.residual == nil && j.Type != Left {
		for _, id := range ids {
			if id >= 0 && p.keys[id].Load() == 0 {
				p.keys[id].Store(1)
			}
		}
		return
	}
	pIdx := make([]int32, 0, j.BatchSize)
	bIdx := make([]int32, 0, j.BatchSize)
	flush := func() {
		if len(pIdx) == 0 {
			return
		}
		keep := coldata.Iota(len(pIdx))
		if j.residual != nil {
			pair := &coldata.Batch{N: len(pIdx), Vecs: make([]*coldata.Vec, len(j.ProbeSchema)+len(t.Schema))}
			for _, c := range j.resProbe {
				pair.Vecs[c] = coldata.Gather(b.Vecs[c], pIdx)
			}
			for _, c := range expr.Columns(j.Residual) {
				if i := t.Schema.Index(c); i >= 0 && j.ProbeSchema.Index(c) < 0 {
					pair.Vecs[len(j.ProbeSchema)+i] = coldata.Gather(t.Data.Vecs[i], bIdx)
				}
			}
			keep = append([]int32(nil), j.residual.Select(pair, nil)...)
		}
		var pi, bi []int32
		for _, x := range keep {
			r := bIdx[x]
			if p.rows[r].Load() == 0 {
				p.rows[r].Store(1)
			}
			if j.Type == Left {
				pi, bi = append(pi, pIdx[x]), append(bi, r)
			}
		}
		if len(pi) > 0 {
			out := &coldata.Batch{N: len(pi)}
			for _, c := range j.BuildOut {
				out.Vecs = append(out.Vecs, coldata.Gather(t.Data.Vecs[c], bi))
			}
			for _, c := range j.ProbeOut {
				out.Vecs = append(out.Vecs, coldata.Gather(b.Vecs[c], pi))
			}
			j.pending = append(j.pending, out)
		}
		pIdx, bIdx = pIdx[:0], bIdx[:0]
	}
	for k, id := range ids {
		if id < 0 {
			continue
		}
		i := rows[k]
		for r := t.head[id]; r >= 0; r = t.next[r] {
			if j.Type != Left && p.rows[r].Load() != 0 {
				continue // already known to match
			}
			pIdx = append(pIdx, i)
			bIdx = append(bIdx, r)
			if len(pIdx) >= j.BatchSize {
				flush()
			}
		}
	}
	flush()
}

// emitPreserved outputs, once all probes are done, the build rows the join
// keeps: matched ones (semi), unmatched ones (anti, and left with nulls).
func (j *HashJoin) emitPreserved() {
	t, p := j.table, j.Preserved
	var sel []int32
	flush := func() {
		if len(sel) == 0 {
			return
		}
		out := &coldata.Batch{N: len(sel)}
		for _, c := range j.BuildOut {
			out.Vecs = append(out.Vecs, coldata.Gather(t.Data.Vecs[c], sel))
		}
		if j.Type == Left {
			for _, c := range j.ProbeOut {
				v := coldata.NewVec(j.ProbeSchema[c].Type, len(sel))
				v.Nulls = make([]bool, len(sel))
				for i := range v.Nulls {
					v.Nulls[i] = true
				}
				out.Vecs = append(out.Vecs, v)
			}
		}
		j.pending = append(j.pending, out)
		sel = nil
	}
	for r := 0; r < t.Data.N; r++ {
		if p.matched(t, r) == (j.Type == Semi) {
			sel = append(sel, int32(r))
			if len(sel) >= j.BatchSize {
				flush()
			}
		}
	}
	flush()
}
