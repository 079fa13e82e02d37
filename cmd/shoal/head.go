package main

import (
	"fmt"
	"math"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/dashboard"
	"github.com/shoal-dev/shoal/internal/gctune"
	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/metrics"
	"github.com/shoal-dev/shoal/internal/rpc"
)

func newHeadCommand() *cobra.Command {
	var (
		listen, token, tokenFile, certFile, keyFile string
		hbInterval, hbTimeout                       time.Duration
		lf                                          logFlags
		maxMessage, packageLimit                    int64
		stateDir, packageDir                        string
		autoscale                                   string
		recovery, infeasible                        time.Duration
		dashAddr                                    string
		maxConns, maxPending                        int
	)
	cmd := &cobra.Command{
		Use:   "head",
		Short: "Run the control plane of a cluster",
		Long: `Run the head: membership, scheduler, object directory and jobs.

The head writes a fresh random cluster token to its token file (readable only
by you), or the one given by $SHOAL_TOKEN (or --token, which other users can
see in the process list); nodes, drivers and the CLI present it. It listens on loopback unless
told otherwise; a head listening beyond loopback should use TLS.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gctune.Apply() // the control plane: a ballast unless GOGC is set
			ctx, stop := signalContext()
			defer stop()
			go gctune.TightenLargeHeap(ctx) // and a tighter collector past a large heap
			if tokenFile == "" {
				tokenFile = rpc.DefaultTokenFile()
			}
			// A token the operator chose comes from --token or, kept off
			// the command line (where ps shows it), $SHOAL_TOKEN.
			source := "--token"
			if token == "" {
				token, source = os.Getenv(rpc.TokenEnv), "$"+rpc.TokenEnv
			}
			if token != "" {
				if err := rpc.CheckTokenStrength(token, source); err != nil {
					return err
				}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listening on %s: %w (is another head running? use --listen HOST:0 for a free port)", listen, err)
			}
			tls := rpc.TLSConfig{CertFile: certFile, KeyFile: keyFile}
			if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() && !tls.Enabled() {
				fmt.Fprintln(os.Stderr, "warning: listening beyond loopback without TLS: the cluster token crosses the network in clear; pass --tls-cert and --tls-key")
			}
			logger, err := lf.logger(os.Stderr)
			if err != nil {
				return err
			}
			if packageLimit <= 0 || maxMessage < 0 || maxMessage > math.MaxInt32 {
				ln.Close()
				return fmt.Errorf("--package-limit must be > 0 and --max-message-bytes between 0 and 2GiB")
			}
			if packageDir == "" && stateDir == "" {
				// Packages live as long as this head.
				if packageDir, err = os.MkdirTemp("", "shoal-head-packages-"); err != nil {
					ln.Close()
					return err
				}
				defer os.RemoveAll(packageDir)
			}
			dashLn, err := listenDashboard(dashAddr)
			if err != nil {
				ln.Close()
				return err
			}
			dashURL := ""
			if dashLn != nil {
				dashURL = metrics.URL(dashLn)
			}
			h, err := head.Open(head.Config{Token: token, TLS: tls, HeartbeatInterval: hbInterval, HeartbeatTimeout: hbTimeout,
				MaxMessageBytes: int(maxMessage), StateDir: stateDir, RecoveryWindow: recovery, PackageDir: packageDir, PackageLimit: packageLimit,
				InfeasibleTimeout: infeasible, DashboardURL: dashURL, MaxConnections: maxConns, MaxPendingTasks: maxPending, Logger: logger})
			if err != nil {
				ln.Close()
				if dashLn != nil {
					dashLn.Close()
				}
				return err
			}
			if dashLn != nil {
				stop, err := dashboard.ServeHead(h, dashLn, logger)
				if err != nil {
					h.Close()
					ln.Close()
					return fmt.Errorf("--dashboard: %w", err)
				}
				defer stop()
			}
			if err := rpc.WriteTokenFile(tokenFile, h.Config().Token); err != nil {
				h.Close()
				ln.Close()
				return err
			}
			addr := ln.Addr().String()
			if autoscale != "" {
				stop, err := startAutoscaler(ctx, h, autoscale, addr, tokenFile, logger)
				if err != nil {
					h.Close()
					ln.Close()
					return err
				}
				defer stop()
			}
			fmt.Printf("shoal head listening on %s\n", addr)
			fmt.Printf("token file: %s\n", tokenFile)
			fmt.Printf("join with: shoal node --head %s --cpus N\n", addr)
			if dashURL != "" {
				fmt.Printf("shoal dashboard at %s (metrics at %s/metrics)\n", dashURL, dashURL)
			}
			served := make(chan error, 1)
			go func() { served <- h.Serve(ln) }()
			select {
			case <-ctx.Done():
				h.Close()
				<-served
				return nil
			case err := <-served:
				h.Close()
				return err
			}
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7380", "address to listen on (port 0 picks a free port)")
	cmd.Flags().StringVar(&token, "token", "", "cluster token to use instead of a fresh random one (at least 16 characters; prefer $SHOAL_TOKEN, which ps does not show)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "where to write the token (default: $SHOAL_TOKEN_FILE or ~/.shoal/token)")
	cmd.Flags().StringVar(&certFile, "tls-cert", "", "TLS certificate (enables TLS)")
	cmd.Flags().StringVar(&keyFile, "tls-key", "", "TLS private key")
	cmd.Flags().DurationVar(&hbInterval, "heartbeat-interval", 0, "how often nodes heartbeat (default 250ms)")
	cmd.Flags().DurationVar(&hbTimeout, "heartbeat-timeout", 0, "silence after which a node is declared dead (default 2s)")
	cmd.Flags().Var(bytesize.Flag(&maxMessage), "max-message-bytes", "largest control-plane message accepted, e.g. 128MiB (default 64MiB)")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "keep the head's metadata here, so that a head restarted on it takes its cluster back (same token, jobs; nodes and drivers reconnect)")
	cmd.Flags().DurationVar(&recovery, "recovery-window", 0, "after a restart, how long to wait for nodes and drivers to come back (default 30s)")
	cmd.Flags().DurationVar(&infeasible, "infeasible-timeout", 0, "how long a task or actor that no node (and no autoscaler node type) can run waits for one that fits before it fails with ErrInfeasible (default: for ever, with a warning to its owner and a line in status)")
	cmd.Flags().StringVar(&autoscale, "autoscale", "", "run the autoscaler with this configuration file (JSON: provider, node_types, idle_timeout, ...)")
	cmd.Flags().StringVar(&packageDir, "package-dir", "", "where uploaded job packages are kept (default: <state-dir>/packages, or a temporary directory)")
	packageLimit = 2 * bytesize.GiB
	cmd.Flags().Var(bytesize.Flag(&packageLimit), "package-limit", "largest job package accepted (content size)")
	cmd.Flags().IntVar(&maxConns, "max-connections", 0, "connections the head serves at once; past it new ones wait (default 16384)")
	cmd.Flags().IntVar(&maxPending, "max-pending-tasks", 0, "unfinished tasks and actor calls one session may have; work beyond fails with ErrTooManyPending (default 200000; clients wait below it)")
	cmd.Flags().StringVar(&dashAddr, "dashboard", defaultDashboard, `where to serve the dashboard and the head's Prometheus metrics (/metrics); beyond loopback the cluster token is required; "off": nowhere`)
	lf.register(cmd)
	return cmd
}
