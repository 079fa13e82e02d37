package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/transfer"
)

// TransferResult is what `shoal bench transfer --json` prints.
type TransferResult struct {
	Bytes          int64     `json:"bytes"`
	GBPerSec       float64   `json:"node_to_node_gb_per_s"`
	GBPerSecRounds []float64 `json:"node_to_node_gb_per_s_rounds"`
}

// Transfer starts a head and two node processes from the shoal binary and
// measures moving an object of size bytes from one node to the other over
// the data plane (the receiving node pulls it peer-to-peer into its store).
func Transfer(ctx context.Context, binary string, size int64, rounds int, out io.Writer) (*TransferResult, error) {
	// The nodes warm their store's memory first (--object-store-warm):
	// what is measured is moving the bytes, not the virtual machine's
	// first-touch page faults (a sender's copy, a receiver's copy and the
	// next round's, freed as the round ends).
	c, dctx, stop, err := joinCluster(ctx, clustertest.Options{Binary: binary, Nodes: 2, Output: out,
		NodeArgs: []string{"--cpus", "1", "--object-store-warm", fmt.Sprint(3 * (size + 1))}}, "bench-transfer")
	if err != nil {
		return nil, err
	}
	defer stop()
	cl := transfer.NewClient(c.Token, nil)
	defer cl.Close()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	res := &TransferResult{Bytes: size}
	// One round first that is not counted, as the suite's metrics have:
	// on this VM a machine's first transfer of a gigabyte costs its
	// receiver over a second of system time (traced: the kernel's copy
	// into memory already faulted in), later ones a fifth of that.
	for r := -1; r < rounds; r++ {
		fut, err := shoal.Put(dctx, data)
		if err != nil {
			return nil, fmt.Errorf("storing the object: %w", err)
		}
		id, err := ids.Parse(fut.ID())
		if err != nil {
			return nil, err
		}
		// The node holding the object is A (its heartbeat shows the bytes);
		// the other one pulls it.
		a, b, err := holder(dctx, size+1)
		if err != nil {
			return nil, err
		}
		aID, _ := ids.Parse(a.ID)
		start := time.Now()
		got, err := cl.Pull(ctx, b.DataAddr, id, []transfer.Location{{Node: aID, Addr: a.DataAddr}})
		d := time.Since(start)
		if err != nil {
			return nil, err
		}
		if got != size+1 { // the stored value carries a one-byte codec tag
			return nil, fmt.Errorf("round %d: node B holds %d bytes, want %d", r, got, size+1)
		}
		if r >= 0 {
			res.GBPerSecRounds = append(res.GBPerSecRounds, float64(size)/d.Seconds()/1e9)
		}
		fut.Release()
	}
	res.GBPerSec = median(res.GBPerSecRounds)
	return res, nil
}

// holder waits until a node's store reports at least bytes and returns it
// and the other node.
func holder(ctx context.Context, bytes int64) (a, b shoal.NodeInfo, err error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := shoal.ClusterStatus(ctx)
		if err != nil {
			return a, b, err
		}
		if len(st.Nodes) != 2 {
			return a, b, fmt.Errorf("want 2 nodes, the cluster has %d", len(st.Nodes))
		}
		for i, n := range st.Nodes {
			if n.StoreBytes >= bytes {
				return n, st.Nodes[1-i], nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return a, b, fmt.Errorf("no node reported holding the object within 10s")
}
