// Package dashboard lets an embedded cluster serve Shoal's web dashboard
// and Prometheus metrics. Import it for its effect and pass
// shoal.WithDashboard to shoal.Init:
//
//	import _ "github.com/shoal-dev/shoal/dashboard"
//
//	ctx, err := shoal.Init(context.Background(), shoal.WithDashboard("127.0.0.1:8265"))
//
// It is a package of its own so that programs without a dashboard do not
// link its pages and the Prometheus client into every binary shipped to
// the cluster. A cluster started with `shoal head` serves its dashboard
// itself (--dashboard).
package dashboard

import (
	"log/slog"

	"github.com/shoal-dev/shoal/internal/dashboard"
	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/hooks"
	"github.com/shoal-dev/shoal/internal/metrics"
)

func init() { hooks.SetDashboardServer(serve) }

func serve(h *head.Head, addr string, logger *slog.Logger) (string, func(), error) {
	ln, err := metrics.Listen(addr)
	if err != nil {
		return "", nil, err
	}
	url := metrics.URL(ln)
	stop, err := dashboard.ServeHead(h, ln, logger)
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	h.SetDashboardURL(url)
	return url, stop, nil
}
