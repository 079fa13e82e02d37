package runtimeenv

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// rawEntry is a tar entry for a hand-made archive.
type rawEntry struct {
	hdr  tar.Header
	data string
}

// craft builds an archive with the given manifest and entries, and
// returns it with its hash (so that only the checks under test reject it).
func craft(t testing.TB, m any, entries ...rawEntry) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	enc, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(enc)
	mdata, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	tw.WriteHeader(&tar.Header{Name: manifestName, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(mdata))})
	tw.Write(mdata)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.data))
	}
	tw.Close()
	enc.Close()
	return buf.Bytes(), hashOf(buf.Bytes())
}

func reg(name, data string) rawEntry {
	return rawEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg}, data: data}
}
func dirEntry(name string) rawEntry {
	return rawEntry{hdr: tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755}}
}
func link(name, target string) rawEntry {
	return rawEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}}
}

func baseManifest(files ...File) Manifest {
	return Manifest{Format: formatVersion, Binary: "bin/app", WorkDir: "wd", Env: []string{},
		Files: append([]File{{Path: "bin", Type: TypeDir}, {Path: "bin/app", Size: 1}, {Path: "wd", Type: TypeDir}}, files...)}
}

var baseEntries = []rawEntry{dirEntry("bin"), reg("bin/app", "x"), dirEntry("wd")}

// TestUnpackRefusesUnsafeArchives: nothing is written outside the target,
// and the target never appears, whatever the archive says.
func TestUnpackRefusesUnsafeArchives(t *testing.T) {
	tests := []struct {
		name    string
		m       Manifest
		entries []rawEntry
		want    string
	}{
		{"dotdot path", baseManifest(File{Path: "wd/../../evil", Size: 1}), append(baseEntries, reg("wd/../../evil", "x")), "unsafe or unclean path"},
		{"absolute path", baseManifest(File{Path: "/tmp/evil", Size: 1}), append(baseEntries, reg("/tmp/evil", "x")), "unsafe or unclean path"},
		{"outside bin and wd", baseManifest(File{Path: "zz", Type: TypeDir}), append(baseEntries, dirEntry("zz")), "outside bin/ and wd/"},
		{"absolute link", baseManifest(File{Path: "wd/l", Type: TypeLink, Link: "/etc/passwd"}), append(baseEntries, link("wd/l", "/etc/passwd")), "is empty or absolute"},
		{"escaping link", baseManifest(File{Path: "wd/l", Type: TypeLink, Link: "../../x"}), append(baseEntries, link("wd/l", "../../x")), "points outside the package"},
		{"climbing link", baseManifest(File{Path: "wd/l", Type: TypeLink, Link: "a/../.."}), append(baseEntries, link("wd/l", "a/../..")), "is not clean"},
		{"write through a link", baseManifest(File{Path: "wd/l", Type: TypeLink, Link: "."}, File{Path: "wd/l/x", Size: 1}),
			append(baseEntries, link("wd/l", "."), reg("wd/l/x", "x")), "comes before (or without) its directory"},
		{"entry not in the manifest", baseManifest(), append(baseEntries, reg("wd/extra", "x")), `entry "wd/extra" is not in the manifest`},
		{"entry differs from the manifest", baseManifest(File{Path: "wd/a", Size: 5}), append(baseEntries, reg("wd/a", "abc")), "does not match the manifest"},
		{"entry of another name", baseManifest(File{Path: "wd/a", Size: 1}), append(baseEntries, reg("../a", "x")), "does not match the manifest"},
		{"out of order", baseManifest(File{Path: "wd/b", Size: 1}, File{Path: "wd/a", Size: 1}), append(baseEntries, reg("wd/b", "x"), reg("wd/a", "x")), "out of order"},
		{"unknown format", func() Manifest { m := baseManifest(); m.Format = 99; return m }(), baseEntries, "package format 99"},
		{"no binary", func() Manifest { m := baseManifest(); m.Binary = "bin/other"; return m }(), baseEntries, "does not list its binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "sub", "pkg")
			data, hash := craft(t, tt.m, tt.entries...)
			_, err := Unpack(context.Background(), bytes.NewReader(data), hash, dir, UnpackOptions{})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant ErrCorrupt mentioning %q", err, tt.want)
			}
			des, _ := os.ReadDir(filepath.Join(parent, "sub"))
			if len(des) != 0 {
				t.Fatalf("left %v behind", des)
			}
			if _, err := os.Lstat(filepath.Join(parent, "evil")); err == nil {
				t.Fatal("wrote outside the target")
			}
		})
	}
}

func TestUnpackChecksHash(t *testing.T) {
	j := newJob(t)
	pkg := pack(t, j.spec, PackOptions{})
	data, _ := os.ReadFile(pkg.Path)
	parent := t.TempDir()
	dir := filepath.Join(parent, "pkg")

	// A flipped byte in the middle: refused, by the hash or by zstd's own
	// checksum, with nothing left behind.
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0x40
	_, err := Unpack(context.Background(), bytes.NewReader(bad), pkg.Hash, dir, UnpackOptions{})
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("damaged archive: %v", err)
	}
	// Trailing bytes change the hash too.
	_, err = Unpack(context.Background(), bytes.NewReader(append(bytes.Clone(data), 0)), pkg.Hash, dir, UnpackOptions{})
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("trailing byte: %v", err)
	}
	// The right bytes under another name.
	other := strings.Repeat("ab", 32)
	_, err = Unpack(context.Background(), bytes.NewReader(data), other, dir, UnpackOptions{})
	if !errors.Is(err, ErrHashMismatch) || !strings.Contains(err.Error(), "hash to "+pkg.Hash[:12]) {
		t.Fatalf("wrong hash: %v", err)
	}
	if des, _ := os.ReadDir(parent); len(des) != 0 {
		t.Fatalf("left %v behind", des)
	}
	if _, err := Unpack(context.Background(), bytes.NewReader(data), "nothex", dir, UnpackOptions{}); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("bad hash accepted: %v", err)
	}
	if _, err := Unpack(context.Background(), bytes.NewReader(data), pkg.Hash, dir, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Unpack(context.Background(), bytes.NewReader(data), pkg.Hash, dir, UnpackOptions{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("unpacked over an existing directory: %v", err)
	}
}

func TestUnpackEnforcesLimit(t *testing.T) {
	j := newJob(t)
	pkg := pack(t, j.spec, PackOptions{})
	_, err := UnpackFile(context.Background(), pkg.Path, pkg.Hash, filepath.Join(t.TempDir(), "p"), UnpackOptions{Limit: 1000})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
}

func TestCheckLinkTarget(t *testing.T) {
	for _, tt := range []struct {
		link, target string
		ok           bool
	}{
		{"wd/a", "b", true},
		{"wd/x/a", "../b", true},
		{"wd/x/a", "../../bin/app", true},
		{"wd/a", "..", true}, // the package root
		{"wd/a", "../..", false},
		{"wd/a", "/abs", false},
		{"wd/a", "./b", false},
		{"wd/a", "b/../c", false},
		{"wd/a", "b/..", false},
		{"wd/a", "", false},
	} {
		err := checkLinkTarget(tt.link, tt.target)
		if (err == nil) != tt.ok {
			t.Errorf("%s -> %s: %v, want ok=%v", tt.link, tt.target, err, tt.ok)
		}
	}
}
