// Command shoal runs Shoal's processes and tools: the head, node agents, job
// submission, cluster status, TPC-H, benchmarks and chaos runs.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := newRootCommand()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "shoal:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "shoal",
		Short:         "Shoal: a distributed compute engine for Go",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newTPCHCommand())
	return root
}
