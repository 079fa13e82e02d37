// Package testmain is the TestMain of packages whose tests drive a Shoal
// cluster: the test binary doubles as the executor of the tasks it
// registers, and no goroutine may outlive the tests.
package testmain

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/clustertest"
)

// Run runs the test binary as an executor when a node started it as one;
// otherwise it runs the tests, then after, removes the shoal command the
// tests built (clustertest.BuildShoal), and exits non-zero if they failed
// or left goroutines running.
func Run(m *testing.M, after ...func()) {
	shoal.ExecutorMain()
	// Goroutines running before the tests (package init's) are not theirs.
	before := goleak.IgnoreCurrent()
	code := m.Run()
	for _, f := range after {
		f()
	}
	clustertest.RemoveBuild()
	if code == 0 {
		if err := goleak.Find(before); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}
