package parser

import (
	"strings"
	"testing"
)

// FuzzParse checks that no input panics, that errors point into the input,
// and that whatever parses prints as text that parses back to the same tree.
func FuzzParse(f *testing.F) {
	_, texts := tpchQueries(f)
	for _, s := range texts {
		f.Add(s)
	}
	for _, s := range statementCorpus {
		f.Add(s)
	}
	f.Add("select a form t where x = 'it''s' /* c */ -- d\n")
	f.Add(`select "Foo", (1, 2) in ((select 1, 2) union select 3, 4), x::numeric(1,2), interval '1' day (3) from t`)
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := ParseScript(src)
		if err != nil {
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error %T: %v", err, err)
			}
			if e.Pos.Offset < 0 || e.Pos.Offset > len(src) || e.Pos.Line < 1 || e.Pos.Col < 1 {
				t.Fatalf("error position %+v outside the input", e.Pos)
			}
			if !strings.Contains(e.Excerpt(src), "^") {
				t.Fatalf("excerpt without a caret: %q", e.Excerpt(src))
			}
			return
		}
		for _, s := range stmts {
			Inspect(s, func(n Node) bool {
				if sp := n.SourceSpan(); sp.Pos.Offset < 0 || sp.Pos.Offset > sp.End || sp.End > len(src) {
					t.Fatalf("span %+v of %T outside the input (%d bytes)", sp, n, len(src))
				}
				return true
			})
			checkRoundTrip(t, s)
		}
	})
}
