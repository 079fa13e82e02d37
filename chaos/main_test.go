package chaos

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal"
)

// TestMain runs the test binary as an executor when a node starts it as
// one (the end-to-end tests' driver is this binary); otherwise it runs the
// tests and checks that no goroutine outlived them.
func TestMain(m *testing.M) {
	shoal.ExecutorMain()
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}
