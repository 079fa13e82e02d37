package hashagg

import (
	"bytes"
	"slices"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/sorter"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// stringAgg is string_agg(value, delimiter [ORDER BY keys]): it keeps
// every row with a non-null value (its value, delimiter and keys, in
// columns) and a list of each group's rows, and joins a group's values
// when the group is emitted, sorted by the keys (stably: rows with equal
// keys keep the order they came in). Each value follows its own row's
// delimiter, the first one's dropped, a null delimiter being empty
// (PostgreSQL's string_agg_transfn); a group without values is null.
// With distinct, each (value, delimiter) counts once.
type stringAgg struct {
	order    []sorter.Key
	distinct bool
	cols     []*coldata.Builder // value, delimiter, keys…
	first    []int32            // per group: its first row, -1 for none
	last     []int32            // per group: its last row
	next     []int32            // per row: the group's next row, -1 at the end
	scratch  []int32
}

func (a *stringAgg) resize(n int) {
	for len(a.first) < n {
		a.first = append(a.first, -1)
		a.last = append(a.last, -1)
	}
}

func (a *stringAgg) bytes() int64 {
	n := int64(len(a.first))*8 + int64(len(a.next))*4
	for _, c := range a.cols {
		n += c.V.Bytes64()
	}
	return n
}

func (a *stringAgg) update(gids, rows []int32, in []*coldata.Vec) {
	if a.cols == nil {
		for _, v := range in {
			a.cols = append(a.cols, coldata.NewBuilder(v.Type, nil))
		}
	}
	var keep []int32
	for k, i := range rows {
		if in[0].IsNull(int(i)) {
			continue
		}
		keep = append(keep, i)
		g, r := gids[k], int32(len(a.next))
		a.next = append(a.next, -1)
		if a.first[g] < 0 {
			a.first[g] = r
		} else {
			a.next[a.last[g]] = r
		}
		a.last[g] = r
	}
	if len(keep) == 0 {
		return
	}
	for c, v := range in {
		a.cols[c].Append(v, keep, 0)
	}
}

func (a *stringAgg) results(ids []int32) []*coldata.Vec {
	out := &coldata.Vec{Type: types.StringType, Str: coldata.Strings{Offs: []int32{0}}}
	all := &coldata.Batch{Vecs: make([]*coldata.Vec, len(a.cols))}
	for c, b := range a.cols {
		all.Vecs[c] = b.V
	}
	var joined []byte
	for r, g := range ids {
		if a.first[g] < 0 {
			if out.Nulls == nil {
				out.Nulls = make([]bool, len(ids))
			}
			out.Nulls[r] = true
			out.Str.Append(nil)
			continue
		}
		joined = a.join(joined[:0], all, a.groupRows(g, all))
		out.Str.Append(joined)
	}
	return []*coldata.Vec{out}
}

// groupRows lists group g's rows (of all) in the order they are joined.
func (a *stringAgg) groupRows(g int32, all *coldata.Batch) []int32 {
	rows := a.scratch[:0]
	for r := a.first[g]; r >= 0; r = a.next[r] {
		rows = append(rows, r)
	}
	a.scratch = rows
	keys := a.order
	if a.distinct {
		// Equal (value, delimiter) pairs side by side, after the keys.
		keys = append(slices.Clip(keys), sorter.Key{Col: 0}, sorter.Key{Col: 1})
	}
	if len(keys) > 0 && len(rows) > 1 {
		slices.SortStableFunc(rows, func(x, y int32) int { return sorter.CompareRows(keys, all, int(x), all, int(y)) })
	}
	return rows
}

// join appends the values of rows, each after its delimiter but the first.
func (a *stringAgg) join(dst []byte, all *coldata.Batch, rows []int32) []byte {
	vals, delims := all.Vecs[0], all.Vecs[1]
	for k, r := range rows {
		i := int(r)
		if a.distinct && k > 0 {
			p := int(rows[k-1])
			if bytes.Equal(vals.Bytes(i), vals.Bytes(p)) && delims.IsNull(i) == delims.IsNull(p) && bytes.Equal(delims.Bytes(i), delims.Bytes(p)) {
				continue
			}
		}
		if k > 0 && !delims.IsNull(i) {
			dst = append(dst, delims.Bytes(i)...)
		}
		dst = append(dst, vals.Bytes(i)...)
	}
	return dst
}
