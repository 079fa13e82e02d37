package runtimeenv

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// FuzzUnpack feeds arbitrary bytes to Unpack, as the archive itself and as
// the tar stream inside a well-formed zstd frame (so that mutations reach
// the manifest and entry checks, not only the decompressor). Whatever the
// bytes, nothing is written outside the target, a refused archive leaves
// nothing behind, an accepted one holds no link that leaves it, and
// nothing panics.
func FuzzUnpack(f *testing.F) {
	good, _ := craft(f, baseManifest(), baseEntries...)
	f.Add(good)
	escaping, _ := craft(f, baseManifest(File{Path: "wd/l", Type: TypeLink, Link: "../../x"}), append(baseEntries, link("wd/l", "../../x"))...)
	f.Add(escaping)
	dotdot, _ := craft(f, baseManifest(File{Path: "wd/../../evil", Size: 1}), append(baseEntries, reg("wd/../../evil", "x"))...)
	f.Add(dotdot)
	dec, err := zstd.NewReader(nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, a := range [][]byte{good, escaping, dotdot} {
		tarBytes, err := dec.DecodeAll(a, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tarBytes)
	}
	dec.Close()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { enc.Close() })
	base := f.TempDir()
	runs := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, archive := range [][]byte{data, enc.EncodeAll(data, nil)} {
			runs++
			parent := filepath.Join(base, fmt.Sprint(runs))
			dir := filepath.Join(parent, "pkg")
			_, err := Unpack(context.Background(), bytes.NewReader(archive), hashOf(archive), dir, UnpackOptions{Limit: 1 << 20})
			des, _ := os.ReadDir(parent)
			if err != nil && len(des) != 0 {
				t.Fatalf("a refused archive (%v) left %v behind", err, des)
			}
			if err == nil {
				if len(des) != 1 || des[0].Name() != "pkg" {
					t.Fatalf("an unpacked archive left %v beside its target", des)
				}
				checkInside(t, dir)
			}
			removeTree(t, parent)
			if left, _ := os.ReadDir(base); len(left) != 0 {
				t.Fatalf("unpacking wrote %v outside its target", left)
			}
		}
	})
}

// checkInside fails t if a link under dir points outside it.
func checkInside(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		target, _ := os.Readlink(p)
		resolved := filepath.Join(filepath.Dir(p), target)
		if filepath.IsAbs(target) || resolved != dir && !strings.HasPrefix(resolved, dir+string(filepath.Separator)) {
			t.Fatalf("link %s points outside the package, to %s", p, target)
		}
		return nil
	})
}

// removeTree removes a tree Unpack made read-only.
func removeTree(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
}
