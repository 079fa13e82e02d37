package node

import (
	"strings"
	"sync"
	"testing"
)

// A driver's output is reported line by line whatever the lines' lengths:
// a line past maxLineBytes keeps its start and says how much was cut, and
// the lines after it still come (a 1 MiB line used to end the output).
func TestScanLinesCutsLongLines(t *testing.T) {
	long := strings.Repeat("x", 3*maxLineBytes+5)
	in := "first\n" + long + "\nafter\nlast without newline"
	out := make(chan string, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	scanLines(&wg, strings.NewReader(in), out)
	close(out)
	var got []string
	for l := range out {
		got = append(got, l)
	}
	if len(got) != 4 || got[0] != "first" || got[2] != "after" || got[3] != "last without newline" {
		t.Fatalf("lines %q", shorten(got))
	}
	want := strings.Repeat("x", maxLineBytes) + " … [131077 more bytes of this line cut]" // (3×64 KiB + 5 − 64 KiB)
	if got[1] != want {
		t.Fatalf("long line: %q", shorten(got[1:2]))
	}
}

func shorten(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		if len(l) > 80 {
			l = l[:40] + "…" + l[len(l)-40:]
		}
		out[i] = l
	}
	return out
}
