package eval

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"math"
	"unicode/utf8"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"

	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// compileString builds the string functions. Positions and lengths count
// characters (UTF-8 code points), as PostgreSQL's do in a UTF-8 database.
func compileString(e *expr.Expr, args []Evaluator) Evaluator {
	str := func(f func(r *rowCtx, i int)) Evaluator { return newRowEval(e.T, true, args, f) }
	switch e.Op {
	case expr.OpConcat:
		return str(func(r *rowCtx, i int) {
			r.appendStr(r.str(0, i))
			r.appendStr(r.str(1, i))
		})
	case expr.OpConcatFn:
		return newRowEval(e.T, false, args, func(r *rowCtx, i int) {
			for k := range r.in {
				if !r.null(k, i) {
					r.appendStr(r.str(k, i))
				}
			}
		})
	case expr.OpUpper, expr.OpLower:
		upper := e.Op == expr.OpUpper
		return str(func(r *rowCtx, i int) { r.out.Str.Data = appendCase(r.out.Str.Data, r.str(0, i), upper) })
	case expr.OpMD5:
		return str(func(r *rowCtx, i int) {
			sum := md5.Sum(r.str(0, i))
			r.out.Str.Data = hex.AppendEncode(r.out.Str.Data, sum[:])
		})
	case expr.OpLength:
		return str(func(r *rowCtx, i int) { r.out.I64[i] = int64(utf8.RuneCount(r.str(0, i))) })
	case expr.OpTrim, expr.OpLTrim, expr.OpRTrim:
		trim := bytes.Trim
		switch e.Op {
		case expr.OpLTrim:
			trim = bytes.TrimLeft
		case expr.OpRTrim:
			trim = bytes.TrimRight
		}
		if len(args) == 1 {
			return str(func(r *rowCtx, i int) { r.appendStr(trim(r.str(0, i), " ")) })
		}
		return str(func(r *rowCtx, i int) { r.appendStr(trim(r.str(0, i), string(r.str(1, i)))) })
	case expr.OpReplace:
		return str(func(r *rowCtx, i int) {
			s, from, to := r.str(0, i), r.str(1, i), r.str(2, i)
			if len(from) == 0 {
				r.appendStr(s)
				return
			}
			for {
				k := bytes.Index(s, from)
				if k < 0 {
					break
				}
				r.appendStr(s[:k])
				r.appendStr(to)
				s = s[k+len(from):]
			}
			r.appendStr(s)
		})
	case expr.OpStrpos:
		return str(func(r *rowCtx, i int) {
			s := r.str(0, i)
			k := bytes.Index(s, r.str(1, i))
			if k < 0 {
				r.out.I64[i] = 0
				return
			}
			r.out.I64[i] = int64(utf8.RuneCount(s[:k])) + 1
		})
	case expr.OpStartsWith:
		return str(func(r *rowCtx, i int) { r.out.Bool[i] = bytes.HasPrefix(r.str(0, i), r.str(1, i)) })
	case expr.OpLeft, expr.OpRight:
		left := e.Op == expr.OpLeft
		return str(func(r *rowCtx, i int) {
			s, k := r.str(0, i), r.i64(1, i)
			count := int64(utf8.RuneCount(s))
			if k < 0 {
				k = max(count+k, 0)
			}
			k = min(k, count)
			if left {
				r.appendStr(charSlice(s, 0, k))
			} else {
				r.appendStr(charSlice(s, count-k, count))
			}
		})
	case expr.OpLPad, expr.OpRPad:
		left := e.Op == expr.OpLPad
		return str(func(r *rowCtx, i int) {
			s, n, fill := r.str(0, i), r.i64(1, i), []byte(" ")
			if len(r.in) > 2 {
				fill = r.str(2, i)
			}
			count := int64(utf8.RuneCount(s))
			if n <= count || len(fill) == 0 {
				r.appendStr(charSlice(s, 0, max(n, 0)))
				return
			}
			checkStringSize(n * int64(len(fill)))
			if !left {
				r.appendStr(s)
			}
			fillRunes := int64(utf8.RuneCount(fill))
			for need := n - count; need > 0; need -= fillRunes {
				r.appendStr(charSlice(fill, 0, min(need, fillRunes)))
			}
			if left {
				r.appendStr(s)
			}
		})
	case expr.OpRepeat:
		return str(func(r *rowCtx, i int) {
			s, n := r.str(0, i), r.i64(1, i)
			if n > 0 {
				checkStringSize(n * int64(len(s)))
			}
			for range max(n, 0) {
				r.appendStr(s)
			}
		})
	case expr.OpReverse:
		return str(func(r *rowCtx, i int) {
			s := r.str(0, i)
			start := len(r.out.Str.Data)
			r.appendStr(s)
			out := r.out.Str.Data[start:]
			for k := 0; k < len(s); {
				_, w := utf8.DecodeRune(s[k:])
				copy(out[len(s)-k-w:], s[k:k+w])
				k += w
			}
		})
	case expr.OpSplitPart:
		return str(func(r *rowCtx, i int) {
			s, delim, n := r.str(0, i), r.str(1, i), r.i64(2, i)
			if n == 0 {
				raise(expr.ErrInvalidArgument, "field position must not be zero")
			}
			fields := [][]byte{s}
			if len(delim) > 0 {
				fields = bytes.Split(s, delim)
			}
			if n < 0 {
				n += int64(len(fields)) + 1
			}
			if n >= 1 && n <= int64(len(fields)) {
				r.appendStr(fields[n-1])
			}
		})
	case expr.OpConcatWs:
		return newRowEval(e.T, false, args, func(r *rowCtx, i int) {
			if r.null(0, i) {
				r.setNull(i)
				return
			}
			first := true
			for k := 1; k < len(r.in); k++ {
				if r.null(k, i) {
					continue
				}
				if !first {
					r.appendStr(r.str(0, i))
				}
				r.appendStr(r.str(k, i))
				first = false
			}
		})
	case expr.OpSubstr:
		return str(func(r *rowCtx, i int) {
			start, length := r.i64(1, i), int64(-1)
			if len(r.in) > 2 {
				if length = r.i64(2, i); length < 0 {
					raise(expr.ErrInvalidArgument, "negative substring length not allowed")
				}
			}
			r.appendStr(substring(r.str(0, i), start, length))
		})
	}
	return nil
}

// substring is PostgreSQL's substring(s FROM start FOR length): the
// characters at positions [start, start+length) that exist, 1-based; a
// negative length means to the end.
func substring(s []byte, start, length int64) []byte {
	end := int64(math.MaxInt64)
	if length >= 0 && start <= math.MaxInt64-length {
		end = start + length
	}
	start = max(start, 1)
	if end <= start {
		return nil
	}
	return charSlice(s, start-1, end-1)
}

// charSlice returns the characters [from, to) of s (0-based, clamped).
func charSlice(s []byte, from, to int64) []byte {
	lo, hi := -1, len(s)
	var c int64
	for k := 0; k < len(s); {
		if c == from {
			lo = k
		}
		if c == to {
			hi = k
			break
		}
		if s[k] < utf8.RuneSelf {
			k++
		} else {
			_, w := utf8.DecodeRune(s[k:])
			k += w
		}
		c++
	}
	if lo < 0 || lo >= hi {
		return nil
	}
	return s[lo:hi]
}

// appendCase appends s in upper or lower case: ASCII in place, the rest
// through Unicode's mappings.
func appendCase(dst, s []byte, upper bool) []byte {
	for k, c := range s {
		if c >= utf8.RuneSelf {
			if upper {
				return append(dst, bytes.ToUpper(s[k:])...)
			}
			return append(dst, bytes.ToLower(s[k:])...)
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// substrEval is substring with constant start and length; on dictionary
// input it cuts each dictionary entry once.
type substrEval struct {
	start, length int64
	a             Evaluator
	dict          *coldata.Strings
	outDict       *coldata.Strings
	out           coldata.Vec
}

func (e *substrEval) cut(x []byte) []byte { return substring(x, e.start, e.length) }

func (e *substrEval) Eval(b *coldata.Batch) *coldata.Vec {
	v := e.a.Eval(b)
	if v.Dict != nil {
		if v.Dict != e.dict {
			e.dict = v.Dict
			nd := &coldata.Strings{Offs: []int32{0}}
			for i := 0; i < v.Dict.Len(); i++ {
				nd.Append(e.cut(v.Dict.Get(i)))
			}
			e.outDict = nd
		}
		return &coldata.Vec{Type: types.StringType, Dict: e.outDict, I32: v.I32, Nulls: v.Nulls, Const: v.Const}
	}
	n := b.N
	if v.Const {
		n = 1
	}
	out := &e.out
	out.Type = types.StringType
	out.Nulls, out.Const = v.Nulls, v.Const
	out.Str.Data = out.Str.Data[:0]
	if cap(out.Str.Offs) < n+1 {
		out.Str.Offs = make([]int32, n+1)
	}
	out.Str.Offs = out.Str.Offs[:n+1]
	out.Str.Offs[0] = 0
	for i := 0; i < n; i++ {
		out.Str.Data = append(out.Str.Data, e.cut(v.Bytes(i))...)
		out.Str.Offs[i+1] = int32(len(out.Str.Data))
	}
	return out
}

// maxStringSize bounds the strings lpad, rpad and repeat make (PostgreSQL
// refuses past 1 GB).
const maxStringSize = 1 << 30

func checkStringSize(n int64) {
	if n > maxStringSize {
		raise(expr.ErrInvalidArgument, "requested length too large")
	}
}
