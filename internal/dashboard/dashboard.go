package dashboard

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// State is what the dashboard reads of a cluster and the two actions it
// takes. *head.Head implements it; tests use a fake of any size. Every
// method returns a copy the dashboard may keep and read without locks.
type State interface {
	// Metrics is the status (nodes, events, waiting work, pins) with the
	// draining nodes and the unfinished tasks by function and state.
	Metrics() head.Metrics
	// History is 15 minutes of samples of the cluster and of the nodes
	// asked for.
	History(nodes []ids.ID) ([]head.ClusterSample, map[ids.ID][]head.Sample)
	// Timeline is the task spans that ended in the last since.
	Timeline(since time.Duration) *pb.TimelineReply
	Failures() []head.Failure
	// Queries is the dataframe queries run on the cluster, as their
	// drivers reported their stages, latest first.
	Queries() []head.Query
	JobTasks() []head.JobTasks
	ActorCounts() []head.ActorCount
	LargestObjects(n int) []head.ObjectInfo
	ListJobs() *pb.ListJobsReply
	JobLogTail(id ids.ID, n int) ([]string, int64, error)
	StopJob(*pb.GetJobRequest) (*pb.SubmittedJob, error)
	Drain(ctx context.Context, id ids.ID, deadline time.Duration) (*pb.DrainReply, error)
}

var _ State = (*head.Head)(nil)

// Options configure a dashboard.
type Options struct {
	// Token is the cluster token, which the login form checks.
	Token string
	// Loopback says the dashboard is served on a loopback address (open
	// to the machine; no login).
	Loopback bool
	// DrainDeadline is how long a node drained from the dashboard gives
	// its running tasks (default 30s, as `shoal drain`).
	DrainDeadline time.Duration
	// Refresh is how often pages update themselves (default 2s; negative:
	// never).
	Refresh time.Duration
	Logger  *slog.Logger
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Dashboard serves the pages. Close it to end the drains it started.
type Dashboard struct {
	st      State
	read    *reads // what pages read of st, shared for a second
	opts    Options
	csrfKey []byte
	pages   map[string]*template.Template
	mux     *http.ServeMux
	public  *http.ServeMux

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // drains in flight
	mu     sync.Mutex
	drains map[ids.ID]string // node -> how its drain ended ("": running)
}

// pageNames are the templates of the pages (templates/NAME.html), each
// rendered inside templates/layout.html.
var pageNames = []string{"cluster", "jobs", "job", "stream", "tasks", "objects", "events", "queries", "login", "error"}

// New returns the dashboard of st.
func New(st State, opts Options) *Dashboard {
	if opts.DrainDeadline <= 0 {
		opts.DrainDeadline = 30 * time.Second
	}
	if opts.Refresh == 0 {
		opts.Refresh = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Dashboard{st: st, read: &reads{st: st, entries: map[string]*readEntry{}}, opts: opts, csrfKey: make([]byte, 32), pages: map[string]*template.Template{}, drains: map[ids.ID]string{}}
	rand.Read(d.csrfKey)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	for _, name := range pageNames {
		d.pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, "templates/"+name+".html"))
	}
	d.mux = http.NewServeMux()
	d.mux.HandleFunc("GET /{$}", d.page("cluster", d.clusterPage))
	d.mux.HandleFunc("GET /jobs", d.page("jobs", d.jobsPage))
	d.mux.HandleFunc("GET /jobs/{id}", d.page("job", d.jobPage))
	d.mux.HandleFunc("GET /stream", d.page("stream", d.streamPage))
	d.mux.HandleFunc("GET /tasks", d.page("tasks", d.tasksPage))
	d.mux.HandleFunc("GET /objects", d.page("objects", d.objectsPage))
	d.mux.HandleFunc("GET /events", d.page("events", d.eventsPage))
	d.mux.HandleFunc("GET /queries", d.page("queries", d.queriesPage))
	d.mux.HandleFunc("POST /jobs/{id}/stop", d.action(d.stopJob))
	d.mux.HandleFunc("POST /nodes/{id}/drain", d.action(d.drainNode))
	d.mux.HandleFunc("POST /logout", d.action(d.logout))

	static, _ := fs.Sub(staticFiles, "static")
	d.public = http.NewServeMux()
	d.public.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	d.public.HandleFunc("GET /login", d.loginForm)
	d.public.HandleFunc("POST /login", d.login)
	return d
}

// ServeHTTP serves the pages and actions (behind the token beyond
// loopback: internal/metrics checks it).
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.guard(d.mux).ServeHTTP(w, r)
}

// Public serves what anyone may fetch: the login form and the style
// sheet and script (metrics.Options.Public).
func (d *Dashboard) Public() http.Handler { return d.guard(d.public) }

// Close ends the drains the dashboard started (their nodes are stopped
// at once) and waits for them.
func (d *Dashboard) Close() {
	d.cancel()
	d.wg.Wait()
}

// base is what every page shows around its content.
type base struct {
	Title    string
	Path     string // for the navigation's current page
	CSRF     string
	Loopback bool
	LoggedIn bool
	Refresh  int64 // ms; 0: no refresh
	Flash    string
	Now      time.Time
}

// builder makes a page's data from a request; an error answers with its
// status.
type builder func(r *http.Request, b *base) (any, error)

// httpError is an error with the status to answer it with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// view is what a page's template gets: its common part and its own.
type view struct {
	base
	P any
}

// page serves a page: the layout around it, or with X-Shoal-Fragment
// (the refresh script) only its live part.
func (d *Dashboard) page(name string, build builder) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b := d.base(r)
		data, err := build(r, &b)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		tmpl := "layout.html"
		if r.Header.Get("X-Shoal-Fragment") != "" {
			tmpl = "content"
		}
		d.render(w, http.StatusOK, name, tmpl, view{base: b, P: data})
	}
}

func (d *Dashboard) base(r *http.Request) base {
	b := base{Path: r.URL.Path, CSRF: d.csrfToken(r), Loopback: d.opts.Loopback, Now: time.Now(), Flash: flashes[r.URL.Query().Get("flash")]}
	if d.opts.Refresh > 0 {
		b.Refresh = d.opts.Refresh.Milliseconds()
	}
	if c, err := r.Cookie(tokenCookie); err == nil && c.Value != "" {
		b.LoggedIn = true
	}
	return b
}

// flashes are the messages an action's redirect shows (by code, so that a
// link cannot make the page say anything else).
var flashes = map[string]string{
	"stopped":  "The job was told to stop.",
	"draining": "The node is being drained: it takes no new work, its running tasks get the drain deadline, then it stops.",
}

// render executes a page's template into a buffer first, so that a
// failure midway answers with an error rather than half a page.
func (d *Dashboard) render(w http.ResponseWriter, status int, page, tmpl string, data any) {
	var buf bytes.Buffer
	if err := d.pages[page].ExecuteTemplate(&buf, tmpl, data); err != nil {
		d.opts.Logger.Error("rendering a dashboard page", "page", page, "error", err)
		http.Error(w, "rendering the page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers with an error page.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	if he, ok := err.(*httpError); ok {
		status = he.status
	}
	b := d.base(r)
	b.Title, b.Refresh = http.StatusText(status), 0
	d.render(w, status, "error", "layout.html", view{base: b, P: err.Error()})
}
