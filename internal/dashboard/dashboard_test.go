package dashboard

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/shoal-dev/shoal/internal/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

// get serves one request to d (as from the loopback address it listens on).
func get(t testing.TB, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	req.Host = "127.0.0.1:8265"
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func newTestDashboard(t testing.TB, st State) *Dashboard {
	d := New(st, Options{Token: "s3cret", Loopback: true, Logger: quiet})
	t.Cleanup(d.Close)
	return d
}

// Every page renders with a cluster of a few hundred nodes, and says what
// it is about.
func TestDashboardPagesRender(t *testing.T) {
	f := newFake(120, 5000, 20000)
	d := newTestDashboard(t, f)
	job := fakeID('j', 1).String()
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{"Nodes", `id="alive-nodes">118<`, "host-0000", "class=\"spark\"", "Drain", "page 1 of 3"}},
		{"/?state=dead", []string{"host-0005", "dead"}},
		{"/jobs", []string{"Submitted jobs", "job-000", "running", "Jobs connected"}},
		{"/jobs/" + job, []string{"job-001", "Driver output", "job-001 line 299: rows=89401", "the last 200 of 300 lines"}},
		{"/stream", []string{`id="task-stream"`, "pkg.function", "failed", "<rect class=\"run"}},
		{"/stream?window=1m", []string{"last 1m"}},
		{"/tasks", []string{"Tasks by function", "pkg.function00", "other", "pkg.Counter", "index out of range", "goroutine 7"}},
		{"/objects", []string{"Largest objects", "Stores of live nodes", "host-00"}},
		{"/events", []string{"autoscaler: launching", "infeasible", "no node type has 8 GPUs", "shuffle 3"}},
		{"/queries", []string{"shoal.dataframe.stage", "lineitem-000.parquet", "6 of 10 stages done", "running", "finished", "failed",
			"could not read its input", "1 skewed partition split", "1 task run again", "(100 now)", "lineitem-019.parquet"}},
	} {
		w := get(t, d, tc.path)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", tc.path, w.Code, w.Body)
			continue
		}
		body := w.Body.String()
		for _, s := range tc.want {
			if !strings.Contains(body, s) {
				t.Errorf("GET %s: the page does not say %q", tc.path, s)
			}
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
	}
	// The refresh script asks for the live part only.
	w := get(t, d, "/tasks", "X-Shoal-Fragment", "1")
	if body := w.Body.String(); strings.Contains(body, "<html") || !strings.Contains(body, "Tasks by function") {
		t.Errorf("fragment of /tasks is not the live part alone:\n%.300s", body)
	}
	if w := get(t, d, "/jobs/"+fakeID('j', 999).String()); w.Code != http.StatusNotFound {
		t.Errorf("an unknown job: %d, want 404", w.Code)
	}
	if w := get(t, d, "/jobs/nothex"); w.Code != http.StatusBadRequest {
		t.Errorf("a malformed job id: %d, want 400", w.Code)
	}
}

// Lists are paginated: 50 nodes a page, the page number clamped, the
// other parameters kept in the links.
func TestDashboardPagination(t *testing.T) {
	d := newTestDashboard(t, newFake(120, 100, 100))
	rows := regexp.MustCompile(`<tr class="node"`)
	for _, tc := range []struct {
		path     string
		rows     int
		page     string
		contains string
	}{
		{"/", 50, "page 1 of 3", "host-0049"},
		{"/?page=3", 20, "page 3 of 3", "host-0119"},
		{"/?page=99", 20, "page 3 of 3", "host-0005"},
		{"/?page=-1", 50, "page 1 of 3", "host-0000"},
		{"/?state=alive&page=2", 50, "page 2 of 3", `href="/?page=3&amp;state=alive"`},
	} {
		body := get(t, d, tc.path).Body.String()
		if n := len(rows.FindAllString(body, -1)); n != tc.rows {
			t.Errorf("%s: %d node rows, want %d", tc.path, n, tc.rows)
		}
		for _, s := range []string{tc.page, tc.contains} {
			if !strings.Contains(body, s) {
				t.Errorf("%s: no %q", tc.path, s)
			}
		}
	}
	if body := get(t, d, "/tasks?page=2").Body.String(); !strings.Contains(body, "page 2 of 11") {
		t.Errorf("failures are not 20 a page")
	}
}

// What a job controls (its name, its output, its errors) shows as text.
func TestDashboardEscapes(t *testing.T) {
	f := newFake(3, 10, 10)
	evil := `<script>alert("pwned")</script>`
	f.jobs[1].Name = evil
	f.jobs[1].Error = `<img src=x onerror=alert(1)>`
	f.logs[fakeID('j', 1)] = []string{evil, `</pre><script>alert(2)</script>`}
	f.failures[0].Message = evil + "\n" + evil
	f.failures[0].Function = evil
	f.spans[len(f.spans)-1].Span.Function = evil
	f.events = append(f.events, "12:00:00.000 "+evil)
	d := newTestDashboard(t, f)
	for _, path := range []string{"/jobs", "/jobs/" + fakeID('j', 1).String(), "/tasks", "/stream", "/events"} {
		body := get(t, d, path).Body.String()
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s: a job's text is not escaped:\n%s", path, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(") {
			t.Errorf("%s: the job's text is missing", path)
		}
	}
}

// On loopback, only loopback host names are answered (DNS rebinding).
func TestDashboardLoopbackHost(t *testing.T) {
	d := newTestDashboard(t, newFake(1, 1, 1))
	for host, want := range map[string]int{"127.0.0.1:8265": 200, "localhost:8265": 200, "[::1]:8265": 200, "evil.example:8265": 403, "10.0.0.1": 403} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		w := httptest.NewRecorder()
		d.ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("Host %s: %d, want %d", host, w.Code, want)
		}
	}
}

// serve runs the dashboard the way the head does (metrics.Serve) on addr.
func serve(t *testing.T, d *Dashboard, addr string) string {
	t.Helper()
	srv, err := metrics.Serve(metrics.Options{Addr: addr, Token: "s3cret", Registry: metrics.NewRegistry(prometheus.NewGauge(prometheus.GaugeOpts{Name: "x", Help: "x"})),
		Mux: d, Public: d.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(srv.Addr())
	return "http://127.0.0.1:" + port
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// send makes a request of a served dashboard, with a form (unless nil)
// and header pairs, and returns the answer and its body.
func send(t testing.TB, c *http.Client, method, target string, form url.Values, header ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Beyond loopback: 401 without the token (a browser is pointed to the
// login form), the login form and style sheet open to all, a wrong token
// refused, the right one kept in an HttpOnly, SameSite=Strict cookie.
func TestDashboardTokenBeyondLoopback(t *testing.T) {
	d := New(newFake(3, 10, 10), Options{Token: "s3cret", Logger: quiet})
	defer d.Close()
	base := serve(t, d, "0.0.0.0:0")
	client := &http.Client{CheckRedirect: noRedirects}
	do := func(method, path string, form url.Values, header ...string) (*http.Response, string) {
		t.Helper()
		return send(t, client, method, base+path, form, header...)
	}
	for _, path := range []string{"/", "/jobs", "/stream", "/tasks", "/objects", "/events", "/queries", "/metrics"} {
		if resp, _ := do("GET", path, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", path, resp.StatusCode)
		}
	}
	if resp, _ := do("POST", "/jobs/"+fakeID('j', 0).String()+"/stop", url.Values{"csrf": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST without the token: %d, want 401", resp.StatusCode)
	}
	if resp, body := do("GET", "/jobs", nil, "Accept", "text/html"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `href="/login?next=%2Fjobs"`) {
		t.Errorf("a browser without the token: %d, %s", resp.StatusCode, body)
	}
	for _, path := range []string{"/login", "/static/dash.css", "/static/dash.js"} {
		if resp, _ := do("GET", path, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
		}
	}
	if resp, _ := do("POST", "/login", url.Values{"token": {"wrong"}, "next": {"/jobs"}}); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("login with a wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp, _ := do("POST", "/login", url.Values{"token": {"s3cret"}}, "Origin", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login from another origin: %d, want 403", resp.StatusCode)
	}
	resp, _ := do("POST", "/login", url.Values{"token": {"s3cret"}, "next": {"//evil.example/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q, want 303 to / (never another site)", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != metrics.TokenCookie || cookies[0].Value != "s3cret" || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("login cookie: %+v", cookies)
	}
	if resp, body := do("GET", "/", nil, "Cookie", metrics.TokenCookie+"=s3cret"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "log out") {
		t.Errorf("GET / with the cookie: %d", resp.StatusCode)
	}
	if resp, _ := do("GET", "/tasks", nil, "Authorization", "Bearer s3cret"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /tasks with the header: %d", resp.StatusCode)
	}
}

// csrfField finds a form's CSRF token in a page.
var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Actions are POSTs that need the session's CSRF token and, from a
// browser, a same-origin request: otherwise 403 and nothing done.
func TestDashboardCSRF(t *testing.T) {
	f := newFake(3, 10, 10)
	d := New(f, Options{Token: "s3cret", Logger: quiet})
	defer d.Close()
	base := serve(t, d, "0.0.0.0:0")
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(base)
	jar.SetCookies(u, []*http.Cookie{{Name: metrics.TokenCookie, Value: "s3cret"}})
	client := &http.Client{Jar: jar, CheckRedirect: noRedirects}
	page := func(path string) string {
		_, body := send(t, client, "GET", base+path, nil)
		return body
	}
	job := fakeID('j', 0) // running
	m := csrfField.FindStringSubmatch(page("/jobs/" + job.String()))
	if m == nil {
		t.Fatal("the page of a running job has no stop form with a CSRF token")
	}
	token := m[1]
	post := func(path string, form url.Values, header ...string) int {
		resp, _ := send(t, client, "POST", base+path, form, header...)
		return resp.StatusCode
	}
	stop := "/jobs/" + job.String() + "/stop"
	for _, tc := range []struct {
		what   string
		form   url.Values
		header []string
	}{
		{"no CSRF token", url.Values{}, nil},
		{"a wrong CSRF token", url.Values{"csrf": {token + "x"}}, nil},
		{"another origin", url.Values{"csrf": {token}}, []string{"Origin", "http://evil.example"}},
		{"a cross-site fetch", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		if code := post(stop, tc.form, tc.header...); code != http.StatusForbidden {
			t.Errorf("stop with %s: %d, want 403", tc.what, code)
		}
	}
	if len(f.stopped) != 0 {
		t.Fatalf("refused requests stopped jobs: %v", f.stopped)
	}
	if code := post(stop, url.Values{"csrf": {token}}, "Origin", base, "Sec-Fetch-Site", "same-origin"); code != http.StatusSeeOther {
		t.Fatalf("stop with the CSRF token: %d, want 303", code)
	}
	if len(f.stopped) != 1 || f.stopped[0] != job {
		t.Fatalf("stopped %v, want %v", f.stopped, job)
	}
	if body := page("/jobs/" + job.String() + "?flash=stopped"); !strings.Contains(body, "The job was told to stop.") || !strings.Contains(body, "stopped") {
		t.Errorf("the job's page after stopping it does not say so")
	}

	// Drain: refused without the token, done with it, and a refusal of the
	// head's is the answer.
	node := fakeID('n', 1)
	drain := "/nodes/" + node.String() + "/drain"
	if code := post(drain, url.Values{}); code != http.StatusForbidden {
		t.Errorf("drain without CSRF token: %d, want 403", code)
	}
	if code := post(drain, url.Values{"csrf": {token}}); code != http.StatusSeeOther {
		t.Fatalf("drain with the CSRF token: %d, want 303", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(page("/"), "drained in 0.1s") {
		if time.Now().After(deadline) {
			t.Fatal("the cluster page does not say how the drain went")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.mu.Lock()
	f.drainErr = errors.New("node is pinned (shuffle 3)")
	f.mu.Unlock()
	if code := post("/nodes/"+fakeID('n', 2).String()+"/drain", url.Values{"csrf": {token}}); code != http.StatusConflict {
		t.Errorf("a drain the head refuses: %d, want 409", code)
	}
	// Another session (another credential) has another CSRF token.
	other := New(f, Options{Token: "s3cret", Logger: quiet})
	defer other.Close()
	if a, b := d.csrfToken(httptest.NewRequest("GET", "/", nil)), other.csrfToken(httptest.NewRequest("GET", "/", nil)); a == b {
		t.Error("two dashboards share a CSRF token")
	}
}

// A row of the task stream has at most one rectangle per pixel, however
// many runs it holds.
func TestDashboardStreamMergesRuns(t *testing.T) {
	f := newFake(1, 0, 50_000) // one node, 3 executors: thousands of runs a row
	d := newTestDashboard(t, f)
	body := get(t, d, "/stream").Body.String()
	rects, rows := strings.Count(body, `<rect class="run`), strings.Count(body, `class="row-label"`)
	if rects == 0 || rows == 0 || rects > rows*int(streamWidth+1) {
		t.Fatalf("%d rectangles for %d rows of %g px", rects, rows, streamWidth)
	}
	if !strings.Contains(body, `class="run failed"`) {
		t.Error("failed runs are not marked")
	}
}

// A sparkline spans 15 minutes ending at its last point, with at most
// one point per 15 s (the largest value of each, so spikes stay).
func TestDashboardSparkline(t *testing.T) {
	var pts []point
	end := time.Now().UnixMilli()
	for i := range 1000 { // a point a second, older ones too
		v := 1.0
		if i == 500 {
			v = 50 // a spike
		}
		pts = append(pts, point{end - int64(999-i)*1000, v})
	}
	svg := string(sparkline(pts, 0, 0))
	line := regexp.MustCompile(`class="spark-line" points="([^"]*)"`).FindStringSubmatch(svg)
	if line == nil {
		t.Fatalf("no line: %s", svg)
	}
	n := len(strings.Fields(line[1]))
	if n > sparkPoints+2 || n < sparkPoints-2 {
		t.Errorf("%d points, want about %d", n, sparkPoints)
	}
	if !strings.Contains(line[1], ",1.0") { // the spike at the top
		t.Errorf("the spike is lost: %s", line[1])
	}
	// A line that starts later than the axis starts to the right.
	late := string(sparkline([]point{{end - 10_000, 1}, {end, 2}}, 0, end-20_000))
	if !strings.Contains(late, `points="59.9,22 59.9,`) {
		t.Errorf("the last 10 s of 20 drawn as %s", late)
	}
}
