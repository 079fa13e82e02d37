package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/dataframe"
)

// A script's error names the line and column in the script, whichever
// statement of it failed and whatever came before it on its line.
func TestScriptErrorPositions(t *testing.T) {
	for _, tc := range []struct {
		script, want string
	}{
		{"select 1;\n\nselct 2;\n", "(line 3, column 1)"},
		{"select 1; select x", "(line 1, column 18)"},
		{"select 1;\n\\timing\nselect 2;\nselect x;\n", "(line 4, column 8)"},
		{"-- a comment; with a semicolon\nselect 'a;b';\n  select y\n", "(line 3, column 10)"},
	} {
		var out bytes.Buffer
		sh := &sqlShell{cat: dataframe.NewCatalog(), out: &out, format: "table", maxRows: 10}
		err := sh.runLines(context.Background(), tc.script)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one at %s", tc.script, err, tc.want)
		}
	}
}
