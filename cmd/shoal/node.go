package main

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/gctune"
	"github.com/shoal-dev/shoal/internal/metrics"
	"github.com/shoal-dev/shoal/internal/node"
	"github.com/shoal-dev/shoal/internal/rpc"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

func newNodeCommand() *cobra.Command {
	var (
		headAddr, dataListen, custom, labels string
		packageListen                        string
		cpus, gpus                           float64
		memory, storeMemory, storeDisk       int64
		storeWarm                            int64
		spillDir                             string
		logDir                               string
		metricsListen                        string
		tf                                   tokenFlags
		lf                                   logFlags
	)
	cmd := &cobra.Command{
		Use:   "node [--head ADDR]",
		Short: "Run a node agent that joins a cluster",
		Long: `Run a node agent: it registers this machine's resources with the head,
holds an object store, and starts executor processes for jobs' tasks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			target, err := resolveHead("--head", headAddr, tf)
			if err != nil {
				return err
			}
			token, err := rpc.ResolveToken(tf.token, target.tokenFile)
			if err != nil {
				if herr := target.reachable(ctx, "--head"); herr != nil {
					return herr // whether a head is there at all comes first
				}
				return err
			}
			headAddr = target.addr
			res, err := nodeResources(cpus, gpus, memory, custom)
			if err != nil {
				return err
			}
			lbls, err := parsePairs(labels)
			if err != nil {
				return fmt.Errorf("--labels: %w", err)
			}
			logger, err := lf.logger(os.Stderr)
			if err != nil {
				return err
			}
			var metricsLn net.Listener
			metricsURL := ""
			if metricsListen != "off" {
				if metricsLn, err = metrics.Listen(metricsListen); err != nil {
					return fmt.Errorf("--metrics: %w", err)
				}
				metricsURL = metrics.URL(metricsLn)
			}
			startCtx, cancel := contextWithTimeout(ctx, 30*time.Second)
			defer cancel()
			gctune.ShortOfMemory(storeMemory) // (a small store budget: the node collects sooner)
			n, err := node.Start(startCtx, node.Config{
				HeadAddr: headAddr, Token: token, TLS: rpc.TLSConfig{CAFile: target.tlsCA},
				Resources: res, Labels: lbls, DataListen: dataListen, PackageListen: packageListen, ObjectStoreMemory: storeMemory, ObjectStoreDisk: storeDisk, SpillDir: spillDir, LogDir: logDir,
				ObjectStoreWarm: storeWarm, MetricsURL: metricsURL, Logger: logger,
			})
			if err != nil {
				if metricsLn != nil {
					metricsLn.Close()
				}
				return fmt.Errorf("joining the cluster at %s: %w", headAddr, target.explain(err, "--head"))
			}
			fmt.Printf("shoal node %s joined %s (data plane %s, %s)\n", n.ID().Abbrev(), headAddr, n.DataAddr(), res)
			if metricsLn != nil {
				srv, err := metrics.Serve(metrics.Options{Listener: metricsLn, Token: token, Registry: metrics.NewRegistry(metrics.NodeCollector(n)), Logger: logger})
				if err != nil {
					n.Close()
					return fmt.Errorf("--metrics: %w", err)
				}
				defer srv.Close()
				fmt.Printf("node metrics at %s/metrics\n", metricsURL)
			}
			select {
			case <-ctx.Done():
			case <-n.Done():
			}
			return n.Close()
		},
	}
	cmd.Flags().StringVar(&headAddr, "head", "", "address of the head (default: $"+envAddress+", then the config file's address, then "+defaultHeadAddr+")")
	cmd.Flags().Float64Var(&cpus, "cpus", float64(runtime.NumCPU()), "CPUs this node offers")
	cmd.Flags().Float64Var(&gpus, "gpus", 0, "GPUs this node offers")
	cmd.Flags().Var(bytesize.Flag(&memory), "memory", "memory this node offers to tasks that request memory, e.g. 16GiB")
	cmd.Flags().StringVar(&custom, "resources", "", "custom resources, e.g. disk=2,licence=1")
	cmd.Flags().StringVar(&labels, "labels", "", "labels, e.g. zone=a,kind=spot")
	cmd.Flags().StringVar(&dataListen, "data-listen", "127.0.0.1:0", "data plane listen address")
	cmd.Flags().StringVar(&packageListen, "package-listen", "", `where to serve job packages this node holds to peers (default: the data plane's host, a free port; "off": never; also off with TLS)`)
	cmd.Flags().Var(bytesize.Flag(&storeMemory), "object-store-memory", "object store memory, e.g. 4GiB; past it objects spill to disk (0: 30% of available memory, -1: no limit)")
	cmd.Flags().Var(bytesize.Flag(&storeDisk), "object-store-disk", "disk for spilled objects, e.g. 100GiB (0: the spill directory's free space less a margin, -1: never spill)")
	cmd.Flags().Var(bytesize.Flag(&storeWarm), "object-store-warm", "how much of the object store's memory to write once at start, so that the first large objects do not pay for first-touch page faults (slow on virtual machines; like Ray's preallocate_plasma_memory)")
	cmd.Flags().StringVar(&spillDir, "spill-dir", "", "directory for spilled objects (default: the system's temporary directory)")
	cmd.Flags().StringVar(&logDir, "log-dir", "", "directory keeping each job's executor output, rotated by size, for `shoal logs` (default: a temporary directory removed when the node stops)")
	cmd.Flags().StringVar(&metricsListen, "metrics", "127.0.0.1:0", `where to serve the node's Prometheus metrics at /metrics (port 0: a free one; beyond loopback the cluster token is required; "off": nowhere)`)
	lf.register(cmd)
	tf.register(cmd)
	return cmd
}

func nodeResources(cpus, gpus float64, memory int64, custom string) (scheduler.Resources, error) {
	if cpus <= 0 {
		return scheduler.Resources{}, fmt.Errorf("--cpus must be > 0, got %v", cpus)
	}
	if gpus < 0 || memory < 0 {
		return scheduler.Resources{}, fmt.Errorf("--gpus and --memory must be ≥ 0")
	}
	r := scheduler.Resources{CPU: int64(cpus * scheduler.Unit), GPU: int64(gpus * scheduler.Unit), Memory: memory}
	pairs, err := parsePairs(custom)
	if err != nil {
		return r, fmt.Errorf("--resources: %w", err)
	}
	for k, v := range pairs {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return r, fmt.Errorf("--resources: %s=%s is not a non-negative number", k, v)
		}
		if r.Custom == nil {
			r.Custom = map[string]int64{}
		}
		r.Custom[k] = int64(f * scheduler.Unit)
	}
	return r, nil
}

func parsePairs(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}
