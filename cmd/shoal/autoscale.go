package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/autoscaler"
	"github.com/shoal-dev/shoal/autoscaler/local"
	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/ids"
)

// headCluster adapts the head to what the autoscaler's loop needs.
type headCluster struct{ h *head.Head }

func (c headCluster) AutoscalerSnapshot() autoscaler.Snapshot { return c.h.AutoscalerSnapshot() }
func (c headCluster) Event(msg string)                        { c.h.Event(msg) }
func (c headCluster) Drain(ctx context.Context, node string, deadline time.Duration) error {
	id, err := ids.Parse(node)
	if err != nil {
		return err
	}
	_, err = c.h.Drain(ctx, id, deadline)
	return err
}

// providerFactories are the node providers built in beside "local", by
// name (a registry, filled by the build-tagged files).
var providerFactories = map[string]func(s *autoscaler.Settings, logger *slog.Logger) (autoscaler.Provider, func(), error){}

func builtInProviders() string {
	names := []string{"local"}
	for name := range providerFactories {
		names = append(names, name)
	}
	slices.Sort(names[1:])
	return strings.Join(names, ", ")
}

// startAutoscaler runs the reconcile loop of configuration file path beside
// the head; stop ends it and the nodes its provider started.
func startAutoscaler(ctx context.Context, h *head.Head, path, headAddr, tokenFile string, logger *slog.Logger) (stop func(), err error) {
	s, err := autoscaler.LoadFile(path)
	if err != nil {
		return nil, err
	}
	var provider autoscaler.Provider
	var closeProvider func()
	switch s.Provider {
	case "local":
		bin, err := os.Executable()
		if err != nil {
			return nil, err
		}
		lp := &local.Provider{Binary: bin, HeadAddr: headAddr, TokenFile: tokenFile, Cluster: "shoal"}
		provider, closeProvider = lp, lp.Close
	default:
		newProvider, ok := providerFactories[s.Provider]
		if !ok {
			return nil, fmt.Errorf("autoscaler provider %q is not built into this command (built in: %s)", s.Provider, builtInProviders())
		}
		if provider, closeProvider, err = newProvider(s, logger); err != nil {
			return nil, err
		}
	}
	h.SetNodeTypes(s.Config.Types)
	loop := &autoscaler.Loop{Cluster: headCluster{h}, Provider: provider, Config: s.Config, Interval: s.Interval, DrainDeadline: s.DrainDeadline, Logger: logger}
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		loop.Run(lctx)
	}()
	return func() {
		cancel()
		wg.Wait()
		closeProvider()
	}, nil
}
