package parser

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a syntax error at a place in the source.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("syntax error at line %d, column %d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
}

// Excerpt renders the line of src that holds the error with a caret under
// its column, as psql does:
//
//	LINE 3: select * form lineitem
//	                 ^
//
// A line longer than about 100 characters is cut around the column.
func (e *Error) Excerpt(src string) string { return Excerpt(src, e.Pos) }

// Excerpt renders the line of src holding pos with a caret under pos's
// column; see Error.Excerpt.
func Excerpt(src string, pos Pos) string {
	if pos.Offset < 0 || pos.Offset > len(src) {
		return ""
	}
	lineStart := strings.LastIndexByte(src[:pos.Offset], '\n') + 1
	lineEnd := strings.IndexByte(src[pos.Offset:], '\n')
	if lineEnd < 0 {
		lineEnd = len(src)
	} else {
		lineEnd += pos.Offset
	}
	line := strings.TrimRight(src[lineStart:lineEnd], "\r")
	col := min(pos.Offset-lineStart, len(line))
	// Keep about 60 characters either side of the caret.
	const keep = 60
	before, after := []rune(line[:col]), []rune(line[col:])
	prefix, suffix := "", ""
	if len(before) > keep {
		before, prefix = before[len(before)-keep:], "..."
	}
	if len(after) > keep {
		after, suffix = after[:keep], "..."
	}
	head := fmt.Sprintf("LINE %d: ", pos.Line)
	var caret strings.Builder
	caret.WriteString(strings.Repeat(" ", len(head)+len(prefix)))
	for _, r := range before {
		if r == '\t' {
			caret.WriteByte('\t')
		} else {
			caret.WriteByte(' ')
		}
	}
	caret.WriteByte('^')
	return head + prefix + string(before) + string(after) + suffix + "\n" + caret.String()
}

// quoteText quotes source text for a message, shortened if long.
func quoteText(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		n := 0
		for i := range s {
			if n == 37 {
				s = s[:i] + "..."
				break
			}
			n++
		}
	}
	return strconv.Quote(s)
}

func quoteRune(r rune) string {
	if r == utf8.RuneError {
		return "(invalid UTF-8)"
	}
	return strconv.QuoteRune(r)
}

// EditDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and transpositions of neighbours
// (FORM for FROM) each cost one.
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	var rows [3][65]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// closeKeyword returns the keyword among candidates that word most likely
// misspells, or "".
func closeKeyword(word string, candidates []string) string {
	if len(word) < 3 || isReserved(word) {
		return ""
	}
	best, bestD := "", 3
	for _, k := range candidates {
		if len(k) < 3 || k == word {
			continue
		}
		limit := 1
		if len(k) >= 5 {
			limit = 2
		}
		if d := EditDistance(word, k); d <= limit && d < bestD {
			best, bestD = k, d
		}
	}
	return best
}
