package eval

import (
	"testing"

	"github.com/shoal-dev/shoal/dataframe/internal/expr"
)

// TestRegex runs regexp_like, regexp_replace and md5 with their patterns
// and flags in columns (compiled per pattern met) and as constants
// (compiled once: evalRows's literal way).
func TestRegex(t *testing.T) {
	row := func(vs ...string) []expr.Value {
		out := make([]expr.Value, len(vs))
		for i, v := range vs {
			out[i] = str(v)
		}
		return out
	}
	colD := expr.Col("d")
	runCases(t, []evalCase{
		{call(expr.OpRegexLike, colA, colB), pairs(str("abc"), str("b+"), str("abc"), str("^b"), str("a\nb"), str("a.b"),
			nullS, str("x"), str("x"), nullS), strs("true", "false", "true", "NULL", "NULL")},
		{call(expr.OpRegexLike, colA, colB, colC), [][]expr.Value{row("ABC", "b", "i"), row("ABC", "b", ""), row("a\nb", "^b", "n"),
			{str("a"), str("a"), nullS}}, strs("true", "false", "true", "NULL")},
		{call(expr.OpRegexReplace, colA, colB, colC), [][]expr.Value{row("Thomas", ".[mN]a.", "M"), row("abc", "b", `[\&]`),
			row("abc", "b", `\\`), row("abc", "b", `\x`), row("abc", "(b)", `\1\2\1`), row("abc", "b", `x\`), row("abab", "b", "_")},
			strs("ThM", "a[b]c", `a\c`, `a\xc`, "abbc", `ax\c`, "a_ab")},
		{call(expr.OpRegexReplace, colA, colB, colC, colD), [][]expr.Value{row("abc", "b*", "-", "g"), row("aaa", "a*", "X", "g"),
			row("abc", "x*", "-", "g"), row("ABab", "b", "_", "gi"), row("héllo", "l", "L", "g"), row("", "x*", "-", "g"),
			row("a b  c", `\s+`, "", "g"), row("ab", "a|ab", "X", "")},
			strs("-a--c-", "XX", "-a-b-c-", "A_a_", "héLLo", "-", "abc", "X")},
		{call(expr.OpMD5, colA), rowsOf(str("abc"), str(""), nullS), strs("900150983cd24fb0d6963f7d28e17f72", "d41d8cd98f00b204e9800998ecf8427e", "NULL")},
	})
}
