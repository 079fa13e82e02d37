package chaos

import (
	"testing"

	"github.com/shoal-dev/shoal/internal/testmain"
)

// TestMain runs the test binary as an executor when a node starts it as
// one (the end-to-end tests' driver is this binary); otherwise it runs the
// tests and checks that no goroutine outlived them.
func TestMain(m *testing.M) { testmain.Run(m) }
