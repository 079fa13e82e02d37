package bytesize

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Format(0), "0 B"},
		{Format(1023), "1023 B"},
		{Format(1536), "1.5 KiB"},
		{Format(64 << 20), "64.0 MiB"},
		{Format(3 << 29), "1.5 GiB"},
		{Format(-2 << 30), "-2.0 GiB"},
		{FormatFloat(512.4), "512 B"},
		{FormatUsage(1900<<20, 2<<30), "1.9 of 2.0 GiB"},
		{FormatUsage(5, 10), "5 of 10 B"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"2GiB": 2 << 30, "2gib": 2 << 30, "1.5G": 3 << 29, "512MiB": 512 << 20, "512 MiB": 512 << 20, "300 KiB": 300 << 10,
		"64k": 64 << 10, "1048576": 1 << 20, "17B": 17, "4t": 4 << 40, "2Gi": 2 << 30, "-1": -1, " 0 ": 0,
	} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, wantErr := range map[string]string{
		"":          "not a number",
		"GiB":       "not a number",
		"2 parsecs": "unknown unit",
		"500MB":     "write 500MiB",
		"2gb":       "write 2GiB",
		"1e30":      "unknown unit",
		"9000PiB":   "too large",
	} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("Parse(%q): got error %v, want one saying %q", in, err, wantErr)
		}
	}
}

func TestStringRoundTrips(t *testing.T) {
	for _, n := range []int64{0, 1, 1023, 1024, 1536, 2 << 30, 3<<30 + 1, 5 << 40, -1, -(1 << 20)} {
		s := String(n)
		if got, err := Parse(s); err != nil || got != n {
			t.Errorf("Parse(String(%d) = %q) = %d, %v", n, s, got, err)
		}
	}
	if s := String(2 << 30); s != "2GiB" {
		t.Errorf("String(2<<30) = %q, want 2GiB", s)
	}
}

func TestFlag(t *testing.T) {
	var n int64 = 2 << 30
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(Flag(&n), "limit", "")
	if def := fs.Lookup("limit").DefValue; def != "2GiB" {
		t.Errorf("default shown as %q, want 2GiB", def)
	}
	for in, want := range map[string]int64{"512MiB": 512 << 20, "4096": 4096} {
		if err := fs.Parse([]string{"-limit", in}); err != nil || n != want {
			t.Errorf("-limit %s: got %d, %v; want %d", in, n, err, want)
		}
	}
	if err := fs.Parse([]string{"-limit", "2GB"}); err == nil {
		t.Error("-limit 2GB accepted")
	}
}
