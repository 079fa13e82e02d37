package bench

import (
	"context"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/clustertest"
)

// joinCluster starts a head and node processes and joins them as a driver
// of job name; stop shuts the driver down, then the cluster.
func joinCluster(ctx context.Context, opts clustertest.Options, name string) (c *clustertest.Cluster, dctx context.Context, stop func(), err error) {
	if c, err = clustertest.Start(ctx, opts); err != nil {
		return nil, nil, nil, err
	}
	if dctx, err = shoal.Init(ctx, shoal.WithAddress(c.HeadAddr), shoal.WithTokenFile(c.TokenFile), shoal.WithJobName(name)); err != nil {
		c.Stop()
		return nil, nil, nil, err
	}
	return c, dctx, func() { shoal.Shutdown(dctx); c.Stop() }, nil
}
