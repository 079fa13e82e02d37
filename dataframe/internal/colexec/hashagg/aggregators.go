package hashagg

import (
	"bytes"
	"fmt"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashtable"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/sorter"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Func is an aggregate function.
type Func uint8

// Aggregate functions.
const (
	Sum Func = iota
	Count
	CountStar
	Min
	Max
	Avg
	CountDistinct
	SumDistinct
	AvgDistinct
	// Any keeps the value of one of a group's rows (the first non-null one
	// it meets): a column the group's keys determine carried through.
	Any
	// StringAgg joins a group's non-null strings (Args: value, delimiter,
	// then Spec.Order's keys); StringAggDistinct each (value, delimiter)
	// once. See stringAgg.
	StringAgg
	StringAggDistinct
)

var funcNames = [...]string{"sum", "count", "count_star", "min", "max", "avg", "count_distinct", "sum_distinct", "avg_distinct", "any_value",
	"string_agg", "string_agg_distinct"}

// SinglePhase reports whether f has no partial state to merge, so that a
// group's rows must come together: the distinct aggregates and string_agg
// (whose order is the order of all of the group's rows).
func (f Func) SinglePhase() bool { return f >= CountDistinct && f <= AvgDistinct || f >= StringAgg }

func (f Func) String() string { return funcNames[f] }

// Phase says what an aggregation consumes and produces.
type Phase uint8

// Phases of a two-phase aggregation.
const (
	// Single consumes raw rows and produces final values.
	Single Phase = iota
	// Partial consumes raw rows and produces mergeable states.
	Partial
	// Final consumes partial states and produces final values.
	Final
)

// Spec is one aggregate: its function, the input type of its argument and its result type.
type Spec struct {
	Func    Func
	InType  types.Type
	OutType types.Type
	// Order sorts the values of an ordered aggregate (StringAgg); each
	// key's Col is the index of its argument in Agg.Args.
	Order []sorter.Key `json:",omitempty"`
}

// StateTypes lists the columns a partial aggregation emits for s.
func (s Spec) StateTypes() []types.Type {
	switch s.Func {
	case Count, CountStar:
		return []types.Type{types.Int64Type}
	case Avg:
		return []types.Type{avgSumType(s.InType), types.Int64Type}
	case CountDistinct, SumDistinct, AvgDistinct, StringAgg, StringAggDistinct:
		panic(s.Func.String() + " has no partial state")
	}
	return []types.Type{s.OutType}
}

func avgSumType(in types.Type) types.Type {
	switch in.ID {
	case types.Float64:
		return types.Float64Type
	case types.Decimal:
		return in
	}
	return types.Int64Type
}

// aggregator keeps one aggregate's state per group.
type aggregator interface {
	resize(n int)
	// update folds rows into the groups gids[k] (row k is rows[k] of the input vecs).
	update(gids []int32, rows []int32, in []*coldata.Vec)
	// results returns the output columns for groups ids.
	results(ids []int32) []*coldata.Vec
	bytes() int64
}

func newAggregator(s Spec, ph Phase) aggregator {
	switch s.Func {
	case Sum:
		if ph == Final {
			if s.OutType.ID == types.Float64 {
				return &sumFloat{}
			}
			return &sumInt{t: s.OutType}
		}
		if s.InType.ID == types.Float64 {
			return &sumFloat{}
		}
		return &sumInt{t: s.OutType}
	case Count, CountStar:
		if ph == Final {
			return &sumInt{t: types.Int64Type, zero: true}
		}
		return &count{star: s.Func == CountStar}
	case Min, Max, Any:
		return newMinMax(s.OutType, s.Func)
	case Avg:
		return &avg{in: s.InType, merge: ph == Final, partial: ph == Partial}
	case CountDistinct:
		return &countDistinct{t: s.InType}
	case SumDistinct:
		inner := Spec{Func: Sum, InType: s.InType, OutType: s.OutType}
		return &countDistinct{t: s.InType, inner: newAggregator(inner, Single)}
	case AvgDistinct:
		inner := Spec{Func: Avg, InType: s.InType, OutType: s.OutType}
		return &countDistinct{t: s.InType, inner: newAggregator(inner, Single)}
	case StringAgg, StringAggDistinct:
		return &stringAgg{order: s.Order, distinct: s.Func == StringAggDistinct}
	}
	panic(fmt.Sprintf("unknown aggregate %d", s.Func))
}

func growTo[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	if cap(s) >= n {
		return s[:n]
	}
	out := make([]T, n, max(n, 2*cap(s)))
	copy(out, s)
	return out
}

type sumInt struct {
	t    types.Type
	s    []int64
	seen []bool
	zero bool // no input means 0, not null
}

func (a *sumInt) resize(n int) { a.s, a.seen = growTo(a.s, n), growTo(a.seen, n) }
func (a *sumInt) bytes() int64 { return int64(len(a.s)) * 9 }

func (a *sumInt) update(gids, rows []int32, in []*coldata.Vec) {
	v := in[0]
	s, seen := a.s, a.seen
	if v.Const {
		if v.IsNull(0) {
			return
		}
		var x int64
		if v.I64 != nil {
			x = v.I64[0]
		} else {
			x = int64(v.I32[0])
		}
		for _, g := range gids {
			s[g] += x
			seen[g] = true
		}
		return
	}
	if v.I64 != nil {
		vals := v.I64
		if v.Nulls == nil {
			for k, g := range gids {
				s[g] += vals[rows[k]]
				seen[g] = true
			}
			return
		}
		for k, g := range gids {
			if i := rows[k]; !v.Nulls[i] {
				s[g] += vals[i]
				seen[g] = true
			}
		}
		return
	}
	vals := v.I32
	for k, g := range gids {
		if i := rows[k]; v.Nulls == nil || !v.Nulls[i] {
			s[g] += int64(vals[i])
			seen[g] = true
		}
	}
}

func (a *sumInt) results(ids []int32) []*coldata.Vec {
	out := coldata.NewVec(a.t, len(ids))
	for r, g := range ids {
		out.I64[r] = a.s[g]
		if !a.seen[g] && !a.zero {
			if out.Nulls == nil {
				out.Nulls = make([]bool, len(ids))
			}
			out.Nulls[r] = true
		}
	}
	return []*coldata.Vec{out}
}

type sumFloat struct {
	s    []float64
	seen []bool
}

func (a *sumFloat) resize(n int) { a.s, a.seen = growTo(a.s, n), growTo(a.seen, n) }
func (a *sumFloat) bytes() int64 { return int64(len(a.s)) * 9 }

func (a *sumFloat) update(gids, rows []int32, in []*coldata.Vec) {
	v := in[0]
	for k, g := range gids {
		i := int(rows[k])
		if v.Const {
			i = 0
		}
		if v.Nulls == nil || !v.Nulls[i] {
			a.s[g] += v.F64[i]
			a.seen[g] = true
		}
	}
}

func (a *sumFloat) results(ids []int32) []*coldata.Vec {
	out := coldata.NewVec(types.Float64Type, len(ids))
	for r, g := range ids {
		out.F64[r] = a.s[g]
		if !a.seen[g] {
			if out.Nulls == nil {
				out.Nulls = make([]bool, len(ids))
			}
			out.Nulls[r] = true
		}
	}
	return []*coldata.Vec{out}
}

type count struct {
	star bool
	c    []int64
}

func (a *count) resize(n int) { a.c = growTo(a.c, n) }
func (a *count) bytes() int64 { return int64(len(a.c)) * 8 }

func (a *count) update(gids, rows []int32, in []*coldata.Vec) {
	c := a.c
	if a.star || in[0].Nulls == nil {
		for _, g := range gids {
			c[g]++
		}
		return
	}
	v := in[0]
	for k, g := range gids {
		if !v.IsNull(int(rows[k])) {
			c[g]++
		}
	}
}

func (a *count) results(ids []int32) []*coldata.Vec {
	out := coldata.NewVec(types.Int64Type, len(ids))
	for r, g := range ids {
		out.I64[r] = a.c[g]
	}
	return []*coldata.Vec{out}
}

type avg struct {
	in      types.Type
	merge   bool // inputs are (sum, count) states
	partial bool // output (sum, count) states
	si      []int64
	sf      []float64
	c       []int64
}

func (a *avg) resize(n int) {
	if a.in.ID == types.Float64 {
		a.sf = growTo(a.sf, n)
	} else {
		a.si = growTo(a.si, n)
	}
	a.c = growTo(a.c, n)
}
func (a *avg) bytes() int64 { return int64(len(a.c)) * 16 }

func (a *avg) update(gids, rows []int32, in []*coldata.Vec) {
	v := in[0]
	if !a.merge && v.Nulls == nil && !v.Const {
		switch {
		case v.I64 != nil:
			si, c, vals := a.si, a.c, v.I64
			for k, g := range gids {
				si[g] += vals[rows[k]]
				c[g]++
			}
			return
		case v.F64 != nil:
			sf, c, vals := a.sf, a.c, v.F64
			for k, g := range gids {
				sf[g] += vals[rows[k]]
				c[g]++
			}
			return
		}
	}
	flt := a.in.ID == types.Float64
	for k, g := range gids {
		i := int(rows[k])
		vi := i
		if v.Const {
			vi = 0
		}
		if v.IsNull(vi) {
			continue
		}
		switch {
		case flt:
			a.sf[g] += v.F64[vi]
		case v.I64 != nil:
			a.si[g] += v.I64[vi]
		default:
			a.si[g] += int64(v.I32[vi])
		}
		if a.merge {
			a.c[g] += in[1].I64[i]
		} else {
			a.c[g]++
		}
	}
}

func (a *avg) results(ids []int32) []*coldata.Vec {
	if a.partial {
		st := avgSumType(a.in)
		s := coldata.NewVec(st, len(ids))
		c := coldata.NewVec(types.Int64Type, len(ids))
		for r, g := range ids {
			if st.ID == types.Float64 {
				s.F64[r] = a.sf[g]
			} else {
				s.I64[r] = a.si[g]
			}
			c.I64[r] = a.c[g]
		}
		return []*coldata.Vec{s, c}
	}
	out := coldata.NewVec(types.Float64Type, len(ids))
	div := 1.0
	if a.in.ID == types.Decimal {
		div = float64(types.Pow10[a.in.Scale])
	}
	for r, g := range ids {
		if a.c[g] == 0 {
			if out.Nulls == nil {
				out.Nulls = make([]bool, len(ids))
			}
			out.Nulls[r] = true
			continue
		}
		if a.in.ID == types.Float64 {
			out.F64[r] = a.sf[g] / float64(a.c[g])
		} else {
			out.F64[r] = float64(a.si[g]) / div / float64(a.c[g])
		}
	}
	return []*coldata.Vec{out}
}

type minMaxNum[T int32 | int64 | float64] struct {
	t     types.Type
	isMax bool
	any   bool // keep the first value
	v     []T
	seen  []bool
	get   func(*coldata.Vec) []T
}

func (a *minMaxNum[T]) resize(n int) { a.v, a.seen = growTo(a.v, n), growTo(a.seen, n) }
func (a *minMaxNum[T]) bytes() int64 { return int64(len(a.v)) * 9 }

func (a *minMaxNum[T]) update(gids, rows []int32, in []*coldata.Vec) {
	v := in[0]
	vals := a.get(v)
	for k, g := range gids {
		i := int(rows[k])
		if v.Const {
			i = 0
		}
		if v.IsNull(i) {
			continue
		}
		x := vals[i]
		if !a.seen[g] || (a.isMax && x > a.v[g]) || (!a.isMax && !a.any && x < a.v[g]) {
			a.v[g] = x
			a.seen[g] = true
		}
	}
}

func (a *minMaxNum[T]) results(ids []int32) []*coldata.Vec {
	out := coldata.NewVec(a.t, len(ids))
	vals := a.get(out)
	for r, g := range ids {
		vals[r] = a.v[g]
		if !a.seen[g] {
			if out.Nulls == nil {
				out.Nulls = make([]bool, len(ids))
			}
			out.Nulls[r] = true
		}
	}
	return []*coldata.Vec{out}
}

type minMaxStr struct {
	isMax bool
	any   bool // keep the first value
	v     [][]byte
	seen  []bool
}

func (a *minMaxStr) resize(n int) { a.v, a.seen = growTo(a.v, n), growTo(a.seen, n) }
func (a *minMaxStr) bytes() int64 { return int64(len(a.v)) * 40 }

func (a *minMaxStr) update(gids, rows []int32, in []*coldata.Vec) {
	v := in[0]
	for k, g := range gids {
		i := int(rows[k])
		if v.IsNull(i) {
			continue
		}
		if a.seen[g] && a.any {
			continue
		}
		x := v.Bytes(i)
		if !a.seen[g] {
			a.v[g], a.seen[g] = append([]byte(nil), x...), true
			continue
		}
		c := bytes.Compare(x, a.v[g])
		if (a.isMax && c > 0) || (!a.isMax && c < 0) {
			a.v[g] = append(a.v[g][:0], x...)
		}
	}
}

func (a *minMaxStr) results(ids []int32) []*coldata.Vec {
	out := &coldata.Vec{Type: types.StringType, Str: coldata.Strings{Offs: []int32{0}}}
	for r, g := range ids {
		if !a.seen[g] {
			if out.Nulls == nil {
				out.Nulls = make([]bool, len(ids))
			}
			out.Nulls[r] = true
		}
		out.Str.Append(a.v[g])
	}
	return []*coldata.Vec{out}
}

// anyBool is any_value of a boolean.
type anyBool struct {
	v, seen []bool
}

func (a *anyBool) resize(n int) { a.v, a.seen = growTo(a.v, n), growTo(a.seen, n) }
func (a *anyBool) bytes() int64 { return int64(len(a.v)) * 2 }

func (a *anyBool) update(gids, rows []int32, in []*coldata.Vec) {
	v := in[0]
	for k, g := range gids {
		i := int(rows[k])
		if v.Const {
			i = 0
		}
		if a.seen[g] || v.IsNull(i) {
			continue
		}
		a.v[g], a.seen[g] = v.Bool[i], true
	}
}

func (a *anyBool) results(ids []int32) []*coldata.Vec {
	out := coldata.NewVec(types.BoolType, len(ids))
	for r, g := range ids {
		out.Bool[r] = a.v[g]
		if !a.seen[g] {
			if out.Nulls == nil {
				out.Nulls = make([]bool, len(ids))
			}
			out.Nulls[r] = true
		}
	}
	return []*coldata.Vec{out}
}

func newMinMax(t types.Type, f Func) aggregator {
	isMax, any := f == Max, f == Any
	switch t.ID {
	case types.Int32, types.Date:
		return &minMaxNum[int32]{t: t, isMax: isMax, any: any, get: func(v *coldata.Vec) []int32 { return v.I32 }}
	case types.Int64, types.Decimal:
		return &minMaxNum[int64]{t: t, isMax: isMax, any: any, get: func(v *coldata.Vec) []int64 { return v.I64 }}
	case types.Float64:
		return &minMaxNum[float64]{t: t, isMax: isMax, any: any, get: func(v *coldata.Vec) []float64 { return v.F64 }}
	case types.String:
		return &minMaxStr{isMax: isMax, any: any}
	case types.Bool:
		if any {
			return &anyBool{}
		}
	}
	panic(fmt.Sprintf("min/max of %s", t))
}

// countDistinct counts distinct non-null values per group with a set keyed by
// (group id, value).
// countDistinct counts each group's distinct values or, with inner, feeds
// inner (a sum or an average) each group's distinct values once.
type countDistinct struct {
	t     types.Type
	inner aggregator
	c     []int64
	enc   *hashtable.KeyEncoder
	set   *hashtable.Table
	keys  []uint64
	ids   []int32
	gvec  coldata.Vec
}

func (a *countDistinct) resize(n int) {
	a.c = growTo(a.c, n)
	if a.inner != nil {
		a.inner.resize(n)
	}
}
func (a *countDistinct) bytes() int64 {
	if a.set == nil {
		return 0
	}
	return int64(len(a.c))*8 + a.set.Bytes()
}

func (a *countDistinct) update(gids, rows []int32, in []*coldata.Vec) {
	if a.enc == nil {
		a.enc = hashtable.NewKeyEncoder([]types.Type{types.Int32Type, a.t}, []bool{false, false})
		a.set = hashtable.NewTable(a.enc.W, 1024)
	}
	v := in[0]
	// Drop null values, then encode (gid, value).
	live := make([]int32, 0, len(rows))
	lg := make([]int32, 0, len(rows))
	for k, i := range rows {
		if !v.IsNull(int(i)) {
			live = append(live, i)
			lg = append(lg, gids[k])
		}
	}
	n := len(live)
	if n == 0 {
		return
	}
	// Build a gid vec aligned with the value vec's rows.
	maxRow := 0
	for _, i := range live {
		maxRow = max(maxRow, int(i))
	}
	a.gvec.Type = types.Int32Type
	a.gvec.I32 = growTo(a.gvec.I32[:0], maxRow+1)
	for k, i := range live {
		a.gvec.I32[i] = lg[k]
	}
	W := a.enc.W
	a.keys = growTo(a.keys, n*W)
	a.ids = growTo(a.ids, n)
	a.enc.Encode([]*coldata.Vec{&a.gvec, v}, live, 0, true, false, a.keys, nil)
	before := a.set.Len()
	a.set.FindOrInsert(a.keys, n, a.ids)
	if a.set.Len() == before {
		return
	}
	next := int32(before)
	var newGids, newRows []int32
	for k, id := range a.ids[:n] {
		if id == next { // first row carrying a new (group, value) key
			a.c[lg[k]]++
			next++
			if a.inner != nil {
				newGids, newRows = append(newGids, lg[k]), append(newRows, live[k])
			}
		}
	}
	if a.inner != nil && len(newRows) > 0 {
		a.inner.update(newGids, newRows, in)
	}
}

func (a *countDistinct) results(ids []int32) []*coldata.Vec {
	if a.inner != nil {
		return a.inner.results(ids)
	}
	out := coldata.NewVec(types.Int64Type, len(ids))
	for r, g := range ids {
		out.I64[r] = a.c[g]
	}
	return []*coldata.Vec{out}
}
