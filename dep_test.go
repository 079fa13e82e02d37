package shoal_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPublicPackageStaysLight keeps heavy dependencies out of every job
// binary: the shoal package (and the executor runtime under it) is linked
// into each user program shipped to the cluster.
func TestPublicPackageStaysLight(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/shoal-dev/shoal").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/apache/arrow-go",                    // Arrow: opt in with shoal/arrowcodec
		"github.com/shoal-dev/shoal/dataframe",          // the dataframe engine
		"github.com/shoal-dev/shoal/tpch",               // TPC-H
		"github.com/shoal-dev/shoal/cmd",                // the CLI
		"github.com/spf13/cobra",                        // CLI framework
		"k8s.io/",                                       // the Kubernetes provider
		"github.com/wasilibs/go-pgquery",                // the SQL parser
		"github.com/prometheus/client_golang",           // the dashboard's metrics
		"github.com/shoal-dev/shoal/internal/dashboard", // the head's web pages
		"github.com/chromedp/",                          // the dashboard's browser test
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("package shoal depends on %s", pkg)
			}
		}
	}
}
