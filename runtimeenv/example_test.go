package runtimeenv_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/runtimeenv"
)

// A client packs the job and uploads it to the head; an unchanged job
// uploads nothing.
func ExamplePack() {
	ctx := context.Background()
	self, _ := os.Executable()
	cacheDir, _ := os.UserCacheDir()
	pkg, err := runtimeenv.Pack(ctx, runtimeenv.Spec{
		Binary:     self,
		WorkingDir: ".",
		Excludes:   []string{"testdata/large/"},
		Env:        []string{"GOMAXPROCS=8"},
	}, runtimeenv.PackOptions{
		CacheDir: filepath.Join(cacheDir, "shoal", "packages"),
		Warn:     func(msg string) { fmt.Fprintln(os.Stderr, "warning:", msg) },
	})
	var tooLarge *runtimeenv.LimitError
	if errors.As(err, &tooLarge) {
		log.Fatal(err) // names the size, the limit, the largest files and what to do
	} else if err != nil {
		log.Fatal(err)
	}
	conn, err := rpc.Dial(ctx, "head:7380", os.Getenv(rpc.TokenEnv), 0, rpc.TLSConfig{}, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	st, err := runtimeenv.Upload(ctx, conn, pkg, func(sent, total int64) {})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pkg.Hash, st.Skipped)
}

// A node agent starts a job's executor from its package, fetched from a
// peer that holds it or else from the head.
func ExampleCache_Acquire() {
	ctx := context.Background()
	cache := &runtimeenv.Cache{Dir: "/var/lib/shoal/packages", BudgetBytes: 20 << 30}
	var peer, head *grpc.ClientConn // dialled with rpc.Dial
	hash, job := "9c1185a5c5e9fc54612808977ee8f548b2258d31c2e6d9e7b48e1e1b1b0e4a27", "job-42"
	dir, err := cache.Acquire(ctx, hash, job, runtimeenv.Fetcher(peer, head))
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Release(hash, job)
	l, err := runtimeenv.ReadLayout(dir)
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, l.Binary)
	cmd.Dir = l.WorkDir // shared and read-only: write elsewhere
	cmd.Env = append(os.Environ(), l.Env...)
	_ = cmd.Run()
}
