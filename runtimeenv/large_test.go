package runtimeenv

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/bytesize"
)

// TestLargePackage: a 1.5 GiB package (a real Go binary plus incompressible
// data) is packed, uploaded, fetched by a node and unpacked, in bounded
// memory. It takes about 30 s on two cores shared with other work, and
// 4.5 GiB of temporary disk. So it is skipped with -short and on CI
// (CI=true) unless SHOAL_LARGE_TESTS=1.
func TestLargePackage(t *testing.T) {
	if os.Getenv("SHOAL_LARGE_TESTS") != "1" && (testing.Short() || os.Getenv("CI") == "true") {
		t.Skip("a 1.5 GiB package takes about 30 s and 4.5 GiB of disk; run with SHOAL_LARGE_TESTS=1 to include it")
	}
	const dataBytes = 3 << 29 // 1.5 GiB
	const need = 5 << 30
	dir := t.TempDir()
	if free := freeDisk(dir); free < need {
		t.Skipf("needs %s of free disk under %s, has %s", bytesize.Format(need), dir, bytesize.Format(free))
	}
	start := time.Now()
	mark := func(what string) {
		t.Logf("%-8s %6.1fs", what, time.Since(start).Seconds())
		start = time.Now()
	}
	bin, err := os.Executable() // this test binary: a real Go binary
	if err != nil {
		t.Fatal(err)
	}
	wd := filepath.Join(dir, "wd")
	writeRandomFile(t, filepath.Join(writeDir(t, wd, "data"), "part-0.bin"), 21, dataBytes/2)
	writeRandomFile(t, filepath.Join(wd, "data", "part-1.bin"), 22, dataBytes/2)
	writeFile(t, wd, "config.yaml", []byte("rows: 1e9\n"), 0o644)
	mark("data")

	ctx := context.Background()
	pkg, err := Pack(ctx, Spec{Binary: bin, WorkingDir: wd}, PackOptions{TempDir: dir, Warn: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	if pkg.ContentSize() < dataBytes || pkg.Size < dataBytes {
		t.Fatalf("package of %d bytes (content %d)", pkg.Size, pkg.ContentSize())
	}
	os.RemoveAll(wd) // the comparison regenerates the data
	mark("pack")

	srv := startServer(t, openStore(t, 0), nil)
	st, err := Upload(ctx, srv.conn, pkg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.BytesSent != pkg.Size {
		t.Fatalf("upload %+v of %d bytes", st, pkg.Size)
	}
	mark("upload")
	pkg.Remove()

	cache := &Cache{Dir: filepath.Join(dir, "node"), Logger: discardLogger()}
	pdir, err := cache.Acquire(ctx, pkg.Hash, "job-1", Fetcher(srv.conn))
	if err != nil {
		t.Fatal(err)
	}
	mark("fetch")
	l, err := ReadLayout(pdir)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"part-0.bin", "part-1.bin"} {
		sameContent(t, filepath.Join(l.WorkDir, "data", name), randomStream(uint64(21+i)), dataBytes/2)
	}
	self, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	fi, _ := self.Stat()
	sameContent(t, l.Binary, self, fi.Size())
	mark("compare")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("package %s: %s archive, %s content; Go heap high-water %s", short(pkg.Hash), bytesize.Format(pkg.Size), bytesize.Format(pkg.ContentSize()), bytesize.Format(int64(ms.HeapSys)))
	if ms.HeapSys > 512<<20 {
		t.Errorf("the heap grew to %s moving a 1.5 GiB package; it should stay bounded", bytesize.Format(int64(ms.HeapSys)))
	}
	cache.Release(pkg.Hash, "job-1")
}

func writeDir(t *testing.T, parent, name string) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// sameContent compares a file with n bytes of want, block by block.
func sameContent(t *testing.T, path string, want io.Reader, n int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != n {
		t.Fatalf("%s: %v bytes, want %d (%v)", path, fi.Size(), n, err)
	}
	a, b := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); off < n; off += int64(len(a)) {
		k := min(int64(len(a)), n-off)
		if _, err := io.ReadFull(f, a[:k]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(want, b[:k]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a[:k], b[:k]) {
			t.Fatalf("%s differs near offset %d", path, off)
		}
	}
}
