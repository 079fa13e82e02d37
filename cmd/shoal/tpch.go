package main

import "github.com/spf13/cobra"

func newTPCHCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tpch",
		Short: "Generate TPC-H data and run the 22 TPC-H queries",
	}
	cmd.AddCommand(newTPCHGenCommand(), newTPCHRunCommand())
	return cmd
}
