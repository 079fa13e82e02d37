package physical

import (
	"fmt"

	"github.com/shoal-dev/shoal/dataframe/internal/colexec/sorter"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/window"
	"github.com/shoal-dev/shoal/dataframe/internal/exchange"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/plan"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// window plans a window: its input hash-partitioned on the partition keys
// (every partition of the window in one partition of the stage; one
// partition when there are no keys), sorted on the keys then the order,
// and the window operator over it. Keys and arguments that are not
// columns are computed by a projection first and dropped after.
func (b *builder) window(x *plan.Window) (*Op, int) {
	in, parts := b.op(x.Input)
	s := x.Input.Schema()
	var extra []*expr.Expr
	colOf := func(e *expr.Expr) int {
		u := e.Unalias()
		if u.Op == expr.OpCol {
			if i := s.Index(u.Name); i >= 0 {
				return i
			}
		}
		for k, c := range extra {
			if c.Unalias().String() == u.String() {
				return len(s) + k
			}
		}
		c := expr.Alias(u, fmt.Sprintf("__wkey%d", len(extra)))
		c.T, c.Nullable = u.T, u.Nullable
		extra = append(extra, c)
		return len(s) + len(extra) - 1
	}
	spec := &window.Spec{Frame: x.Frame}
	var sortKeys []sorter.Key
	for _, k := range x.PartitionBy {
		c := colOf(k)
		spec.Partition = append(spec.Partition, c)
		sortKeys = append(sortKeys, sorter.Key{Col: c})
	}
	for _, k := range x.OrderBy {
		key := sorter.Key{Col: colOf(k.Expr), Desc: k.Desc, NullsFirst: k.NullsFirst}
		spec.Order = append(spec.Order, key)
		sortKeys = append(sortKeys, key)
	}
	for _, f := range x.Funcs {
		u := f.Unalias()
		kind, ok := window.KindOf(u.Op)
		if !ok {
			panic(fmt.Sprintf("%s cannot be computed over a window", u))
		}
		wf := window.Func{Kind: kind, Arg: -1, Default: -1, Offset: u.N1, Type: u.T}
		if len(u.Args) > 0 {
			wf.Arg = colOf(u.Args[0])
		}
		if len(u.Args) > 1 {
			wf.Default = colOf(u.Args[1])
		}
		spec.Funcs = append(spec.Funcs, wf)
	}
	if len(extra) > 0 {
		pre := append(colRefs(s, 0, len(s)), extra...)
		in = &Op{Kind: KindProject, Schema: projSchema(pre), Input: in, Exprs: pre}
	}
	ws := in.Schema
	if parts > 1 {
		out := exchange.Spec{Kind: exchange.Single, Partitions: 1}
		if len(spec.Partition) > 0 {
			var keys []*expr.Expr
			for _, c := range spec.Partition {
				keys = append(keys, colRefs(ws, c, c+1)...)
			}
			out = exchange.Spec{Kind: exchange.Hash, Keys: keys, Partitions: b.opts.Partitions}
		}
		id := b.cut(in, parts, out)
		in, parts = read(id, ws), out.Partitions
	}
	if len(sortKeys) > 0 {
		in = &Op{Kind: KindSort, Schema: ws, Input: in, SortKeys: sortKeys}
	}
	outSchema := append(types.Schema{}, ws...)
	for _, f := range x.Funcs {
		outSchema = append(outSchema, types.Field{Name: f.OutputName(), Type: f.T, Nullable: f.Nullable})
	}
	op := &Op{Kind: KindWindow, Schema: outSchema, Input: in, Window: spec}
	if len(extra) > 0 {
		post := append(colRefs(outSchema, 0, len(s)), colRefs(outSchema, len(ws), len(outSchema))...)
		op = &Op{Kind: KindProject, Schema: x.Schema(), Input: op, Exprs: post}
	}
	return op, parts
}
