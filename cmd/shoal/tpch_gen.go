package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newTPCHGenCommand is replaced by the generator's real command.
func newTPCHGenCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "gen",
		Short: "Generate TPC-H data (being built)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("tpch gen is not built yet") },
	}
}
