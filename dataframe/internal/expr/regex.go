package expr

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Regex is a PostgreSQL regular expression (an ARE, with the flags of
// regexp_replace and regexp_like) compiled for Go's RE2. RE2 has no
// backreferences in patterns and no lookahead or lookbehind; those are
// refused. The rest keeps PostgreSQL's meaning:
//
//   - . and bracket expressions match a newline and ^ $ match only at the
//     ends of the text, unless flag n (or m) says otherwise;
//   - \y \Y \A \Z are RE2's \b \B \A \z; \m and \M (the start and end of a
//     word) are \b, which they equal beside a word character; \b is a
//     backspace and \B a backslash; [[:<:]] and [[:>:]] are \b;
//   - a match is the longest one at the leftmost position unless the
//     pattern is non-greedy (its first quantifier is, as *?), PostgreSQL's
//     rule, which RE2's leftmost-first differs from (a|ab matches ab).
type Regex struct {
	Re     *regexp.Regexp
	Global bool // flag g: replace every match, not only the first
	// afterRune matches the pattern right after one character (the text
	// before a position), anchored: MatchAt.
	afterRune *regexp.Regexp
}

// regexOptions are the RE2 flags a PostgreSQL pattern compiles with.
type regexOptions struct {
	fold, dotNL, multiLine, literal, global bool
}

// CompileRegex compiles pattern under flags (PostgreSQL's letters: g, i,
// c, n, m, p, w, s, q, t, e; x and b are refused). global says whether g
// is allowed (regexp_replace) or refused (regexp_like). Errors wrap
// ErrInvalidRegex and name the pattern.
func CompileRegex(pattern, flags string, global bool) (*Regex, error) {
	opts := regexOptions{dotNL: true}
	body := pattern
	switch {
	case strings.HasPrefix(body, "***="):
		body, opts.literal = body[4:], true
	case strings.HasPrefix(body, "***:"):
		body = body[4:]
	}
	if err := opts.apply(flags, global); err != nil {
		return nil, err
	}
	if !opts.literal && strings.HasPrefix(body, "(?") {
		// Embedded options, (?i) …, as PostgreSQL allows at the start.
		if end := strings.IndexByte(body, ')'); end > 2 && strings.Trim(body[2:end], "bceimnpqstwx") == "" {
			if err := opts.apply(body[2:end], false); err != nil {
				return nil, err
			}
			body = body[end+1:]
		}
	}
	if opts.literal {
		body = regexp.QuoteMeta(body)
	} else {
		var err error
		if body, err = translateRegex(body); err != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrInvalidRegex, Value{T: types.StringType, S: pattern}, err)
		}
	}
	prefix := "(?"
	if opts.fold {
		prefix += "i"
	}
	if opts.dotNL {
		prefix += "s"
	}
	if opts.multiLine {
		prefix += "m"
	}
	prefix += ")"
	if prefix == "(?)" {
		prefix = ""
	}
	tree, err := syntax.Parse(body, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %s", ErrInvalidRegex, Value{T: types.StringType, S: pattern}, reasonOf(err))
	}
	re, err := regexp.Compile(prefix + body)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %s", ErrInvalidRegex, Value{T: types.StringType, S: pattern}, reasonOf(err))
	}
	after := regexp.MustCompile(prefix + `\A(?s:.)(?:` + body + ")") // (compiles as re did)
	if greediness(tree) >= 0 {
		re.Longest()
		after.Longest()
	}
	return &Regex{Re: re, Global: opts.global, afterRune: after}, nil
}

// apply reads PostgreSQL's flag letters, in order (a later one overrides).
func (o *regexOptions) apply(flags string, global bool) error {
	for _, f := range flags {
		switch f {
		case 'g':
			if !global {
				return fmt.Errorf(`%w: regexp_like does not support the "global" option (g); a match anywhere is already enough`, ErrInvalidRegex)
			}
			o.global = true
		case 'i':
			o.fold = true
		case 'c':
			o.fold = false
		case 'n', 'm': // newline-sensitive
			o.dotNL, o.multiLine = false, true
		case 'p': // partial newline-sensitive
			o.dotNL, o.multiLine = false, false
		case 'w': // inverse partial newline-sensitive
			o.dotNL, o.multiLine = true, true
		case 's':
			o.dotNL, o.multiLine = true, false
		case 'q':
			o.literal = true
		case 't', 'e': // tight syntax, extended RE: what RE2 reads
		case 'x', 'b':
			return fmt.Errorf(`%w option %q: expanded (x) and basic (b) syntax are not supported`, ErrInvalidRegex, string(f))
		default:
			return fmt.Errorf(`%w option: %q (valid: g i c n m p w s q t e)`, ErrInvalidRegex, string(f))
		}
	}
	return nil
}

// reasonOf is RE2's reason for refusing a pattern, without its quoting of
// the pattern (the caller names the pattern PostgreSQL was given).
func reasonOf(err error) string {
	var se *syntax.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	for _, look := range []string{"(?=", "(?!", "(?<=", "(?<!"} {
		if strings.HasPrefix(se.Expr, look) {
			return "lookahead and lookbehind constraints are not supported (Go's RE2 engine)"
		}
	}
	return fmt.Sprintf("%s in `%s`", se.Code, se.Expr)
}

// translateRegex rewrites PostgreSQL's escapes that RE2 spells otherwise
// (see Regex); backreferences are refused.
func translateRegex(p string) (string, error) {
	var sb strings.Builder
	inBracket, bracketStart := false, 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			esc, n, err := translateEscape(p[i:], inBracket)
			if err != nil {
				return "", err
			}
			sb.WriteString(esc)
			i += n - 1
			continue
		case !inBracket && (strings.HasPrefix(p[i:], "[[:<:]]") || strings.HasPrefix(p[i:], "[[:>:]]")):
			sb.WriteString(`\b`)
			i += len("[[:<:]]") - 1
			continue
		case !inBracket && c == '[':
			inBracket, bracketStart = true, i+1
			if strings.HasPrefix(p[i+1:], "^") {
				bracketStart++
			}
		case inBracket && c == '[' && i+1 < len(p) && strings.IndexByte(":.=", p[i+1]) >= 0:
			// [:class:] (and [.x.], [=x=], which RE2 does not know) inside a bracket
			if end := strings.Index(p[i+2:], string(p[i+1])+"]"); end >= 0 {
				sb.WriteString(p[i : i+2+end+2])
				i += 2 + end + 1
				continue
			}
		case inBracket && c == ']' && i > bracketStart:
			inBracket = false
		}
		sb.WriteByte(c)
	}
	return sb.String(), nil
}

// translateEscape translates the escape whose letter starts s (the text
// after a backslash): its RE2 spelling and the bytes of s it used.
func translateEscape(s string, inBracket bool) (string, int, error) {
	c := s[0]
	switch c {
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if !inBracket {
			return "", 0, fmt.Errorf(`backreferences (\%c) are not supported (Go's RE2 engine)`, c)
		}
	case 'b':
		return `\x08`, 1, nil
	case 'B':
		return `\\`, 1, nil
	case 'e':
		return `\x1b`, 1, nil
	case 'y', 'm', 'M':
		if !inBracket {
			return `\b`, 1, nil
		}
	case 'Y':
		if !inBracket {
			return `\B`, 1, nil
		}
	case 'Z':
		if !inBracket {
			return `\z`, 1, nil
		}
	case 'u', 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		if len(s) > n && isHex(s[1:n+1]) {
			return `\x{` + s[1:n+1] + "}", n + 1, nil
		}
	case 'c':
		if len(s) > 1 && s[1] < utf8.RuneSelf {
			return fmt.Sprintf(`\x{%x}`, s[1]&0x1f), 2, nil
		}
	}
	_, size := utf8.DecodeRuneInString(s)
	return `\` + s[:size], size, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(s[i])) {
			return false
		}
	}
	return true
}

// greediness is PostgreSQL's greediness attribute of re: 1 greedy, -1
// non-greedy, 0 none. An alternation is greedy; a concatenation is as its
// first part that has one; a quantifier is as its kind ({m} as its atom).
func greediness(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpAlternate:
		return 1
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		if re.Op == syntax.OpRepeat && re.Min == re.Max {
			return greediness(re.Sub[0])
		}
		if re.Flags&syntax.NonGreedy != 0 {
			return -1
		}
		return 1
	case syntax.OpConcat, syntax.OpCapture:
		for _, sub := range re.Sub {
			if g := greediness(sub); g != 0 {
				return g
			}
		}
	}
	return 0
}

// MatchAt returns the match of r that starts exactly at pos, the text
// before pos taken as context (for \b and ^), as submatch byte offsets
// into s; nil when there is none. pos must be > 0.
func (r *Regex) MatchAt(s []byte, pos int) []int {
	_, size := utf8.DecodeLastRune(s[:pos])
	from := pos - size
	loc := r.afterRune.FindSubmatchIndex(s[from:])
	if loc == nil {
		return nil
	}
	loc[0] += size
	for i := range loc {
		if loc[i] >= 0 {
			loc[i] += from
		}
	}
	return loc
}

// typecheckRegex types OpRegexLike ([s, pattern[, flags]] → Bool) and
// OpRegexReplace ([s, pattern, replacement[, flags]] → String), and
// compiles a constant pattern to report a bad one before any row is read.
func (c *Expr) typecheckRegex() error {
	lo, t := 2, types.BoolType
	if c.Op == OpRegexReplace {
		lo, t = 3, types.StringType
	}
	if len(c.Args) == lo+1 && c.Args[lo].T.IsInteger() {
		return mismatch(c, "%s's start and N arguments are not supported; its fourth argument is the flags text", c.Op)
	}
	if err := c.stringArgs(lo, lo+1); err != nil {
		return err
	}
	c.T = t
	flags := ""
	if len(c.Args) > lo {
		f := c.Args[lo]
		if f.Op != OpLit || f.Val.Null {
			return nil
		}
		flags = f.Val.S
	}
	if p := c.Args[1]; p.Op == OpLit && !p.Val.Null {
		_, err := CompileRegex(p.Val.S, flags, c.Op == OpRegexReplace)
		return err
	}
	return nil
}
