package dataframe_test

import (
	"os/exec"
	"strings"
	"testing"
)

func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

func checkNoImports(t *testing.T, pkgs, forbidden []string) {
	t.Helper()
	for _, dep := range deps(t, pkgs...) {
		for _, f := range forbidden {
			if dep == strings.TrimSuffix(f, "/") || strings.HasPrefix(dep, f) {
				t.Errorf("%v import %s", pkgs, dep)
			}
		}
	}
}

// TestKernelDependencies keeps the execution kernels free of RPC and network
// packages (the way CockroachDB's dep_test.go files do): they must stay small
// and runnable inside any task executor.
func TestKernelDependencies(t *testing.T) {
	checkNoImports(t, []string{
		"github.com/shoal-dev/shoal/dataframe/internal/coldata",
		"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop",
		"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval",
		"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashtable",
		"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashagg",
		"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashjoin",
		"github.com/shoal-dev/shoal/dataframe/internal/colexec/sorter",
		"github.com/shoal-dev/shoal/dataframe/internal/colexec/spill",
		"github.com/shoal-dev/shoal/dataframe/internal/exchange",
	}, []string{"google.golang.org/grpc", "google.golang.org/protobuf", "net/http", "net/rpc"})
}

// TestEngineDoesNotImportRuntime: the engine describes distributable stages
// but does not depend on Shoal's cluster runtime (the runtime will depend on it).
func TestEngineDoesNotImportRuntime(t *testing.T) {
	checkNoImports(t, []string{"github.com/shoal-dev/shoal/dataframe/..."},
		[]string{"github.com/shoal-dev/shoal/internal/", "github.com/spf13/cobra"})
}
