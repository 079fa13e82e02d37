package metrics

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal/internal/head"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Beyond loopback every request needs the cluster token; on loopback none
// does; a server beyond loopback without a token is refused.
func TestTokenBeyondLoopback(t *testing.T) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "shoal_test_gauge", Help: "a test gauge"})
	g.Set(3)
	if _, err := Serve(Options{Addr: "0.0.0.0:0", Registry: NewRegistry(g)}); err == nil {
		t.Fatal("served beyond loopback without a token")
	}
	for _, tc := range []struct {
		addr        string
		header      string
		cookie      string
		wantMetrics int
	}{
		{"0.0.0.0:0", "", "", http.StatusUnauthorized},
		{"0.0.0.0:0", "Bearer wrong", "", http.StatusUnauthorized},
		{"0.0.0.0:0", "Bearer s3cret", "", http.StatusOK},
		{"0.0.0.0:0", "", "s3cret", http.StatusOK},
		{"0.0.0.0:0", "", "s3cre", http.StatusUnauthorized},
		{"127.0.0.1:0", "", "", http.StatusOK},
	} {
		srv, err := Serve(Options{Addr: tc.addr, Token: "s3cret", Registry: NewRegistry(g)})
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(srv.Addr())
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/metrics", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		if tc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: TokenCookie, Value: tc.cookie})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.wantMetrics {
			t.Errorf("%s, header %q, cookie %q: status %d, want %d", tc.addr, tc.header, tc.cookie, resp.StatusCode, tc.wantMetrics)
		}
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

// The head's collector passes the Prometheus client's consistency checks
// (descriptions, label names, no duplicates).
func TestHeadCollectorIsConsistent(t *testing.T) {
	h := head.New(head.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer h.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(HeadCollector(h))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, want := range []string{"shoal_nodes", "shoal_tasks", "shoal_tasks_total", "shoal_objects", "shoal_head_schedule_seconds", "shoal_resources_total"} {
		if !names[want] {
			t.Errorf("no %s among %v", want, names)
		}
	}
}
