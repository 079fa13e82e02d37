package runtimeenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/shoal-dev/shoal/runtimeenv/pb"
)

// goBinaryLike writes a file of n bytes made of this test binary repeated:
// compresses like a real Go binary.
func goBinaryLike(b *testing.B, path string, n int64) {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	for left := n; left > 0; {
		k := min(left, int64(len(data)))
		f.Write(data[:k])
		left -= k
	}
	f.Close()
	os.Chmod(path, 0o755)
}

// realisticJob is the job of the re-submit goal: a ~40 MB Go binary and a
// few MB of files.
func realisticJob(b *testing.B) Spec {
	dir := b.TempDir()
	bin := filepath.Join(dir, "app")
	goBinaryLike(b, bin, 40<<20)
	wd := filepath.Join(dir, "wd")
	for i := range 200 {
		writeFile(b, wd, fmt.Sprintf("queries/q%03d.sql", i), randomBytes(uint64(i), 20<<10), 0o644)
	}
	writeFile(b, wd, "config.yaml", []byte("workers: 8\n"), 0o644)
	backdate(b, dir)
	return Spec{Binary: bin, WorkingDir: wd, Env: []string{"GOMAXPROCS=8"}}
}

// BenchmarkUpload measures upload throughput of an incompressible package
// over loopback gRPC with token auth (goal: 300 MB/s or more). Every
// iteration uploads the whole package to an empty store.
func BenchmarkUpload(b *testing.B) {
	dir := b.TempDir()
	writeRandomFile(b, filepath.Join(writeDirB(b, dir, "wd"), "blob.bin"), 31, 256<<20)
	writeFile(b, dir, "app", randomBytes(1, 1<<20), 0o755)
	pkg, err := Pack(context.Background(), Spec{Binary: filepath.Join(dir, "app"), WorkingDir: filepath.Join(dir, "wd")}, PackOptions{TempDir: dir, Warn: func(string) {}})
	if err != nil {
		b.Fatal(err)
	}
	store := openStore(b, 0)
	srv := startServer(b, store, nil)
	b.SetBytes(pkg.Size)
	b.ResetTimer()
	for range b.N {
		st, err := Upload(context.Background(), srv.conn, pkg, nil)
		if err != nil || st.BytesSent != pkg.Size {
			b.Fatal(st, err)
		}
		b.StopTimer()
		store.Remove(pkg.Hash)
		b.StartTimer()
	}
}

// BenchmarkResubmit measures an unchanged re-submission: Pack of an
// unchanged tree (the pack cache answers) and the Stat that tells the
// client the head holds it (goal: 200 ms or less).
func BenchmarkResubmit(b *testing.B) {
	spec := realisticJob(b)
	opts := PackOptions{CacheDir: b.TempDir(), Warn: func(string) {}}
	pkg, err := Pack(context.Background(), spec, opts)
	if err != nil {
		b.Fatal(err)
	}
	srv := startServer(b, openStore(b, 0), nil)
	if _, err := Upload(context.Background(), srv.conn, pkg, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		p, err := Pack(context.Background(), spec, opts)
		if err != nil || !p.Reused {
			b.Fatal("not reused", err)
		}
		st, err := Upload(context.Background(), srv.conn, p, nil)
		if err != nil || !st.Skipped {
			b.Fatal(st, err)
		}
	}
}

// BenchmarkResubmitNoCache is the same without a pack cache: everything
// is read, compressed and hashed again, and the upload is still skipped.
func BenchmarkResubmitNoCache(b *testing.B) {
	spec := realisticJob(b)
	tmp := b.TempDir()
	srv := startServer(b, openStore(b, 0), nil)
	b.ResetTimer()
	for i := range b.N {
		p, err := Pack(context.Background(), spec, PackOptions{TempDir: tmp, Warn: func(string) {}})
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			b.StopTimer()
			Upload(context.Background(), srv.conn, p, nil)
			b.StartTimer()
		} else if _, err := pb.NewPackagesClient(srv.conn).Stat(context.Background(), &pb.StatRequest{Hash: p.Hash}); err != nil {
			b.Fatal(err)
		}
		p.Remove()
	}
}

// BenchmarkPack measures packing throughput (content bytes per second).
func BenchmarkPack(b *testing.B) {
	for _, kind := range []string{"incompressible", "gobinary"} {
		b.Run(kind, func(b *testing.B) {
			dir := b.TempDir()
			bin := filepath.Join(dir, "app")
			if kind == "gobinary" {
				goBinaryLike(b, bin, 40<<20)
			} else {
				writeRandomFile(b, bin, 41, 128<<20)
			}
			var pkg *Package
			b.ResetTimer()
			for range b.N {
				var err error
				pkg, err = Pack(context.Background(), Spec{Binary: bin}, PackOptions{TempDir: dir, Warn: func(string) {}})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				pkg.Remove()
				b.StartTimer()
			}
			b.SetBytes(pkg.ContentSize())
			b.ReportMetric(float64(pkg.Size)/float64(pkg.ContentSize()), "ratio")
		})
	}
}

// BenchmarkFetch measures a node's first use of an incompressible package:
// download, hash check and unpacking.
func BenchmarkFetch(b *testing.B) {
	dir := b.TempDir()
	writeRandomFile(b, filepath.Join(writeDirB(b, dir, "wd"), "blob.bin"), 51, 256<<20)
	writeFile(b, dir, "app", randomBytes(1, 1<<20), 0o755)
	pkg, err := Pack(context.Background(), Spec{Binary: filepath.Join(dir, "app"), WorkingDir: filepath.Join(dir, "wd")}, PackOptions{TempDir: dir, Warn: func(string) {}})
	if err != nil {
		b.Fatal(err)
	}
	srv := startServer(b, openStore(b, 0), nil)
	if _, err := Upload(context.Background(), srv.conn, pkg, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(pkg.Size)
	b.ResetTimer()
	for range b.N {
		c := &Cache{Dir: b.TempDir(), Logger: discardLogger()}
		if _, err := c.Acquire(context.Background(), pkg.Hash, "j", Fetcher(srv.conn)); err != nil {
			b.Fatal(err)
		}
	}
}

func writeDirB(b *testing.B, parent, name string) string {
	p := filepath.Join(parent, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkDownload measures the transfer alone (no hashing, no disk on
// the receiving side): the chunked stream with its CRC-32C checks.
func BenchmarkDownload(b *testing.B) {
	dir := b.TempDir()
	writeRandomFile(b, filepath.Join(writeDirB(b, dir, "wd"), "blob.bin"), 61, 256<<20)
	writeFile(b, dir, "app", randomBytes(1, 1<<20), 0o755)
	pkg, err := Pack(context.Background(), Spec{Binary: filepath.Join(dir, "app"), WorkingDir: filepath.Join(dir, "wd")}, PackOptions{TempDir: dir, Warn: func(string) {}})
	if err != nil {
		b.Fatal(err)
	}
	srv := startServer(b, openStore(b, 0), nil)
	if _, err := Upload(context.Background(), srv.conn, pkg, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(pkg.Size)
	b.ResetTimer()
	for range b.N {
		if _, err := Download(context.Background(), srv.conn, pkg.Hash, 0, io.Discard, nil); err != nil {
			b.Fatal(err)
		}
	}
}
