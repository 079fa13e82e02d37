package arena

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyStandardLibrary keeps this package free of other modules: its
// View side is linked into every executor, and so into every job binary.
func TestOnlyStandardLibrary(t *testing.T) {
	const self = "github.com/shoal-dev/shoal/internal/arena"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", self).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", self, err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != self {
			t.Errorf("%s depends on %s", self, dep)
		}
	}
}
