package eval

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
	"unsafe"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Selector filters a batch: given the live rows (sel, or all b.N rows when nil)
// it returns the subset for which the predicate is true (not false, not null).
// The returned slice is owned by the selector and valid until its next call.
type Selector interface {
	Select(b *coldata.Batch, sel []int32) []int32
}

// CompileFilter builds a selector for a resolved boolean expression over s.
func CompileFilter(e *expr.Expr, s types.Schema) (sl Selector, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("compiling filter %s: %v", e, r)
		}
	}()
	if e.T.ID != types.Bool {
		return nil, fmt.Errorf("%w: filter %s is %s, not bool", expr.ErrTypeMismatch, e, e.T)
	}
	return compileSelector(e, s)
}

func compileSelector(e *expr.Expr, s types.Schema) (Selector, error) {
	e = e.Unalias()
	switch e.Op {
	case expr.OpAnd:
		a, err := compileSelector(e.Args[0], s)
		if err != nil {
			return nil, err
		}
		b, err := compileSelector(e.Args[1], s)
		if err != nil {
			return nil, err
		}
		return &andSel{a: a, b: b}, nil
	case expr.OpOr:
		a, err := compileSelector(e.Args[0], s)
		if err != nil {
			return nil, err
		}
		b, err := compileSelector(e.Args[1], s)
		if err != nil {
			return nil, err
		}
		return &orSel{a: a, b: b}, nil
	case expr.OpNot:
		if !e.Args[0].Nullable {
			a, err := compileSelector(e.Args[0], s)
			if err != nil {
				return nil, err
			}
			return &notSel{a: a}, nil
		}
	case expr.OpLit:
		if e.Val.T.ID == types.Bool {
			return &constSel{v: !e.Val.Null && e.Val.B}, nil
		}
	case expr.OpEq, expr.OpNe, expr.OpLt, expr.OpLe, expr.OpGt, expr.OpGe:
		a, b := e.Args[0], e.Args[1]
		op := toCmp(e.Op)
		if a.Op == expr.OpLit && b.Op != expr.OpLit {
			a, b = b, a
			op = op.mirror()
		}
		if a.T.ID == types.Bool {
			break // a boolean column of the comparison's values (compile)
		}
		ea, err := compile(a, s)
		if err != nil {
			return nil, err
		}
		if a.T.ID == types.String {
			eb, err := compile(b, s)
			if err != nil {
				return nil, err
			}
			if b.Op == expr.OpLit {
				lit := []byte(b.Val.S)
				return &strPredSel{a: ea, pred: func(x []byte) bool { return cmpResult(op, bytes.Compare(x, lit)) }}, nil
			}
			return &strCmpSel{op: op, a: ea, b: eb}, nil
		}
		eb, err := compile(b, s)
		if err != nil {
			return nil, err
		}
		return &cmpSel{op: op, t: a.T, a: ea, b: eb}, nil
	case expr.OpIn:
		ea, err := compile(e.Args[0], s)
		if err != nil {
			return nil, err
		}
		return newInSel(ea, e.Args[0].T, e.List), nil
	case expr.OpLike, expr.OpNotLike, expr.OpILike, expr.OpNotILike:
		ea, err := compile(e.Args[0], s)
		if err != nil {
			return nil, err
		}
		m := CompileLike(e.Pattern, e.Op == expr.OpILike || e.Op == expr.OpNotILike)
		if e.Op == expr.OpNotLike || e.Op == expr.OpNotILike {
			return &strPredSel{a: ea, pred: func(x []byte) bool { return !m(x) }}, nil
		}
		return &strPredSel{a: ea, pred: m}, nil
	case expr.OpRegexLike:
		re, err := constantRegex(e)
		if err != nil || re == nil {
			break // (a pattern that varies is matched row by row: compile)
		}
		ea, err := compile(e.Args[0], s)
		if err != nil {
			return nil, err
		}
		return &strPredSel{a: ea, pred: re.Re.Match}, nil
	}
	ev, err := compile(e, s)
	if err != nil {
		return nil, err
	}
	return &boolSel{a: ev}, nil
}

// selRoom returns out with room for n more rows, and that room, for the
// selection kernels (Sel*): they write every row's index into the room and
// advance past it only where the row is kept, so that the data decides no
// branch. On random data (dbgen's) a branch on each row mispredicts about
// as often as the rows kept and dropped alternate: BenchmarkSelect measured
// 5.2 ns a row with half of them kept, against 0.54 ns branch-free, and
// about the same either way (0.5 ns) when all or none are kept.
func selRoom(out []int32, n int) ([]int32, []int32) {
	out = slices.Grow(out, n)
	return out, out[len(out) : len(out)+n]
}

func cmpResult(op cmpOp, c int) bool {
	switch op {
	case cmpEq:
		return c == 0
	case cmpNe:
		return c != 0
	case cmpLt:
		return c < 0
	case cmpLe:
		return c <= 0
	case cmpGt:
		return c > 0
	}
	return c >= 0
}

// dropNulls removes rows whose value in v is null.
func dropNulls(sel []int32, vs ...*coldata.Vec) []int32 {
	for _, v := range vs {
		if v.Nulls == nil {
			continue
		}
		if v.Const {
			if v.Nulls[0] {
				return sel[:0]
			}
			continue
		}
		k := 0
		for _, i := range sel {
			if !v.Nulls[i] {
				sel[k] = i
				k++
			}
		}
		sel = sel[:k]
	}
	return sel
}

type constSel struct {
	v   bool
	buf []int32
}

func (c *constSel) Select(b *coldata.Batch, sel []int32) []int32 {
	if !c.v {
		return c.buf[:0]
	}
	if sel != nil {
		return sel
	}
	if cap(c.buf) < b.N {
		c.buf = coldata.Iota(b.N)
	}
	return c.buf[:b.N]
}

type boolSel struct {
	a   Evaluator
	buf []int32
}

func (s *boolSel) Select(b *coldata.Batch, sel []int32) []int32 {
	sub := b
	if !sameSel(b.Sel, sel) {
		sub = &coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: sel}
	}
	v := s.a.Eval(sub)
	out := s.buf[:0]
	if v.Const {
		if v.Bool[0] && !v.IsNull(0) {
			if sel == nil {
				return append(out, coldata.Iota(b.N)...)
			}
			return append(out, sel...)
		}
		return out
	}
	coldata.ForEach(b.N, sel, func(i int) {
		if v.Bool[i] && (v.Nulls == nil || !v.Nulls[i]) {
			out = append(out, int32(i))
		}
	})
	s.buf = out
	return out
}

func sameSel(a, b []int32) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0]
}

type andSel struct{ a, b Selector }

func (s *andSel) Select(b *coldata.Batch, sel []int32) []int32 {
	x := s.a.Select(b, sel)
	if len(x) == 0 {
		return x
	}
	return s.b.Select(b, x)
}

type orSel struct {
	a, b Selector
	buf  []int32
}

func (s *orSel) Select(b *coldata.Batch, sel []int32) []int32 {
	x := s.a.Select(b, sel)
	if sel != nil && len(x) == len(sel) || sel == nil && len(x) == b.N {
		return x
	}
	// Evaluate b only on rows a did not select.
	var rest []int32
	if sel == nil {
		rest = minus(coldata.Iota(b.N), x)
	} else {
		rest = minus(sel, x)
	}
	xs := append(s.buf[:0], x...)
	y := s.b.Select(b, rest)
	out := make([]int32, 0, len(xs)+len(y))
	i, j := 0, 0
	for i < len(xs) || j < len(y) {
		switch {
		case j >= len(y) || (i < len(xs) && xs[i] < y[j]):
			out = append(out, xs[i])
			i++
		default:
			out = append(out, y[j])
			j++
		}
	}
	s.buf = xs
	return out
}

type notSel struct {
	a   Selector
	buf []int32
}

func (s *notSel) Select(b *coldata.Batch, sel []int32) []int32 {
	in := sel
	if in == nil {
		if cap(s.buf) < b.N {
			s.buf = make([]int32, b.N)
		}
		in = s.buf[:b.N]
		for i := range in {
			in[i] = int32(i)
		}
	}
	x := s.a.Select(b, sel)
	return minus(in, x)
}

type cmpSel struct {
	op   cmpOp
	t    types.Type
	a, b Evaluator
	buf  []int32
}

func (s *cmpSel) Select(b *coldata.Batch, sel []int32) []int32 {
	sub := b
	if !sameSel(b.Sel, sel) {
		sub = &coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: sel}
	}
	x, y := s.a.Eval(sub), s.b.Eval(sub)
	out := s.buf[:0]
	n := b.N
	if x.Const {
		x = expandVec(x, n)
	}
	switch s.t.ID {
	case types.Int32, types.Date:
		if y.Const {
			out = selInt32VC(s.op, out, x.I32, y.I32[0], sel, n)
		} else {
			out = selInt32VV(s.op, out, x.I32, y.I32, sel, n)
		}
	case types.Int64, types.Decimal:
		if y.Const {
			out = selInt64VC(s.op, out, x.I64, y.I64[0], sel, n)
		} else {
			out = selInt64VV(s.op, out, x.I64, y.I64, sel, n)
		}
	case types.Float64:
		if y.Const {
			out = selFloat64VC(s.op, out, x.F64, y.F64[0], sel, n)
		} else {
			out = selFloat64VV(s.op, out, x.F64, y.F64, sel, n)
		}
	default:
		panic(fmt.Sprintf("comparison on %s", s.t))
	}
	out = dropNulls(out, x, y)
	s.buf = out
	return out
}

// strPredSel filters a string column by a per-value predicate, evaluating it
// once per dictionary entry for dictionary-encoded input.
type strPredSel struct {
	a        Evaluator
	pred     func([]byte) bool
	dict     *coldata.Strings
	dictHits []bool
	buf      []int32
}

func (s *strPredSel) Select(b *coldata.Batch, sel []int32) []int32 {
	sub := b
	if !sameSel(b.Sel, sel) {
		sub = &coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: sel}
	}
	v := s.a.Eval(sub)
	out := s.buf[:0]
	if v.Const {
		if !v.IsNull(0) && s.pred(v.Bytes(0)) {
			if sel == nil {
				out = append(out, coldata.Iota(b.N)...)
			} else {
				out = append(out, sel...)
			}
		}
		s.buf = out
		return out
	}
	if v.Dict != nil {
		if v.Dict != s.dict {
			s.dict = v.Dict
			s.dictHits = make([]bool, v.Dict.Len())
			for i := range s.dictHits {
				s.dictHits[i] = s.pred(v.Dict.Get(i))
			}
		}
		hits, codes := s.dictHits, v.I32
		if sel == nil {
			for i, c := range codes[:b.N] {
				if hits[c] {
					out = append(out, int32(i))
				}
			}
		} else {
			for _, i := range sel {
				if hits[codes[i]] {
					out = append(out, i)
				}
			}
		}
	} else {
		offs, data := v.Str.Offs, v.Str.Data
		if sel == nil {
			for i := 0; i < b.N; i++ {
				if s.pred(data[offs[i]:offs[i+1]]) {
					out = append(out, int32(i))
				}
			}
		} else {
			for _, i := range sel {
				if s.pred(data[offs[i]:offs[i+1]]) {
					out = append(out, i)
				}
			}
		}
	}
	out = dropNulls(out, v)
	s.buf = out
	return out
}

type strCmpSel struct {
	op   cmpOp
	a, b Evaluator
	buf  []int32
}

func (s *strCmpSel) Select(b *coldata.Batch, sel []int32) []int32 {
	sub := b
	if !sameSel(b.Sel, sel) {
		sub = &coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: sel}
	}
	x, y := s.a.Eval(sub), s.b.Eval(sub)
	out := s.buf[:0]
	coldata.ForEach(b.N, sel, func(i int) {
		if cmpResult(s.op, bytes.Compare(x.Bytes(i), y.Bytes(i))) {
			out = append(out, int32(i))
		}
	})
	out = dropNulls(out, x, y)
	s.buf = out
	return out
}

func newInSel(a Evaluator, t types.Type, list []expr.Value) Selector {
	switch t.ID {
	case types.String:
		set := make(map[string]struct{}, len(list))
		for _, v := range list {
			if !v.Null {
				set[v.S] = struct{}{}
			}
		}
		return &strPredSel{a: a, pred: func(x []byte) bool {
			_, ok := set[unsafe.String(unsafe.SliceData(x), len(x))]
			return ok
		}}
	default:
		vals := make([]int64, 0, len(list))
		fvals := make([]float64, 0, len(list))
		for _, v := range list {
			if !v.Null {
				if v.T.ID == types.Bool {
					v.I = b2i(v.B)
				}
				vals = append(vals, v.I)
				fvals = append(fvals, v.F)
			}
		}
		return &inNumSel{a: a, t: t, vals: vals, fvals: fvals}
	}
}

type inNumSel struct {
	a     Evaluator
	t     types.Type
	vals  []int64
	fvals []float64
	buf   []int32
}

func (s *inNumSel) Select(b *coldata.Batch, sel []int32) []int32 {
	sub := b
	if !sameSel(b.Sel, sel) {
		sub = &coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: sel}
	}
	v := s.a.Eval(sub)
	if v.Const {
		v = expandVec(v, b.N)
	}
	out := s.buf[:0]
	switch s.t.ID {
	case types.Int32, types.Date:
		var lo, hi int64 = math.MaxInt64, math.MinInt64
		for _, x := range s.vals {
			lo, hi = min(lo, x), max(hi, x)
		}
		if len(s.vals) > 0 && hi-lo < 64 {
			var mask uint64
			for _, x := range s.vals {
				mask |= 1 << uint(x-lo)
			}
			l := int32(lo)
			coldata.ForEach(b.N, sel, func(i int) {
				d := uint32(v.I32[i] - l)
				if d < 64 && mask&(1<<d) != 0 {
					out = append(out, int32(i))
				}
			})
			break
		}
		coldata.ForEach(b.N, sel, func(i int) {
			x := int64(v.I32[i])
			for _, y := range s.vals {
				if x == y {
					out = append(out, int32(i))
					return
				}
			}
		})
	case types.Int64, types.Decimal:
		coldata.ForEach(b.N, sel, func(i int) {
			x := v.I64[i]
			for _, y := range s.vals {
				if x == y {
					out = append(out, int32(i))
					return
				}
			}
		})
	case types.Float64:
		coldata.ForEach(b.N, sel, func(i int) {
			x := v.F64[i]
			for _, y := range s.fvals {
				if x == y {
					out = append(out, int32(i))
					return
				}
			}
		})
	case types.Bool:
		coldata.ForEach(b.N, sel, func(i int) {
			for _, y := range s.vals {
				if v.Bool[i] == (y != 0) {
					out = append(out, int32(i))
					return
				}
			}
		})
	}
	out = dropNulls(out, v)
	s.buf = out
	return out
}

// CompileLike returns a matcher for a SQL LIKE pattern: % matches any run of
// characters, _ one character, and a backslash makes the character after it
// literal (PostgreSQL's default escape; a trailing one is literal). With fold,
// the match ignores case (ILIKE).
func CompileLike(pattern string, fold bool) func([]byte) bool {
	if fold {
		m := CompileLike(string(bytes.ToLower([]byte(pattern))), false)
		var buf []byte
		return func(x []byte) bool {
			buf = appendCase(buf[:0], x, false)
			return m(buf)
		}
	}
	p := []byte(pattern)
	if bytes.IndexByte(p, '_') < 0 && bytes.IndexByte(p, '\\') < 0 {
		parts := bytes.Split(p, []byte("%"))
		if len(parts) == 1 {
			return func(x []byte) bool { return bytes.Equal(x, p) }
		}
		prefix, suffix := parts[0], parts[len(parts)-1]
		mid := parts[1 : len(parts)-1]
		return func(x []byte) bool {
			if len(x) < len(prefix)+len(suffix) || !bytes.HasPrefix(x, prefix) || !bytes.HasSuffix(x, suffix) {
				return false
			}
			x = x[len(prefix) : len(x)-len(suffix)]
			for _, m := range mid {
				if len(m) == 0 {
					continue
				}
				k := bytes.Index(x, m)
				if k < 0 {
					return false
				}
				x = x[k+len(m):]
			}
			return true
		}
	}
	elems := parseLike(pattern)
	return func(x []byte) bool { return likeMatch(elems, x) }
}

// likeElem is one pattern element: a literal character, or a wildcard
// (likeOne for _, likeAny for %).
type likeElem rune

const (
	likeOne likeElem = -1
	likeAny likeElem = -2
)

func parseLike(pattern string) []likeElem {
	var out []likeElem
	rs := []rune(pattern)
	for k := 0; k < len(rs); k++ {
		switch r := rs[k]; {
		case r == '\\' && k+1 < len(rs):
			k++
			out = append(out, likeElem(rs[k]))
		case r == '%':
			if len(out) == 0 || out[len(out)-1] != likeAny {
				out = append(out, likeAny)
			}
		case r == '_':
			out = append(out, likeOne)
		default:
			out = append(out, likeElem(r))
		}
	}
	return out
}

func likeMatch(p []likeElem, s []byte) bool {
	// Iterative wildcard matching, backtracking to the last %.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		r, w := rune(s[si]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRune(s[si:])
		}
		switch {
		case pi < len(p) && (p[pi] == likeOne || p[pi] == likeElem(r)):
			pi++
			si += w
		case pi < len(p) && p[pi] == likeAny:
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			if s[mark] < utf8.RuneSelf {
				mark++
			} else {
				_, mw := utf8.DecodeRune(s[mark:])
				mark += mw
			}
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == likeAny {
		pi++
	}
	return pi == len(p)
}
