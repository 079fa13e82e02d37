package clustertest

import (
	"context"
	"fmt"
	"strings"
)

// RestartHead kills the head with SIGKILL and starts it again on the same
// address with args (typically "--state-dir", dir, so that it takes the
// cluster back), waiting until it listens.
func (c *Cluster) RestartHead(ctx context.Context, args ...string) error {
	c.Head.Kill()
	head, line, err := c.spawn(ctx, "head", "shoal head listening on ",
		append([]string{"head", "--listen", c.HeadAddr, "--token-file", c.TokenFile}, args...)...)
	if err != nil {
		return fmt.Errorf("restarting the head: %w", err)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(line, "shoal head listening on ")); got != c.HeadAddr {
		head.Kill()
		return fmt.Errorf("the restarted head listens on %s, not %s", got, c.HeadAddr)
	}
	c.mu.Lock()
	c.Head = head
	c.mu.Unlock()
	return nil
}
