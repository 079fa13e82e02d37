// Command shoal runs Shoal's processes and tools: the head, node agents, job
// submission, cluster status, TPC-H, benchmarks and chaos runs.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/rpc"
)

func main() {
	// The shoal binary is also the executor of its built-in workloads
	// (benchmarks, TPC-H): a node re-executes it in executor mode.
	shoal.ExecutorMain()
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
	root.AddCommand(newHeadCommand(), newNodeCommand(), newStatusCommand(), newTimelineCommand(), newDrainCommand(), newJobCommand(), newBenchCommand(), newTPCHCommand())
	root.AddCommand(newChaosCommand(), newDemoCommand(), newSQLCommand(), newLogsCommand())
	return root
}

// signalContext is cancelled on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// tokenFlags are the flags every command that joins a cluster takes.
type tokenFlags struct {
	token     string
	tokenFile string
	tlsCA     string
}

func (t *tokenFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.token, "token", "", "cluster token (default: $SHOAL_TOKEN, then the token file)")
	cmd.Flags().StringVar(&t.tokenFile, "token-file", "", "file holding the cluster token (default: $SHOAL_TOKEN_FILE or ~/.shoal/token)")
	cmd.Flags().StringVar(&t.tlsCA, "tls-ca", "", "CA certificate to verify the head's TLS certificate")
}

// dialHead connects to the head at addr with the flags' token and TLS CA
// (the CLI's one-shot commands: status, drain, timeline).
func (t *tokenFlags) dialHead(ctx context.Context, addr string) (*grpc.ClientConn, error) {
	token, err := rpc.ResolveToken(t.token, t.tokenFile)
	if err != nil {
		return nil, err
	}
	return rpc.Dial(ctx, addr, token, 0, rpc.TLSConfig{CAFile: t.tlsCA}, 5*time.Second)
}

// printJSON writes v to w as indented JSON (the --json output of commands).
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
