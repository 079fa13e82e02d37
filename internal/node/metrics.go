package node

import "github.com/shoal-dev/shoal/internal/objstore"

// Metrics is what the node's metrics report (internal/metrics exposes it
// to Prometheus).
type Metrics struct {
	Store objstore.Usage
	// Sent and Received are the object bytes its data plane served and
	// stored; Pushed and Pulled those it put on and fetched from peers.
	Sent, Received, Pushed, Pulled int64
	Executors                      int
}

// Metrics returns what the node's metrics report, read now.
func (n *Node) Metrics() Metrics {
	m := Metrics{Store: n.store.Usage()}
	m.Sent, m.Received = n.data.Bytes()
	m.Pushed, m.Pulled = n.peers.Bytes()
	n.mu.Lock()
	m.Executors = len(n.execs)
	n.mu.Unlock()
	return m
}
