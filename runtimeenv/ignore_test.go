package runtimeenv

import (
	"errors"
	"testing"
)

func TestIgnorePatterns(t *testing.T) {
	tests := []struct {
		pattern string
		base    string
		path    string
		isDir   bool
		want    bool
	}{
		{"*.log", "", "a.log", false, true},
		{"*.log", "", "deep/down/a.log", false, true},
		{"*.log", "", "a.log.txt", false, false},
		{"/build", "", "build", true, true},
		{"/build", "", "src/build", true, false},
		{"build/", "", "src/build", true, true},
		{"build/", "", "src/build", false, false}, // a file named build
		{"docs/*.md", "", "docs/a.md", false, true},
		{"docs/*.md", "", "docs/sub/a.md", false, false},
		{"docs/*.md", "", "x/docs/a.md", false, false}, // a slash anchors
		{"**/cache", "", "a/b/cache", true, true},
		{"**/cache", "", "cache", true, true},
		{"a/**/b", "", "a/b", false, true},
		{"a/**/b", "", "a/x/y/b", false, true},
		{"out/**", "", "out/x", false, true},
		{"out/**", "", "out", true, false}, // what is inside, not the directory
		{"data?.bin", "", "data1.bin", false, true},
		{"data?.bin", "", "data12.bin", false, false},
		{"[ab].txt", "", "a.txt", false, true},
		{"[!ab].txt", "", "a.txt", false, false},
		{"[!ab].txt", "", "c.txt", false, true},
		{`\#notacomment`, "", "#notacomment", false, true},
		{"trailing   ", "", "trailing", false, true},
		{"*.tmp", "sub", "sub/x.tmp", false, true},
		{"*.tmp", "sub", "other/x.tmp", false, false},
		{"/only", "sub", "sub/only", false, true},
		{"/only", "sub", "only", false, false},
		{"a**b", "", "axxb", false, true}, // ** inside a segment is *
	}
	for _, tt := range tests {
		var r ignoreRules
		if err := r.add([]string{tt.pattern}, tt.base, "test"); err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		got, _ := r.match(tt.path, tt.isDir)
		if got != tt.want {
			t.Errorf("pattern %q (base %q) on %q (dir %v): excluded=%v, want %v", tt.pattern, tt.base, tt.path, tt.isDir, got, tt.want)
		}
	}
}

func TestIgnoreLastMatchWins(t *testing.T) {
	var r ignoreRules
	if err := r.add([]string{"*.bin", "!keep.bin", "# comment", ""}, "", "test"); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{"x.bin": true, "keep.bin": false, "a/keep.bin": false, "x.txt": false} {
		if got, _ := r.match(path, false); got != want {
			t.Errorf("%s: excluded=%v, want %v", path, got, want)
		}
	}
}

func TestIgnoreBadPatterns(t *testing.T) {
	for _, p := range []string{"[", "a/[b", `x\`, "!", "/", "a//b"} {
		var r ignoreRules
		err := r.add([]string{p}, "", "Spec.Excludes")
		if !errors.Is(err, ErrBadSpec) {
			t.Errorf("pattern %q: got %v, want ErrBadSpec", p, err)
		}
	}
}
