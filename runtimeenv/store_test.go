package runtimeenv

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zeebo/blake3"
)

// hashOf is a package's address computed independently of the package's
// own hashing: the BLAKE3 of its bytes.
func hashOf(b []byte) string {
	s := blake3.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestStoreResumesAndSkipsHeldBytes(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, StoreOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(5, 3<<20+123)
	h, size := hashOf(data), int64(len(data))
	if held, complete, err := s.Write(h, size, size, 0, data[:1<<20]); err != nil || complete || held != 1<<20 {
		t.Fatalf("first chunk: %d %v %v", held, complete, err)
	}
	// A gap is refused; what is held is skipped.
	if _, _, err := s.Write(h, size, size, 2<<20, data[2<<20:3<<20]); !errors.Is(err, errGap) {
		t.Fatalf("gap: %v", err)
	}
	if held, _, err := s.Write(h, size, size, 512<<10, data[512<<10:3<<19]); err != nil || held != 3<<19 {
		t.Fatalf("overlap: %d %v", held, err)
	}
	// The head restarts: the partial file is kept and rehashed.
	s.Close()
	s, err = OpenStore(dir, StoreOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if held, _, complete, _ := s.Stat(h); held != 3<<19 || complete {
		t.Fatalf("after restart: held %d complete %v", held, complete)
	}
	if held, complete, err := s.Write(h, size, size, 3<<19, data[3<<19:]); err != nil || !complete || held != size {
		t.Fatalf("last chunk: %d %v %v", held, complete, err)
	}
	f, n, err := s.OpenPackage(h)
	if err != nil || n != size {
		t.Fatal(n, err)
	}
	got := make([]byte, n)
	f.ReadAt(got, 0)
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("stored bytes differ")
	}
	if _, err := os.Stat(filepath.Join(dir, h+".partial")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("partial file left after completion")
	}
	// Writing to a complete package is a no-op that says so.
	if held, complete, err := s.Write(h, size, size, 0, data[:10]); err != nil || !complete || held != size {
		t.Fatalf("write after completion: %d %v %v", held, complete, err)
	}
}

func TestStoreMismatchDeletesPartial(t *testing.T) {
	s := openStore(t, 0)
	data := randomBytes(6, 100_000)
	wrong := hashOf([]byte("something else"))
	_, _, err := s.Write(wrong, 100_000, 100_000, 0, data)
	if !errors.Is(err, ErrHashMismatch) || !strings.Contains(err.Error(), "partial upload was deleted") {
		t.Fatalf("got %v", err)
	}
	if held, _, _, _ := s.Stat(wrong); held != 0 {
		t.Fatalf("held %d after a mismatch", held)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Fatalf("store holds %v", list)
	}
	// A fresh upload of the right bytes under their hash works after it.
	if _, complete, err := s.Write(hashOf(data), 100_000, 100_000, 0, data); err != nil || !complete {
		t.Fatal(complete, err)
	}
}

func TestStoreLimit(t *testing.T) {
	s := openStore(t, 1<<20)
	h := hashOf([]byte("x"))
	_, _, err := s.Write(h, 1000, 2<<20, 0, []byte("x"))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "--package-limit SIZE") || !strings.Contains(err.Error(), "2.0 MiB") {
		t.Fatalf("content over the limit: %v", err)
	}
	if _, _, err := s.Write(h, ArchiveLimit(1<<20)+1, 1000, 0, []byte("x")); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("archive over the limit: %v", err)
	}
	if _, _, err := s.Write(h, 0, 0, 0, nil); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("no size: %v", err)
	}
	if _, _, err := s.Write("../../etc/passwd", 1, 1, 0, []byte("x")); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("path as hash: %v", err)
	}
}

// TestStoreConcurrentWriters: clients uploading the same package at once
// all finish, and the package is stored once.
func TestStoreConcurrentWriters(t *testing.T) {
	s := openStore(t, 0)
	data := randomBytes(8, 2<<20)
	h, size := hashOf(data), int64(len(data))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chunk := 64<<10 + w*1000
			for off := int64(0); off < size; {
				held, complete, err := s.Write(h, size, size, off, data[off:min(off+int64(chunk), size)])
				if errors.Is(err, errGap) {
					off = held // resume where the store is, as the client does
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if complete {
					return
				}
				off = held
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, _, complete, _ := s.Stat(h); !complete {
		t.Fatal("not complete")
	}
}

func TestStorePut(t *testing.T) {
	s := openStore(t, 0)
	data := randomBytes(9, 3<<20)
	if err := s.Put(context.Background(), hashOf(data), bytes.NewReader(data), int64(len(data)), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if _, _, complete, _ := s.Stat(hashOf(data)); !complete {
		t.Fatal("Put did not complete")
	}
	if err := s.Remove(hashOf(data)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.OpenPackage(hashOf(data)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Remove: %v", err)
	}
}
