package eval

import (
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecerror"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// compileRegex builds regexp_like (SQL's ~) and regexp_replace. A constant
// pattern with constant flags is compiled once, here; other patterns once
// per distinct pattern met (regexCache), a bad one raising when met.
func compileRegex(e *expr.Expr, args []Evaluator) (Evaluator, error) {
	fixed, err := constantRegex(e)
	if err != nil {
		return nil, err
	}
	flagsAt := regexFlagsAt(e.Op)
	cache := regexCache{global: e.Op == expr.OpRegexReplace}
	regexOf := func(r *rowCtx, i int) *expr.Regex {
		if fixed != nil {
			return fixed
		}
		flags := ""
		if len(r.in) > flagsAt {
			flags = string(r.str(flagsAt, i))
		}
		return cache.get(string(r.str(1, i)), flags)
	}
	if e.Op == expr.OpRegexLike {
		return newRowEval(types.BoolType, true, args, func(r *rowCtx, i int) {
			r.out.Bool[i] = regexOf(r, i).Re.Match(r.str(0, i))
		}), nil
	}
	return newRowEval(types.StringType, true, args, func(r *rowCtx, i int) {
		r.out.Str.Data = appendReplaced(r.out.Str.Data, regexOf(r, i), r.str(0, i), r.str(2, i))
	}), nil
}

// constantRegex compiles the pattern of a regexp_like or regexp_replace
// whose pattern and flags are non-null constants (nil otherwise).
func constantRegex(e *expr.Expr) (*expr.Regex, error) {
	pattern, flags := e.Args[1], ""
	if pattern.Op != expr.OpLit || pattern.Val.Null {
		return nil, nil
	}
	if flagsAt := regexFlagsAt(e.Op); len(e.Args) > flagsAt {
		f := e.Args[flagsAt]
		if f.Op != expr.OpLit || f.Val.Null {
			return nil, nil
		}
		flags = f.Val.S
	}
	return expr.CompileRegex(pattern.Val.S, flags, e.Op == expr.OpRegexReplace)
}

// regexFlagsAt is the index of op's optional flags argument.
func regexFlagsAt(op expr.Op) int {
	if op == expr.OpRegexReplace {
		return 3
	}
	return 2
}

// regexCache holds the patterns a column of patterns compiled to.
type regexCache struct {
	global bool // flag g allowed (regexp_replace)
	m      map[string]*expr.Regex
}

// regexCacheSize bounds the patterns kept (past it the cache starts over).
const regexCacheSize = 256

func (c *regexCache) get(pattern, flags string) *expr.Regex {
	key := pattern + "\x00" + flags
	if re, ok := c.m[key]; ok {
		return re
	}
	re, err := expr.CompileRegex(pattern, flags, c.global)
	if err != nil {
		colexecerror.Throw(&expr.EvalError{Kind: expr.ErrInvalidRegex, Msg: err.Error()})
	}
	if c.m == nil || len(c.m) >= regexCacheSize {
		c.m = map[string]*expr.Regex{}
	}
	c.m[key] = re
	return re
}

// appendReplaced appends s with re's first match (every match when
// re.Global) replaced by repl (expandReplacement). As PostgreSQL (and
// Perl) do, an empty match right after a match is replaced too, which Go's
// FindAll skips: regexp_replace('abc', 'b*', '-', 'g') is -a--c-.
func appendReplaced(dst []byte, re *expr.Regex, s, repl []byte) []byte {
	limit := 1
	if re.Global {
		limit = -1
	}
	copied := 0   // s[:copied] is in dst
	afterEnd := 0 // end of the last non-empty match, while no match followed
	replace := func(m []int) {
		dst = append(dst, s[copied:m[0]]...)
		dst = expandReplacement(dst, repl, s, m)
		copied = m[1]
	}
	emptyAfter := func(next int) {
		if afterEnd > 0 && next != afterEnd {
			if m := re.MatchAt(s, afterEnd); m != nil && m[1] == afterEnd {
				replace(m)
			}
		}
	}
	for _, m := range re.Re.FindAllSubmatchIndex(s, limit) {
		emptyAfter(m[0])
		replace(m)
		afterEnd = 0
		if m[1] > m[0] {
			afterEnd = m[1]
		}
	}
	if re.Global {
		emptyAfter(-1)
	}
	return append(dst, s[copied:]...)
}

// expandReplacement appends repl for the match m (submatch offsets into
// s), PostgreSQL's way: \1…\9 are the match's groups (nothing for a group
// that did not take part or does not exist), \& the whole match, \\ a
// backslash; any other backslash stands for itself.
func expandReplacement(dst, repl, s []byte, m []int) []byte {
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '\\' || i+1 == len(repl) {
			dst = append(dst, c)
			continue
		}
		switch d := repl[i+1]; {
		case d >= '1' && d <= '9':
			if k := 2 * int(d-'0'); k+1 < len(m) && m[k] >= 0 {
				dst = append(dst, s[m[k]:m[k+1]]...)
			}
			i++
		case d == '&':
			dst = append(dst, s[m[0]:m[1]]...)
			i++
		case d == '\\':
			dst = append(dst, '\\')
			i++
		default:
			dst = append(dst, '\\')
		}
	}
	return dst
}
