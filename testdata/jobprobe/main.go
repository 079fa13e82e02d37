// Command jobprobe is a job for the tests of `shoal job submit`: on every
// node of its cluster it reads a file of its working directory and an
// environment variable, and prints what each node saw together with the
// version it was built with (-ldflags "-X main.version=...").
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"

	"github.com/shoal-dev/shoal"
)

var version = "unset"

var probe = shoal.Func1("jobprobe.probe", func(ctx context.Context, file string) (string, error) {
	// What `shoal logs` must show: a line on stdout, and on stderr a line
	// longer than a node keeps whole (cut with a marker) then one after it.
	fmt.Printf("probe ran on node=%s version=%s\n", shoal.NodeID(ctx), version)
	fmt.Fprintf(os.Stderr, "long %s\nprobe stderr after the long line node=%s version=%s\n", strings.Repeat("z", 100<<10), shoal.NodeID(ctx), version)
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("node=%s version=%s env=%s file=%s", shoal.NodeID(ctx), version, os.Getenv("PROBE_ENV"), strings.TrimSpace(string(b))), nil
})

func main() {
	file := flag.String("file", "data.txt", "file of the working directory to read on every node")
	flag.Parse()
	ctx, err := shoal.Init(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var lines []string
	for _, n := range st.Nodes {
		if !n.Alive {
			continue
		}
		s, err := probe.With(shoal.WithNodeAffinity(n.ID, false)).Remote(ctx, *file).Get(ctx)
		if err != nil {
			log.Fatalf("on node %s: %v", n.ID, err)
		}
		lines = append(lines, s)
	}
	sort.Strings(lines)
	fmt.Printf("driver version=%s nodes=%d\n", version, len(lines))
	for _, l := range lines {
		fmt.Println(l)
	}
}
