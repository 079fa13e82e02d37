package main

import (
	"testing"

	"github.com/shoal-dev/shoal/internal/testmain"
)

// TestMain removes the shoal command the tests built and checks that no
// goroutine outlived its test.
func TestMain(m *testing.M) { testmain.Run(m) }
