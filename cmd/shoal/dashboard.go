package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"

	"github.com/shoal-dev/shoal/internal/dashboard"
	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/metrics"
)

// defaultDashboard is where the head serves its HTTP pages and metrics
// unless told otherwise (Ray's dashboard port, on loopback).
const defaultDashboard = "127.0.0.1:8265"

// listenDashboard listens for the head's HTTP server on addr ("off": no
// server, nil). When the default port is taken (another head on this
// machine), it takes a free one and says so.
func listenDashboard(addr string) (net.Listener, error) {
	if addr == "off" {
		return nil, nil
	}
	ln, err := metrics.Listen(addr)
	if err != nil && addr == defaultDashboard && errors.Is(err, syscall.EADDRINUSE) {
		fmt.Fprintf(os.Stderr, "warning: %s is taken (another head?): the dashboard takes a free port; pass --dashboard HOST:PORT to choose\n", addr)
		ln, err = metrics.Listen("127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("--dashboard: %w", err)
	}
	return ln, nil
}

// dashboardMux serves the head's HTTP paths besides /metrics: the
// dashboard's pages, and /prometheus/sd, the head's and every live node's metrics endpoint
// in Prometheus's HTTP service discovery format (http_sd_configs).
func dashboardMux(h *head.Head, dash *dashboard.Dashboard) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /prometheus/sd", func(w http.ResponseWriter, r *http.Request) {
		type group struct {
			Targets []string          `json:"targets"`
			Labels  map[string]string `json:"labels"`
		}
		st := h.Status()
		groups := []group{}
		add := func(raw, role, node string) {
			u, err := url.Parse(raw)
			if err != nil || u.Host == "" {
				return
			}
			labels := map[string]string{"shoal_role": role, "__scheme__": u.Scheme}
			if node != "" {
				labels["shoal_node"] = node
			}
			groups = append(groups, group{Targets: []string{u.Host}, Labels: labels})
		}
		add(st.DashboardUrl, "head", "")
		for _, n := range st.Nodes {
			if n.Alive && n.MetricsUrl != "" {
				id, _ := ids.FromBytes("node id", n.NodeId)
				add(n.MetricsUrl, "node", id.String())
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(groups)
	})
	mux.Handle("/", dash)
	return mux
}
