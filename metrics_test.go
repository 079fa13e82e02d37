package shoal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shoal-dev/shoal"
	_ "github.com/shoal-dev/shoal/dashboard" // (shoal.WithDashboard)
	"github.com/shoal-dev/shoal/dataframe"
)

// scrape reads url's Prometheus metrics with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the metrics of %s: %v", url, err)
	}
	return families
}

// hasLabel reports whether a sample of f has label name=value.
func hasLabel(f *dto.MetricFamily, name, value string) bool {
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == name && l.GetValue() == value {
				return true
			}
		}
	}
	return false
}

// metricValue is the value of name's sample with labels (gauge, counter
// or untyped); ok is false if there is none.
func metricValue(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
samples:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue samples
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// The head's and every node's /metrics, parsed with the Prometheus text
// parser, say what `shoal status` says at the same moment; Prometheus
// finds every endpoint through the head's service discovery.
func TestMetricsMatchStatus(t *testing.T) {
	c := startCluster(t, 2, "--cpus", "2")
	ctx := within(t, connect(t, c), 2*time.Minute)
	var futs []*shoal.Future[int]
	for i := range 40 {
		futs = append(futs, square.Remote(ctx, i))
	}
	big, err := shoal.Put(ctx, make([]byte, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer big.Release()
	for _, f := range futs {
		if _, err := f.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range futs[:20] {
		f.Release()
	}
	defer func() {
		for _, f := range futs[20:] {
			f.Release()
		}
	}()

	// The head: status, scrape, status again, until the two statuses
	// agree (nothing changed in between) and the scrape matches them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		before, err := shoal.ClusterStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if before.DashboardURL == "" {
			t.Fatal("status names no dashboard URL")
		}
		head := scrape(t, before.DashboardURL+"/metrics")
		after, err := shoal.ClusterStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		alive, cpus := 0, 0.0
		for _, n := range after.Nodes {
			if n.Alive {
				alive++
				cpus += n.Total.CPU
			}
		}
		type check struct {
			name    string
			labels  []string
			want    float64
			changes bool // (compared only once status stands still)
		}
		checks := []check{
			{"shoal_nodes", []string{"state", "alive"}, float64(alive), false},
			{"shoal_resources_total", []string{"resource", "cpu"}, cpus, false},
			{"shoal_tasks_total", []string{"outcome", "finished"}, float64(after.TasksByState["finished"]), true},
			{"shoal_objects", nil, float64(after.Objects), true},
			{"shoal_object_bytes", nil, float64(after.ObjectBytes), true},
			{"shoal_jobs", nil, float64(after.Jobs), true},
			{"shoal_actors", []string{"state", "alive"}, float64(after.Actors), true},
		}
		still := before.Objects == after.Objects && before.ObjectBytes == after.ObjectBytes &&
			before.TasksByState["finished"] == after.TasksByState["finished"] && before.Jobs == after.Jobs && before.Actors == after.Actors
		var problems []string
		for _, c := range checks {
			got, ok := metricValue(head, c.name, c.labels...)
			if !ok {
				t.Fatalf("the head's metrics have no %s%v", c.name, c.labels)
			}
			if got != c.want && (!c.changes || still) {
				problems = append(problems, fmt.Sprintf("%s%v = %g, status says %g", c.name, c.labels, got, c.want))
			}
		}
		if still && len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the head's metrics never matched status: %v", problems)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The head times its unary calls by method (status's among them).
	if st, err := shoal.ClusterStatus(ctx); err != nil {
		t.Fatal(err)
	} else if f := scrape(t, st.DashboardURL+"/metrics")["shoal_head_rpc_seconds"]; f == nil || !hasLabel(f, "method", "Status") {
		t.Errorf("no shoal_head_rpc_seconds{method=\"Status\"}: %v", f)
	}

	// Every node: its objects as its heartbeat reported them to the head.
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.MetricsURL == "" {
			t.Fatalf("node %s has no metrics URL in status", n.ID)
		}
		for {
			m := scrape(t, n.MetricsURL+"/metrics")
			objects, ok := metricValue(m, "shoal_node_objects")
			if !ok {
				t.Fatalf("node %s: no shoal_node_objects", n.ID)
			}
			if _, ok := metricValue(m, "shoal_node_transfer_bytes_total", "direction", "received"); !ok {
				t.Fatalf("node %s: no shoal_node_transfer_bytes_total", n.ID)
			}
			if _, ok := metricValue(m, "go_goroutines"); !ok {
				t.Fatalf("node %s: no Go runtime metrics", n.ID)
			}
			now, err := shoal.ClusterStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var reported int64 = -1
			for _, x := range now.Nodes {
				if x.ID == n.ID {
					reported = x.StoreObjects
				}
			}
			if float64(reported) == objects {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s: shoal_node_objects %g, status says %d", n.ID, objects, reported)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Service discovery: the head and both nodes.
	resp, err := http.Get(st.DashboardURL + "/prometheus/sd")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&groups); err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, g := range groups {
		roles[g.Labels["shoal_role"]] += len(g.Targets)
	}
	if roles["head"] != 1 || roles["node"] != 2 {
		t.Errorf("service discovery lists %v, want the head and 2 nodes", roles)
	}
}

// An embedded cluster serves the dashboard and metrics when asked
// (WithDashboard): its URL is in the status, /metrics counts the tasks it
// ran (leased ones too) and describes its node, the cluster page answers,
// and both stop with the cluster.
func TestEmbeddedClusterDashboard(t *testing.T) {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(1), shoal.WithCPUsPerNode(2), shoal.WithDashboard("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			shoal.Shutdown(ctx)
		}
	}()
	ctx = within(t, ctx, time.Minute)
	for i := range 5 {
		if v, err := square.Remote(ctx, i).Get(ctx); err != nil || v != i*i {
			t.Fatalf("square(%d) = %d, %v", i, v, err)
		}
	}
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.DashboardURL, "http://127.0.0.1:") {
		t.Fatalf("dashboard URL %q", st.DashboardURL)
	}
	families := scrape(t, st.DashboardURL+"/metrics")
	// The tasks ran under worker leases, off the head: their executor
	// reports them with its spans (every 200 ms).
	for deadline := time.Now().Add(20 * time.Second); ; {
		v, _ := metricValue(families, "shoal_tasks_total", "outcome", "finished")
		if v >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf(`shoal_tasks_total{outcome="finished"} = %v, want ≥ 5 (the tasks this test ran)`, v)
		}
		time.Sleep(50 * time.Millisecond)
		families = scrape(t, st.DashboardURL+"/metrics")
	}
	if v, ok := metricValue(families, "shoal_nodes", "state", "alive"); !ok || v != 1 {
		t.Errorf(`shoal_nodes{state="alive"} = %v (found: %v), want 1`, v, ok)
	}
	if v, ok := metricValue(families, "shoal_resources_total", "resource", "cpu"); !ok || v != 2 {
		t.Errorf(`shoal_resources_total{resource="cpu"} = %v (found: %v), want 2`, v, ok)
	}
	resp, err := http.Get(st.DashboardURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `href="/stream"`) {
		t.Fatalf("GET /: %s\n%.500s", resp.Status, page)
	}
	shoal.Shutdown(ctx)
	stopped = true
	if _, err := http.Get(st.DashboardURL + "/metrics"); err == nil {
		t.Errorf("the dashboard still answers after Shutdown")
	}
	if _, err := shoal.Init(context.Background(), shoal.WithAddress("127.0.0.1:1"), shoal.WithDashboard("127.0.0.1:0")); err == nil || !strings.Contains(err.Error(), "WithDashboard is for an embedded cluster") {
		t.Errorf("WithDashboard on a joined cluster: %v", err)
	}
}

// A dataframe query run on the cluster shows on the dashboard's queries
// page with each of its stages as its driver saw them finish, and in the
// head's /metrics (stages, shuffle bytes) with the same figures.
func TestQueriesPageShowsAQuerysStages(t *testing.T) {
	ctx, err := shoal.Init(context.Background(), shoal.WithLocalNodes(2), shoal.WithCPUsPerNode(1), shoal.WithDashboard("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer shoal.Shutdown(ctx)
	ctx = within(t, ctx, 2*time.Minute)
	var futs []*shoal.Future[arrow.RecordBatch]
	for p := range 4 {
		futs = append(futs, keyedBatch.Remote(ctx, rowsSpec{Seed: p, First: p * 5000, Rows: 5000, Keys: 300}))
	}
	var stages []dataframe.StageStats
	res, err := dataframe.FromFutures(ctx, futs).GroupBy("key").Agg(dataframe.Sum("v").As("sv"), dataframe.CountAll().As("n")).
		Sort(dataframe.Asc("key")).Collect(ctx, dataframe.WithParallelism(2), dataframe.OnStage(func(s dataframe.StageStats) { stages = append(stages, s) }))
	if err != nil {
		t.Fatal(err)
	}
	var shuffled int64
	for _, s := range stages {
		if s.Output == "hash" {
			shuffled += s.Bytes
		}
	}
	if len(stages) < 3 || shuffled == 0 || res.NumRows() != 301 {
		t.Fatalf("%d rows; stages %+v", res.NumRows(), stages)
	}
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The driver's reports travel with its next batch to the head: ask
	// until they are there.
	want := []string{fmt.Sprintf("%d of %d stages done", len(stages), len(stages)), "finished", "Sort [key]", "301 rows out"}
	var body string
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(st.DashboardURL + "/queries")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queries page does not say %q:\n%s", missing, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	families := scrape(t, st.DashboardURL+"/metrics")
	if v, _ := metricValue(families, "shoal_dataframe_stages_total"); v != float64(len(stages)) {
		t.Errorf("shoal_dataframe_stages_total = %v, want %d", v, len(stages))
	}
	if v, _ := metricValue(families, "shoal_dataframe_shuffle_bytes_total"); v != float64(shuffled) {
		t.Errorf("shoal_dataframe_shuffle_bytes_total = %v, want %d (the hash stages' bytes)", v, shuffled)
	}
	if v, _ := metricValue(families, "shoal_dataframe_queries_total", "outcome", "finished"); v != 1 {
		t.Errorf(`shoal_dataframe_queries_total{outcome="finished"} = %v, want 1`, v)
	}
}
