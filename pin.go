package shoal

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// Pin keeps nodes in the cluster: while it holds, neither the autoscaler
// nor a drain removes them. A peer-to-peer shuffle pins its participants
// this way, so that a worker it depends on is not retired mid-shuffle.
type Pin struct {
	id ids.ID
	c  *client.Client
}

// PinNodes keeps the nodes with the given IDs from being removed until
// Unpin, until ttl passes (0: no expiry), or until this driver or task ends;
// reason is shown where the autoscaler says why it kept a node.
func PinNodes(ctx context.Context, nodeIDs []string, reason string, ttl time.Duration) (*Pin, error) {
	c, err := clientFrom(ctx)
	if err != nil {
		return nil, err
	}
	nodes := make([]ids.ID, 0, len(nodeIDs))
	for _, s := range nodeIDs {
		id, err := ids.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("shoal: PinNodes: node %q: %w", s, err)
		}
		nodes = append(nodes, id)
	}
	p := &Pin{id: c.NewID(), c: c}
	if err := c.Pin(p.id, nodes, reason, ttl); err != nil {
		return nil, fmt.Errorf("shoal: PinNodes: %w", err)
	}
	return p, nil
}

// Unpin lets the nodes go.
func (p *Pin) Unpin() error { return p.c.Unpin(p.id) }

// RequestResources asks the autoscaler for capacity for bundles, whether or
// not tasks ask for it yet (as Ray's request_resources); it replaces any
// earlier request, and an empty call clears it.
func RequestResources(ctx context.Context, bundles []Resources) error {
	c, err := clientFrom(ctx)
	if err != nil {
		return err
	}
	req := &pb.RequestResourcesRequest{}
	for _, b := range bundles {
		r, err := b.internal()
		if err != nil {
			return fmt.Errorf("shoal: RequestResources: %w", err)
		}
		req.Bundles = append(req.Bundles, &pb.Resources{Cpu: r.CPU, Gpu: r.GPU, Memory: r.Memory, Custom: r.Custom})
	}
	return c.Head().RequestResources(ctx, req)
}
