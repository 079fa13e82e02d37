package shoal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe"
)

var dashboardFail = shoal.Func1("test.dashboardFail", func(_ context.Context, x int) (int, error) {
	return 0, fmt.Errorf("dashboard test failure: x=%d <script>alert('escaped?')</script>", x)
})

// chromium finds a Chromium to drive; without one the test skips, saying
// how to install it, except in CI (CI=true), where it fails: .ci/run
// installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium for the dashboard's browser test: install it (Debian, Ubuntu: apt-get install -y chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; .ci/run installs it in CI")
	}
	t.Skip(msg)
	return ""
}

// browser drives a headless Chromium; dialogs (the confirmations of
// actions) are accepted and recorded.
type browser struct {
	t       *testing.T
	ctx     context.Context
	shots   string
	mu      sync.Mutex
	dialogs []string
}

// browserStarts bounds the attempts to start Chromium. A start that
// fails is Chromium's process dying before it listens (once in CI, with
// nothing but its crash reporter's lines to say why), not the dashboard
// under test: each failed start is logged, and the test fails only when
// every attempt did.
const browserStarts = 3

func newBrowser(t *testing.T, exe string) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1440, 900),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true), chromedp.DisableGPU)
	var ctx context.Context
	for attempt := 1; ; attempt++ {
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		c, cancel := chromedp.NewContext(alloc)
		err := chromedp.Do(c) // (starts the browser)
		if err == nil {
			ctx = c
			t.Cleanup(func() { cancel(); cancelAlloc() })
			break
		}
		cancel()
		cancelAlloc()
		if attempt == browserStarts {
			t.Fatalf("starting Chromium (%s), %d attempts; the last: %v", exe, attempt, err)
		}
		t.Logf("starting Chromium (%s), attempt %d: %v", exe, attempt, err)
	}
	b := &browser{t: t, ctx: ctx, shots: os.Getenv("SHOAL_DASHBOARD_SCREENSHOTS")}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// text is the visible text of the first element matching the CSS
// selector sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("the text of %s: %v", sel, err)
	}
	return s
}

// waitText waits until the element sel shows want (the page updating
// itself).
func (b *browser) waitText(sel, want string, timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil && strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited %v for %s to show %q; it shows %q (%v)", timeout, sel, want, got, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// count is how many elements match the CSS selector sel.
func (b *browser) count(sel string) int {
	b.t.Helper()
	return eval[int](b, fmt.Sprintf("document.querySelectorAll(%q).length", sel))
}

// screenshot saves the whole page as NAME.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", path)
}

// The dashboard in a real browser against a real cluster running work:
// each page opened and checked for what it must show (the node count, a
// job's state changing while the page is open, a failed task's error
// as text), the Stop and Drain buttons pressed, a screenshot of each.
// SHOAL_DASHBOARD_SCREENSHOTS=docs/dashboard keeps the screenshots there.
func TestDashboardBrowser(t *testing.T) {
	exe := chromium(t)
	c := startCluster(t, 2, "--cpus", "2")
	ctx := within(t, connect(t, c), 4*time.Minute)
	st, err := shoal.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	url := st.DashboardURL
	if url == "" {
		t.Fatal("the head serves no dashboard")
	}

	// Work: tasks that succeed, one that fails, two jobs that run until
	// stopped.
	var futs []*shoal.Future[int]
	for i := range 200 {
		futs = append(futs, square.Remote(ctx, i))
	}
	requireValues(t, ctx, futs, func(i int) int { return i * i })
	for _, f := range futs {
		f.Release()
	}
	if _, err := dashboardFail.Remote(ctx, 7).Get(ctx); err == nil {
		t.Fatal("the failing task succeeded")
	}
	for _, size := range []int{8 << 20, 3 << 20} {
		obj, err := shoal.Put(ctx, make([]byte, size))
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Release()
	}
	tmp := t.TempDir()
	job := filepath.Join(tmp, "dashjob")
	if out, err := exec.Command("go", "build", "-o", job, "./testdata/dashjob").CombinedOutput(); err != nil {
		t.Fatalf("building dashjob: %v\n%s", err, out)
	}
	submit := func(name string) string {
		out, errOut, err := shoalCmd(t, c, "job", "submit", "--no-wait", "--name", name, "--working-dir", tmp, "--", job)
		if err != nil {
			t.Fatalf("submit: %v\n%s", err, errOut)
		}
		return strings.TrimSpace(out)
	}
	jobA, jobB := submit("etl <i>nightly</i>"), submit("report")
	// A dataframe query on the cluster: its stages show on the queries page.
	var parts []*shoal.Future[arrow.RecordBatch]
	for p := range 4 {
		parts = append(parts, keyedBatch.Remote(ctx, rowsSpec{Seed: p, First: p * 20_000, Rows: 20_000, Keys: 500, Hot: 30}))
	}
	if _, err := dataframe.FromFutures(ctx, parts).GroupBy("key").Agg(dataframe.Sum("v").As("sv")).Sort(dataframe.Asc("key")).
		Collect(ctx, dataframe.WithParallelism(3)); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, exe)

	// Cluster: the node count.
	b.do(chromedp.Navigate(url + "/"))
	if got := b.waitText("#alive-nodes", "2", 30*time.Second); strings.TrimSpace(got) != "2" {
		t.Errorf("the cluster page shows %q live nodes, want 2", got)
	}
	if n := b.count("tr.node"); n != 2 {
		t.Errorf("%d node rows, want 2", n)
	}

	// A job's page: running, then stopped while the page is open (it
	// updates itself: the page is not reloaded).
	b.do(chromedp.Navigate(url + "/jobs/" + jobA))
	b.waitText("#job-state", "running", 60*time.Second)
	b.waitText("#job-log", "<b>not bold</b>", 60*time.Second)
	if log := b.text("#job-log"); !strings.Contains(log, "dashjob: batch input <missing> (as planned)") {
		t.Errorf("the driver output does not show the failing task's error: %q", log)
	}
	if title := b.text("h1"); !strings.Contains(title, "etl <i>nightly</i>") {
		t.Errorf("the job's name is not shown as text: %q", title)
	}
	b.screenshot("job")
	b.do(chromedp.Navigate(url + "/"))
	b.waitText("#alive-nodes", "2", 10*time.Second)
	b.screenshot("cluster")
	b.do(chromedp.Navigate(url + "/jobs/" + jobA))
	b.waitText("#job-state", "running", 10*time.Second)
	eval[bool](b, `window.notReloaded = true`)
	if _, errOut, err := shoalCmd(t, c, "job", "stop", jobA); err != nil {
		t.Fatalf("job stop: %v\n%s", err, errOut)
	}
	b.waitText("#job-state", "stopped", 30*time.Second)
	if !eval[bool](b, `window.notReloaded === true`) {
		t.Error("the job's state changed by a reload, not by the page's own update")
	}

	// The other job, stopped with the page's button (which asks first).
	b.do(chromedp.Navigate(url + "/jobs"))
	b.waitText("table", "report", 30*time.Second)
	b.waitText("tr.job[data-job='"+jobB+"'] .job-state", "running", 30*time.Second)
	b.screenshot("jobs")
	b.do(chromedp.Navigate(url+"/jobs/"+jobB), chromedp.WaitVisible(chromedp.CSS("#stop-job")), chromedp.Click(chromedp.CSS("#stop-job")))
	b.waitText("#job-state", "stopped", 30*time.Second)
	b.waitText(".flash", "The job was told to stop.", 10*time.Second)

	// Task stream: runs drawn, the failures marked.
	b.do(chromedp.Navigate(url + "/stream?window=1m"))
	deadline := time.Now().Add(30 * time.Second)
	for b.count("#task-stream rect.run") == 0 || b.count("#task-stream rect.run.failed") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the task stream shows %d runs, %d failed", b.count("#task-stream rect.run"), b.count("#task-stream rect.run.failed"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	if legend := b.text(".legend"); !strings.Contains(legend, "dashjob.work") || !strings.Contains(legend, "failed") {
		t.Errorf("the task stream's legend: %q", legend)
	}
	b.screenshot("stream")

	// Tasks: counts by function; the failure's error (markup as text).
	b.do(chromedp.Navigate(url + "/tasks"))
	failures := b.waitText("#failures", "dashboard test failure: x=7 <script>alert('escaped?')</script>", 30*time.Second)
	if !strings.Contains(failures, "test.dashboardFail") {
		t.Errorf("the failure does not name its function: %q", failures)
	}
	b.waitText("#failures", "dashjob: batch input <missing>", 30*time.Second)
	eval[bool](b, `document.querySelector("#failures details").open = true`)
	if tbl := b.text("table"); !strings.Contains(tbl, "test.square") && !strings.Contains(tbl, "dashjob.work") {
		t.Errorf("tasks by function: %q", tbl)
	}
	b.screenshot("tasks")

	// Objects, events, queries.
	b.do(chromedp.Navigate(url + "/objects"))
	if largest := b.waitText("main", "Largest objects", 10*time.Second); !strings.Contains(largest, "8.0 MiB") {
		t.Errorf("the objects page does not show the 8 MiB object: %q", largest)
	}
	b.screenshot("objects")
	b.do(chromedp.Navigate(url + "/events"))
	b.waitText("main", "fetched from the head", 10*time.Second)
	b.screenshot("events")
	b.do(chromedp.Navigate(url + "/queries"))
	b.waitText("main", "shoal.dataframe.stage", 10*time.Second)
	if q := b.waitText("#queries", "stages done", 30*time.Second); !strings.Contains(q, "finished") || !strings.Contains(q, "Sort [key]") {
		t.Errorf("the queries page does not show the query finished: %q", q)
	}
	b.screenshot("queries")

	// Cluster again, then a node drained with its button: the page sees
	// it go.
	b.do(chromedp.Navigate(url + "/"))
	b.waitText("#alive-nodes", "2", 10*time.Second)
	b.do(chromedp.Click(chromedp.CSS("tr.node button")))
	b.waitText("#alive-nodes", "1", 60*time.Second)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.dialogs {
		if !strings.HasPrefix(d, "Stop job") && !strings.HasPrefix(d, "Drain node") {
			t.Errorf("a dialog the dashboard did not mean to open: %q", d)
		}
	}
	if len(b.dialogs) != 2 {
		t.Errorf("dialogs %q, want the stop's and the drain's confirmations", b.dialogs)
	}
	if err := c.WaitNodes(ctx, 1); err != nil {
		t.Fatal(errors.Join(errors.New("after the drain"), err))
	}
}
