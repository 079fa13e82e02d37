package parser

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shoal-dev/shoal/dataframe/internal/suggest"
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
		if d := suggest.Distance(word, k); d <= limit && d < bestD {
			best, bestD = k, d
		}
	}
	return best
}
