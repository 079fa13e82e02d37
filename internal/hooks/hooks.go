// Package hooks is where packages a program imports for their effect plug
// into the runtime, so that the shoal package stays light for programs
// that do without them: a registry written at init, read after.
package hooks

import (
	"log/slog"
	"sync"

	"github.com/shoal-dev/shoal/internal/head"
)

// DashboardServer serves an embedded cluster's head at addr (the web
// dashboard, /metrics) and returns its URL and how to stop it.
type DashboardServer func(h *head.Head, addr string, logger *slog.Logger) (url string, stop func(), err error)

var (
	mu        sync.Mutex
	dashboard DashboardServer
)

// SetDashboardServer registers the dashboard's server (package
// github.com/shoal-dev/shoal/dashboard does, when imported).
func SetDashboardServer(f DashboardServer) {
	mu.Lock()
	defer mu.Unlock()
	dashboard = f
}

// Dashboard returns the registered dashboard server, or nil.
func Dashboard() DashboardServer {
	mu.Lock()
	defer mu.Unlock()
	return dashboard
}
