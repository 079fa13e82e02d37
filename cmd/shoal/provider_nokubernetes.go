//go:build !kubernetes

package main

import (
	"errors"
	"log/slog"

	"github.com/shoal-dev/shoal/autoscaler"
)

// The Kubernetes provider is built in only with -tags kubernetes (as the
// image in deploy/kubernetes is): client-go's packages add 26 MB of
// resident memory to every process started from this binary (measured:
// `shoal --help` 24 MB without, 50 MB with), and every node and built-in
// executor is one.
func init() {
	providerFactories["kubernetes"] = func(*autoscaler.Settings, *slog.Logger) (autoscaler.Provider, func(), error) {
		return nil, nil, errors.New(`autoscaler provider "kubernetes" needs a shoal built with it: go build -tags kubernetes ./cmd/shoal (deploy/kubernetes/Dockerfile does)`)
	}
}
