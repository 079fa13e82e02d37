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

// TestEngineDoesNotImportRuntime: the engine (planner, operators, kernels)
// describes distributable stages but does not depend on Shoal's cluster
// runtime; only the API's Collect and the package that runs stages on a
// cluster (internal/cluster) use it, through its public package.
func TestEngineDoesNotImportRuntime(t *testing.T) {
	var engine []string
	for _, p := range deps(t, "github.com/shoal-dev/shoal/dataframe/...") {
		if strings.HasPrefix(p, "github.com/shoal-dev/shoal/dataframe/internal/") && p != "github.com/shoal-dev/shoal/dataframe/internal/cluster" {
			engine = append(engine, p)
		}
	}
	checkNoImports(t, engine, []string{"github.com/shoal-dev/shoal/internal/", "github.com/shoal-dev/shoal/dataframe/internal/cluster", "github.com/spf13/cobra"})
	for _, p := range engine {
		for _, dep := range deps(t, p) {
			if dep == "github.com/shoal-dev/shoal" {
				t.Errorf("%s imports the runtime (github.com/shoal-dev/shoal)", p)
			}
		}
	}
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", "github.com/shoal-dev/shoal/dataframe", "github.com/shoal-dev/shoal/dataframe/internal/cluster").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		// (arrowrows is not the runtime: the struct mapping shared with the
		// data package, Arrow and reflection only.)
		if strings.HasPrefix(imp, "github.com/shoal-dev/shoal/internal/") && imp != "github.com/shoal-dev/shoal/internal/arrowrows" {
			t.Errorf("the dataframe API or its cluster runner imports %s: use the public shoal package", imp)
		}
	}
}
