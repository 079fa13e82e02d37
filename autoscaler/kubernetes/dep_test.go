package kubernetes

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundaries keeps client-go where it belongs. The job binary
// (package shoal and the executor runtime, linked into every user program
// shipped to the cluster) and the autoscaler's core must not link
// Kubernetes; this provider, linked into the head, must not link the
// executor runtime or the public API (it runs nodes, it does not run
// tasks).
func TestImportBoundaries(t *testing.T) {
	const module = "github.com/shoal-dev/shoal"
	k8s := []string{"k8s.io/", "sigs.k8s.io/", module + "/autoscaler/kubernetes"}
	tests := []struct {
		pkg       string
		forbidden []string // prefixes; a trailing "$" means exactly this package
	}{
		{module, k8s},
		{module + "/internal/executor", k8s},
		{module + "/autoscaler", k8s},
		{module + "/autoscaler/kubernetes", []string{
			module + "$",
			module + "/internal/executor",
			module + "/dataframe",
			"github.com/apache/arrow-go",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", tc.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", tc.pkg, err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, f := range tc.forbidden {
					exact, isExact := strings.CutSuffix(f, "$")
					if isExact && dep == exact || !isExact && strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on %s", tc.pkg, dep)
					}
				}
			}
		})
	}
}
