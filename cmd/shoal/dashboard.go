package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

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
