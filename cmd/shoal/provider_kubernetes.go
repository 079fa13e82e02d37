//go:build kubernetes

package main

import (
	"log/slog"

	"github.com/shoal-dev/shoal/autoscaler"
	"github.com/shoal-dev/shoal/autoscaler/kubernetes"
)

func init() {
	providerFactories["kubernetes"] = func(s *autoscaler.Settings, logger *slog.Logger) (autoscaler.Provider, func(), error) {
		kp, err := kubernetes.NewFromSettings(s.Kubernetes, logger)
		if err != nil {
			return nil, nil, err
		}
		// Worker pods outlive the head: a restarted head takes them back.
		return kp, func() {}, nil
	}
}
