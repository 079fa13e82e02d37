package runtimeenv

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// requirePrivate fails t if anything under root (root included) grants
// any permission to its group or to others: packages carry their jobs'
// environment values.
func requirePrivate(t *testing.T, root string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", p, fi.Mode().Perm())
		}
		n++
		return nil
	})
	if err != nil || n < 2 {
		t.Fatalf("walked %d entries of %s: %v", n, root, err)
	}
}

// The head's package store and a node's package cache keep packages (and
// the environment values in their manifests) to their owner: directories
// 0700, files 0600 or read-only to the owner.
func TestPackagesArePrivate(t *testing.T) {
	ctx := context.Background()
	data, hash := craft(t, baseManifest(File{Path: "wd/secret.env", Size: 6}), append(baseEntries, reg("wd/secret.env", "s3cret"))...)

	storeDir := filepath.Join(t.TempDir(), "store")
	os.MkdirAll(storeDir, 0o755) // (made by an older version)
	s, err := OpenStore(storeDir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, hash, bytes.NewReader(data), int64(len(data)), 7); err != nil {
		t.Fatal(err)
	}
	requirePrivate(t, storeDir)

	cacheDir := filepath.Join(t.TempDir(), "cache")
	c := &Cache{Dir: cacheDir, BudgetBytes: 1 << 30}
	dir, err := c.Acquire(ctx, hash, "job", func(_ context.Context, _ string, offset int64, dst io.Writer) error {
		_, err := dst.Write(data[offset:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.ReleaseJob("job")
	if _, err := os.Stat(filepath.Join(dir, "wd", "secret.env")); err != nil {
		t.Fatal(err)
	}
	requirePrivate(t, cacheDir)
}
