package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newTPCHRunCommand is replaced by the runner's real command.
func newTPCHRunCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the TPC-H queries (being built)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("tpch run is not built yet") },
	}
}
