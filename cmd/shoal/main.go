// Command shoal runs Shoal's processes and tools: the head, node agents, job
// submission, cluster status, TPC-H, benchmarks and chaos runs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/hugepages"
	"github.com/shoal-dev/shoal/internal/rpc"
)

func main() {
	// The shoal binary is also the executor of its built-in workloads
	// (benchmarks, TPC-H): a node re-executes it in executor mode.
	shoal.ExecutorMain()
	// Shoal's own processes (head, node, the SQL shell, TPC-H) grow their
	// heaps in huge pages: see hugepages for the measurement.
	hugepages.Keep(context.Background(), heapOptions(os.Args[1:]))
	root := newRootCommand()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(1)
	}
}

// heapOptions is how the command named by args keeps its heap: the data
// commands (sql, tpch), whose queries allocate fast, fill their heap ahead
// (hugepages.Options.FillAhead); the others (head, node, bench: the
// control plane) do not, as the fill's scans after each collection cost
// them more than it saves (shoal bench tasks: chain hop p50 8% slower
// with it, 7 alternated pairs).
func heapOptions(args []string) hugepages.Options {
	opts := hugepages.Tool()
	if len(args) == 0 || args[0] != "sql" && args[0] != "tpch" {
		opts.FillAhead = false
	}
	return opts
}

// errorLine is how the command reports err: after "shoal: " once, also
// when the error already starts with it (errors of the shoal package and
// its sentinels do).
func errorLine(err error) string {
	return "shoal: " + strings.TrimPrefix(err.Error(), "shoal: ")
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "shoal",
		Short:         "Shoal: a distributed compute engine for Go",
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
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

// headFlags are the flags of the commands that talk to a head: its address
// (see resolveHead for where it comes from when not given) and the token
// flags.
type headFlags struct {
	addr string
	tf   tokenFlags
}

func (h *headFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&h.addr, "address", "", "address of the head (default: $"+envAddress+", then the config file's address, then "+defaultHeadAddr+")")
	h.tf.register(cmd)
}

// dial connects to the head.
func (h *headFlags) dial(ctx context.Context) (*grpc.ClientConn, error) {
	t, err := resolveHead("--address", h.addr, h.tf)
	if err != nil {
		return nil, err
	}
	return t.dial(ctx, h.tf.token, "--address")
}

// token is the explicit token or the one rpc.ResolveToken finds; when
// there is none, whether a head is there at all is told first.
func (t headTarget) token(ctx context.Context, explicitToken, flag string) (string, error) {
	token, err := rpc.ResolveToken(explicitToken, t.tokenFile)
	if err != nil {
		if herr := t.reachable(ctx, flag); herr != nil {
			return "", herr
		}
		return "", err
	}
	return token, nil
}

// status reads the status of the head the flags name.
func (h *headFlags) status(ctx context.Context) (*shoal.Status, error) {
	t, err := resolveHead("--address", h.addr, h.tf)
	if err != nil {
		return nil, err
	}
	token, err := t.token(ctx, h.tf.token, "--address")
	if err != nil {
		return nil, err
	}
	st, err := shoal.StatusAt(ctx, shoal.WithAddress(t.addr), shoal.WithToken(token), shoal.WithTLS(t.tlsCA))
	if err != nil {
		return nil, t.explain(err, "--address")
	}
	return st, nil
}

// dial connects to the head t names, with the token explicit or the one
// found as rpc.ResolveToken finds it. flag names the address flag in
// messages. Whether a head is there at all is told before a missing token.
func (t headTarget) dial(ctx context.Context, explicitToken, flag string) (*grpc.ClientConn, error) {
	token, err := t.token(ctx, explicitToken, flag)
	if err != nil {
		return nil, err
	}
	conn, err := rpc.Dial(ctx, t.addr, token, 0, rpc.TLSConfig{CAFile: t.tlsCA}, 10*time.Second)
	if err != nil {
		return nil, t.explain(err, flag)
	}
	return conn, nil
}

// reachable says why no head can be reached at t, or nil.
func (t headTarget) reachable(ctx context.Context, flag string) error {
	conn, err := rpc.Dial(ctx, t.addr, "", 0, rpc.TLSConfig{CAFile: t.tlsCA}, 10*time.Second)
	if err != nil {
		return t.explain(err, flag)
	}
	return conn.Close()
}

// explain rewrites an error about reaching the head with what to do.
func (t headTarget) explain(err error, flag string) error {
	var ns *rpc.NoServerError
	if !errors.As(err, &ns) {
		return err
	}
	from := ""
	if t.from != flag && t.from != "the default address" {
		from = " (from " + t.from + ")"
	}
	if ns.Refused() {
		return &hintError{err: err, msg: fmt.Sprintf("no Shoal head at %s%s: start one with `shoal head` or pass %s / %s", t.addr, from, flag, envAddress)}
	}
	return &hintError{err: err, msg: fmt.Sprintf("%s%s is not a Shoal head: %s; pass the address `shoal head` printed (%s / %s)", t.addr, from, ns.Reason, flag, envAddress)}
}

// hintError is an error told in words for the person at the terminal.
type hintError struct {
	msg string
	err error
}

func (e *hintError) Error() string { return e.msg }
func (e *hintError) Unwrap() error { return e.err }

// printJSON writes v to w as indented JSON (the --json output of commands).
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
