package dashboard

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"

	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/metrics"
)

// ServeHead serves a head's HTTP endpoints on ln until stop is called: the
// dashboard's pages, /metrics, and /prometheus/sd (the head's and every live
// node's metrics endpoint in Prometheus's HTTP service discovery format,
// http_sd_configs). Beyond loopback every request needs the cluster token.
// `shoal head` and an embedded cluster (shoal.WithDashboard) both use it.
func ServeHead(h *head.Head, ln net.Listener, logger *slog.Logger) (stop func(), err error) {
	dash := New(h, Options{Token: h.Config().Token, Loopback: metrics.IsLoopback(ln.Addr()), Logger: logger})
	srv, err := metrics.Serve(metrics.Options{Listener: ln, Token: h.Config().Token, Registry: metrics.NewRegistry(metrics.HeadCollector(h)),
		Mux: headMux(h, dash), Public: dash.Public(), Logger: logger})
	if err != nil {
		dash.Close()
		return nil, err
	}
	return func() {
		srv.Close()
		dash.Close()
	}, nil
}

// headMux serves the head's HTTP paths besides /metrics.
func headMux(h *head.Head, dash *Dashboard) http.Handler {
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
