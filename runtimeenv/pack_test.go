package runtimeenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

func paths(files []File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

func TestPackUnpackRoundTrip(t *testing.T) {
	j := newJob(t)
	pkg := pack(t, j.spec, PackOptions{})
	want := []string{"bin", "bin/app", "wd", "wd/config.yaml", "wd/data", "wd/data/table.csv", "wd/scripts", "wd/scripts/run.sh"}
	if got := paths(pkg.Files); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	if !slices.Equal(pkg.Env, []string{"A=1", "B=2"}) {
		t.Fatalf("env %v, want sorted", pkg.Env)
	}
	dir := filepath.Join(t.TempDir(), "pkg")
	l, err := UnpackFile(context.Background(), pkg.Path, pkg.Hash, dir, UnpackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Binary != filepath.Join(dir, "bin", "app") || l.WorkDir != filepath.Join(dir, "wd") {
		t.Fatalf("layout %+v", l)
	}
	bin, _ := os.ReadFile(j.spec.Binary)
	if got, _ := os.ReadFile(l.Binary); !bytes.Equal(got, bin) {
		t.Fatal("binary differs after the round trip")
	}
	if got, _ := os.ReadFile(filepath.Join(l.WorkDir, "data", "table.csv")); string(got) != "a,b\n1,2\n" {
		t.Fatalf("table.csv: %q", got)
	}
	// (owner only: a package carries its job's environment values)
	modes := map[string]os.FileMode{"bin/app": 0o500, "wd/scripts/run.sh": 0o500, "wd/config.yaml": 0o400, "wd/data": 0o700}
	for p, want := range modes {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	l2, err := ReadLayout(dir)
	if err != nil || l2.Binary != l.Binary || !slices.Equal(l2.Env, l.Env) {
		t.Fatalf("ReadLayout: %+v, %v", l2, err)
	}
	if err := pkg.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pkg.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Remove left the temporary archive")
	}
}

// TestPackDeterministic: the same inputs, written at other times, in
// another order, in another directory, with the environment in another
// order, give the same archive.
func TestPackDeterministic(t *testing.T) {
	build := func(order []int, envOrder []string) *Package {
		dir := t.TempDir()
		bin := writeFile(t, dir, "out/app", randomBytes(7, 300<<10), 0o755)
		files := []struct {
			rel  string
			data string
			mode os.FileMode
		}{{"a.txt", "alpha", 0o644}, {"z/b.txt", "beta", 0o600}, {"m/run", "#!/bin/sh", 0o700}}
		for _, i := range order {
			f := files[i]
			writeFile(t, filepath.Join(dir, "wd"), f.rel, []byte(f.data), f.mode)
			time.Sleep(time.Millisecond) // different modification times
		}
		return pack(t, Spec{Binary: bin, WorkingDir: filepath.Join(dir, "wd"), Env: envOrder}, PackOptions{})
	}
	a := build([]int{0, 1, 2}, []string{"X=1", "Y=2"})
	b := build([]int{2, 0, 1}, []string{"Y=2", "X=1"})
	if a.Hash != b.Hash || a.Size != b.Size {
		t.Fatalf("same inputs, different packages: %s (%d) vs %s (%d)", a.Hash, a.Size, b.Hash, b.Size)
	}
	ab, _ := os.ReadFile(a.Path)
	bb, _ := os.ReadFile(b.Path)
	if !bytes.Equal(ab, bb) {
		t.Fatal("archives differ")
	}
	if hashOf(ab) != a.Hash {
		t.Fatal("Hash is not the BLAKE3 of the archive")
	}
}

// TestEncoderConcurrencyDoesNotChangeOutput guards what the hash relies
// on: the zstd stream is the same whatever the encoder's concurrency.
func TestEncoderConcurrencyDoesNotChangeOutput(t *testing.T) {
	data := append(randomBytes(3, 3<<20), bytes.Repeat([]byte("shoal runtime env "), 200000)...)
	var outs [][]byte
	for _, conc := range []int{1, 2, 4} {
		var buf bytes.Buffer
		opts := append(encoderOptions(), zstd.WithEncoderConcurrency(conc))
		enc, err := zstd.NewWriter(&buf, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(data); off += 100_000 {
			enc.Write(data[off:min(off+100_000, len(data))])
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, buf.Bytes())
	}
	for i := 1; i < len(outs); i++ {
		if !bytes.Equal(outs[0], outs[i]) {
			t.Fatalf("concurrency changes the compressed bytes (run %d)", i)
		}
	}
}

// TestPackGolden pins the archive of a fixed input. If it fails after a
// change to the format, archive/tar or the zstd library, every package's
// hash changes with this release: jobs are uploaded once more, nothing
// breaks. Update the constant then, knowingly.
func TestPackGolden(t *testing.T) {
	dir := t.TempDir()
	bin := writeFile(t, dir, "app", bytes.Repeat([]byte("\x7fELF golden binary "), 5000), 0o755)
	writeFile(t, dir, "wd/config.json", []byte(`{"workers": 2}`), 0o644)
	writeFile(t, dir, "wd/bin/tool", []byte("#!/bin/sh\nexit 0\n"), 0o755)
	if err := os.Symlink("config.json", filepath.Join(dir, "wd", "current.json")); err != nil {
		t.Fatal(err)
	}
	pkg := pack(t, Spec{Binary: bin, WorkingDir: filepath.Join(dir, "wd"), Env: []string{"MODE=golden"}}, PackOptions{})
	const golden = "6a05fd1db18930451ffa08e22178b00595163c4fa57a6f7a7cec8d6f27d16d6a"
	if pkg.Hash != golden {
		t.Fatalf("golden package hash changed: %s (was %s); see the comment", pkg.Hash, golden)
	}
}

func TestPackExcludes(t *testing.T) {
	dir := t.TempDir()
	bin := writeFile(t, dir, "wd/app", randomBytes(2, 1000), 0o755) // the binary inside the working directory
	wd := filepath.Join(dir, "wd")
	for _, rel := range []string{
		".git/HEAD", "node_modules/x/index.js", "__pycache__/m.pyc", "sub/.cache/c",
		"main.go", "README.md", "notes.tmp", "data/big.bin", "data/keep.bin", "data/small.csv",
		"logs/today.log", "sub/build/out.o", "sub/gen.go", "vendor/mod.go",
	} {
		writeFile(t, wd, rel, []byte(rel), 0o644)
	}
	writeFile(t, wd, ".gitignore", []byte("*.tmp\n/logs/\ndata/*.bin\n"), 0o644)
	writeFile(t, wd, "sub/.gitignore", []byte("build/\n"), 0o644)

	tests := []struct {
		name string
		spec Spec
		want []string // under wd/
	}{
		{"defaults and gitignore", Spec{}, []string{".gitignore", "README.md", "data", "data/small.csv", "main.go", "sub", "sub/.gitignore", "sub/gen.go", "vendor", "vendor/mod.go"}},
		{"excludes and a re-include", Spec{Excludes: []string{"vendor/", "*.md", "!data/keep.bin"}},
			[]string{".gitignore", "data", "data/keep.bin", "data/small.csv", "main.go", "sub", "sub/.gitignore", "sub/gen.go"}},
		{"no gitignore", Spec{NoGitignore: true, Excludes: []string{"/sub", "vendor", "data"}},
			[]string{".gitignore", "README.md", "logs", "logs/today.log", "main.go", "notes.tmp"}},
		{"no defaults", Spec{NoDefaultExcludes: true, Excludes: []string{"/sub", "vendor", "data", "node_modules", "__pycache__"}},
			[]string{".git", ".git/HEAD", ".gitignore", "README.md", "main.go"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Binary, spec.WorkingDir = bin, wd
			pkg := pack(t, spec, PackOptions{})
			var got []string
			for _, p := range paths(pkg.Files) {
				if rest, ok := strings.CutPrefix(p, "wd/"); ok {
					got = append(got, rest)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("packed %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestPackExtraFiles(t *testing.T) {
	j := newJob(t)
	extra := writeFile(t, j.dir, "elsewhere/model.bin", []byte("weights"), 0o644)
	writeFile(t, j.dir, "assets/a.txt", []byte("A"), 0o644)
	writeFile(t, j.dir, "assets/.git/x", []byte("git"), 0o644)
	override := writeFile(t, j.dir, "prod.yaml", []byte("workers: 64\n"), 0o644)
	j.spec.ExtraFiles = map[string]string{
		"models/m.bin": extra,
		"assets":       filepath.Join(j.dir, "assets"),
		"config.yaml":  override,
	}
	pkg := pack(t, j.spec, PackOptions{})
	dir := filepath.Join(t.TempDir(), "u")
	l, err := UnpackFile(context.Background(), pkg.Path, pkg.Hash, dir, UnpackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{"models/m.bin": "weights", "assets/a.txt": "A", "config.yaml": "workers: 64\n"} {
		got, err := os.ReadFile(filepath.Join(l.WorkDir, rel))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", rel, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(l.WorkDir, "assets", ".git")); !errors.Is(err, os.ErrNotExist) {
		t.Error("an extra directory's .git was packed")
	}
}

func TestPackSymlinks(t *testing.T) {
	j := newJob(t)
	wd := j.spec.WorkingDir
	outside := writeFile(t, j.dir, "secret.txt", []byte("do not ship"), 0o644)
	for link, target := range map[string]string{
		"current.yaml":   "config.yaml",
		"data/up.yaml":   "../config.yaml",
		"scripts-link":   "scripts",
		"abs-inside":     filepath.Join(wd, "data", "table.csv"),
		"leak":           outside,
		"leak-relative":  "../secret.txt",
		"dangling":       "nothing-here",
		"data/self-loop": "self-loop",
	} {
		if err := os.Symlink(target, filepath.Join(wd, link)); err != nil {
			t.Fatal(err)
		}
	}
	var notes []string
	pkg := pack(t, j.spec, PackOptions{Warn: func(s string) { notes = append(notes, s) }})
	links := map[string]string{}
	for _, f := range pkg.Files {
		if f.Type == TypeLink {
			links[f.Path] = f.Link
		}
	}
	want := map[string]string{
		"wd/current.yaml": "config.yaml",
		"wd/data/up.yaml": "../config.yaml",
		"wd/scripts-link": "scripts",
		"wd/abs-inside":   "data/table.csv",
	}
	if fmt.Sprint(links) != fmt.Sprint(want) {
		t.Fatalf("links %v, want %v", links, want)
	}
	joined := strings.Join(notes, "\n")
	for _, s := range []string{"leak -> " + outside, "leak-relative -> ../secret.txt", "points outside", "dangling -> nothing-here", "does not exist"} {
		if !strings.Contains(joined, s) {
			t.Errorf("notes do not mention %q:\n%s", s, joined)
		}
	}
	dir := filepath.Join(t.TempDir(), "u")
	l, err := UnpackFile(context.Background(), pkg.Path, pkg.Hash, dir, UnpackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(l.WorkDir, "data", "up.yaml")); err != nil || string(got) != "workers: 4\n" {
		t.Fatalf("link through unpack: %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(l.WorkDir, "scripts-link", "run.sh")); err != nil || !strings.HasPrefix(string(got), "#!") {
		t.Fatalf("directory link through unpack: %q, %v", got, err)
	}
}

func TestPackBadInput(t *testing.T) {
	j := newJob(t)
	file := filepath.Join(j.spec.WorkingDir, "config.yaml")
	tests := []struct {
		name   string
		mutate func(s *Spec)
		want   string
	}{
		{"no binary", func(s *Spec) { s.Binary = "" }, "Spec.Binary is empty"},
		{"missing binary", func(s *Spec) { s.Binary = filepath.Join(j.dir, "nope") }, "binary " + filepath.Join(j.dir, "nope") + " does not exist"},
		{"binary is a directory", func(s *Spec) { s.Binary = j.dir }, "is not a regular file"},
		{"missing working directory", func(s *Spec) { s.WorkingDir = filepath.Join(j.dir, "gone") }, "working directory " + filepath.Join(j.dir, "gone") + " does not exist"},
		{"working directory is a file", func(s *Spec) { s.WorkingDir = file }, "is not a directory"},
		{"bad pattern", func(s *Spec) { s.Excludes = []string{"data/[x"} }, `pattern "data/[x" (Spec.Excludes)`},
		{"bad env", func(s *Spec) { s.Env = []string{"NOVALUE"} }, `"NOVALUE" is not KEY=VALUE`},
		{"duplicate env", func(s *Spec) { s.Env = []string{"A=1", "A=2"} }, "A is set twice"},
		{"escaping extra", func(s *Spec) { s.ExtraFiles = map[string]string{"../x": file} }, "must be a relative path inside the working directory"},
		{"absolute extra", func(s *Spec) { s.ExtraFiles = map[string]string{"/etc/x": file} }, "must be a relative path"},
		{"missing extra", func(s *Spec) { s.ExtraFiles = map[string]string{"x": filepath.Join(j.dir, "nope")} }, "does not exist"},
		{"extra under a file", func(s *Spec) { s.ExtraFiles = map[string]string{"config.yaml/x": file} }, "needs config.yaml to be a directory"},
		{"extra over a directory", func(s *Spec) { s.ExtraFiles = map[string]string{"data": file} }, "is a directory in the working directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := j.spec
			tt.mutate(&spec)
			_, err := Pack(context.Background(), spec, PackOptions{TempDir: t.TempDir()})
			if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant ErrBadSpec mentioning %q", err, tt.want)
			}
		})
	}
	if os.Geteuid() != 0 { // root reads everything
		locked := filepath.Join(j.spec.WorkingDir, "locked")
		os.Mkdir(locked, 0o000)
		defer os.Chmod(locked, 0o755)
		_, err := Pack(context.Background(), j.spec, PackOptions{TempDir: t.TempDir()})
		if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), "reading directory "+locked) {
			t.Fatalf("unreadable directory: %v", err)
		}
	}
}

// TestPackOverLimit: an over-limit package fails before anything is
// compressed, and the error says what to do.
func TestPackOverLimit(t *testing.T) {
	j := newJob(t)
	for i := range 12 {
		writeFile(t, j.spec.WorkingDir, fmt.Sprintf("data/part-%02d.bin", i), make([]byte, (i+1)*10_000), 0o644)
	}
	tmp := t.TempDir()
	_, err := Pack(context.Background(), j.spec, PackOptions{Limit: 500_000, TempDir: tmp, Warn: func(string) {}})
	var le *LimitError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &le) {
		t.Fatalf("got %v, want a LimitError", err)
	}
	if le.Limit != 500_000 || le.Size != 200<<10+780_000+11+8+18 || len(le.Largest) != 10 {
		t.Fatalf("limit error %+v", le)
	}
	if le.Largest[0].Path != "bin/app" || le.Largest[1].Path != "wd/data/part-11.bin" || le.Largest[9].Path != "wd/data/part-03.bin" {
		t.Fatalf("largest files %v", le.Largest)
	}
	msg := err.Error()
	for _, want := range []string{
		"the package is 961.8 KiB (984837 bytes in 16 files)", "over the limit of 488.3 KiB (500000 bytes)",
		"the 10 largest files are:", "200.0 KiB  bin/app", "117.2 KiB  wd/data/part-11.bin", "39.1 KiB  wd/data/part-03.bin",
		"--exclude PATTERN", "Spec.Excludes", "--package-limit SIZE", "PackOptions.Limit",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "part-02.bin") {
		t.Errorf("the error names more than ten files:\n%s", msg)
	}
	if des, _ := os.ReadDir(tmp); len(des) != 0 {
		t.Fatalf("an archive was started before the limit check: %v", des)
	}
	// Raising the limit, or excluding the data, packs.
	pack(t, j.spec, PackOptions{Limit: 2_000_000})
	j.spec.Excludes = []string{"data/*.bin"}
	pack(t, j.spec, PackOptions{Limit: 500_000})
}

func TestPackWarnsAboutLargeFiles(t *testing.T) {
	j := newJob(t)
	writeFile(t, j.spec.WorkingDir, "data/huge.parquet", make([]byte, 10<<20), 0o644)
	writeFile(t, j.dir, "build/app", make([]byte, 11<<20), 0o755) // the binary is not warned about
	var notes []string
	pack(t, j.spec, PackOptions{Warn: func(s string) { notes = append(notes, s) }})
	if len(notes) != 1 || !strings.Contains(notes[0], "wd/data/huge.parquet is 10.0 MiB") || !strings.Contains(notes[0], `--exclude "data/huge.parquet"`) {
		t.Fatalf("warnings %q", notes)
	}
}

// TestPackCache: an unchanged Spec reuses its archive without reading the
// files; any change, or files too fresh to trust, packs again.
func TestPackCache(t *testing.T) {
	j := newJob(t)
	cache := t.TempDir()
	opts := PackOptions{CacheDir: cache}
	first := pack(t, j.spec, opts) // files just written: racy, not indexed
	again := pack(t, j.spec, opts)
	if again.Reused || again.Hash != first.Hash {
		t.Fatalf("racy files reused: %+v", again)
	}
	backdate(t, j.dir)
	a := pack(t, j.spec, opts)
	b := pack(t, j.spec, opts)
	if a.Hash != first.Hash || a.Reused || !b.Reused || b.Hash != a.Hash || b.Path != a.Path {
		t.Fatalf("first %s, then %+v, then %+v", first.Hash, a, b)
	}
	if !slices.Equal(paths(b.Files), paths(a.Files)) || b.Size != a.Size {
		t.Fatal("a reused package describes other files")
	}
	// Same content, new modification time: packed again, same hash.
	writeFile(t, j.spec.WorkingDir, "config.yaml", []byte("workers: 4\n"), 0o644)
	backdate(t, j.dir)
	c := pack(t, j.spec, opts)
	if c.Reused || c.Hash != a.Hash {
		t.Fatalf("touched file: %+v", c)
	}
	// New content: new hash.
	writeFile(t, j.spec.WorkingDir, "config.yaml", []byte("workers: 8\n"), 0o644)
	backdate(t, j.dir)
	d := pack(t, j.spec, opts)
	if d.Reused || d.Hash == a.Hash {
		t.Fatalf("changed file: %+v", d)
	}
	// Another Spec over the same files: its own entry.
	j.spec.Env = append(j.spec.Env, "C=3")
	if e := pack(t, j.spec, opts); e.Reused || e.Hash == d.Hash {
		t.Fatalf("changed env: %+v", e)
	}
	// Over budget, older archives go.
	j.spec.Env = append(j.spec.Env, "D=4")
	pack(t, j.spec, PackOptions{CacheDir: cache, CacheBytes: 1})
	des, _ := os.ReadDir(filepath.Join(cache, "archives"))
	if len(des) != 1 {
		t.Fatalf("the cache kept %d archives over its budget", len(des))
	}
}

func TestPackRefusesFileChangedWhilePacking(t *testing.T) {
	j := newJob(t)
	w, err := walk(context.Background(), j.spec)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, j.spec.WorkingDir, "config.yaml", []byte("workers: 16\n"), 0o644)
	_, _, err = writeArchive(context.Background(), w, w.manifest(), io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "changed while it was being packed") {
		t.Fatalf("got %v", err)
	}
}
