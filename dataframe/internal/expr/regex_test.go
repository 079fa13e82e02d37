package expr

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestCompileRegex checks PostgreSQL's meaning of patterns and flags under
// RE2: the match each finds (PostgreSQL's longest unless non-greedy), the
// escapes RE2 spells otherwise, newline sensitivity.
func TestCompileRegex(t *testing.T) {
	for _, tc := range []struct {
		pattern, flags, s string
		want              string // the match; "-" for none
	}{
		{"a|ab", "", "xab", "ab"}, // an alternation is greedy: the longest
		{"a.*c", "", "abcabc", "abcabc"},
		{"a.*?c", "", "abcabc", "abc"}, // non-greedy: the shortest
		{"(a|ab)(c|bcd)", "", "abcd", "abcd"},
		{"b", "i", "ABC", "B"},
		{"b", "ic", "ABC", "-"},
		{"(?i)b", "", "ABC", "B"},
		{"a.b", "", "a\nb", "a\nb"}, // . matches a newline by default
		{"a.b", "n", "a\nb", "-"},
		{"^b", "", "a\nb", "-"},
		{"^b", "n", "a\nb", "b"},
		{"^b$", "w", "a\nb", "b"},
		{`\yfoo\y`, "", "a foo b", "foo"},
		{`\mfoo`, "", "afoo", "-"},
		{`foo\M`, "", "foo bar", "foo"},
		{`\Ybar`, "", "foobar", "bar"},
		{`b\Z`, "", "ab", "b"},
		{`[[:<:]]x`, "", "ax x", "x"},
		{`a\Bb`, "", `a\b`, `a\b`},
		{`\u00e9`, "", "café", "é"},
		{`[\d]+`, "", "ab12c", "12"},
		{`[]a]+`, "", "x]a]y", "]a]"},
		{`[^]a]+`, "", "]]xy", "xy"},
		{`[[:alpha:]]+`, "", "12ab3", "ab"},
		{"a.c", "q", "abc a.c", "a.c"},
		{"***=a.c", "", "abc a.c", "a.c"},
		{"***:a.c", "", "abc", "abc"},
	} {
		re, err := CompileRegex(tc.pattern, tc.flags, true)
		if err != nil {
			t.Errorf("%q (%s): %v", tc.pattern, tc.flags, err)
			continue
		}
		got := "-"
		if loc := re.Re.FindStringIndex(tc.s); loc != nil {
			got = tc.s[loc[0]:loc[1]]
		}
		if got != tc.want {
			t.Errorf("%q (%s) in %q matched %q, want %q", tc.pattern, tc.flags, tc.s, got, tc.want)
		}
	}
}

func TestCompileRegexErrors(t *testing.T) {
	for _, tc := range []struct {
		pattern, flags string
		global         bool
		want           string
	}{
		{"(", "", true, `'(': missing closing )`},
		{"a{2,1}", "", true, "invalid repeat count"},
		{`(a)\1`, "", true, `backreferences (\1) are not supported`},
		{"a(?=b)", "", true, "lookahead and lookbehind"},
		{"a(?<!b)", "", true, "lookahead and lookbehind"},
		{"a", "z", true, `option: "z"`},
		{"a", "x", true, "expanded (x)"},
		{"a", "g", false, `does not support the "global" option`},
		{"it's(", "", true, `'it''s('`},
	} {
		_, err := CompileRegex(tc.pattern, tc.flags, tc.global)
		if err == nil || !errors.Is(err, ErrInvalidRegex) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q (%s): got %v, want an ErrInvalidRegex saying %q", tc.pattern, tc.flags, err, tc.want)
		}
	}
}

// MatchAt sees the text before the position: \b and ^ answer as they
// would in a search of the whole text.
func TestRegexMatchAt(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		pos        int
		want       []int
	}{
		{"b*", "abc", 2, []int{2, 2}},
		{"b*", "abbc", 1, []int{1, 3}},
		{"^x*", "abc", 1, nil},
		{`\yc`, "ab c", 3, []int{3, 4}},
		{`\yc`, "abc", 2, nil},
		{"(b)?", "ab", 1, []int{1, 2, 1, 2}},
		{"(x)?", "ab", 1, []int{1, 1, -1, -1}},
		{"é*", "éé", 2, []int{2, 4}},
	} {
		re, err := CompileRegex(tc.pattern, "", true)
		if err != nil {
			t.Fatal(err)
		}
		got := re.MatchAt([]byte(tc.s), tc.pos)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q at %d of %q: got %v, want %v", tc.pattern, tc.pos, tc.s, got, tc.want)
		}
	}
}
