// Package metrics serves a process's Prometheus metrics (and, on the head,
// the dashboard's pages) over HTTP, with the cluster's rule for who may
// look: on a loopback address anyone on the machine; beyond loopback only
// a caller that presents the cluster token, as "Authorization: Bearer
// TOKEN" (what Prometheus's bearer_token_file sends) or the shoal_token
// cookie. Ray's unauthenticated dashboard (CVE-2023-48022) is the
// cautionary tale.
//
// The metrics are github.com/prometheus/client_golang's: the exposition
// format and its parser are the Prometheus project's own, and the
// collectors of the head and nodes read their state when scraped (no
// bookkeeping on the hot paths beyond a few counters and histograms).
package metrics

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TokenCookie is the cookie that carries the cluster token for browsers.
const TokenCookie = "shoal_token"

// Server is an HTTP server of metrics (and whatever else is mounted).
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Options configure Serve.
type Options struct {
	// Addr is the host:port to listen on (port 0: a free one), unless
	// Listener is given (Listen makes one, for a caller that must know the
	// URL before it can make what is served).
	Addr     string
	Listener net.Listener
	// Token is the cluster token, required of every request when Addr is
	// beyond loopback.
	Token string
	// Registry holds the metrics served at /metrics; the Go runtime's and
	// the process's own are added.
	Registry *prometheus.Registry
	// Mux, when set, serves every other path (the dashboard).
	Mux http.Handler
	// Public, when set, serves LoginPath and the paths under /static/ to
	// anyone: the dashboard's login form (which checks the token itself)
	// and its style sheet. A browser refused for want of the token is
	// pointed to LoginPath.
	Public http.Handler
	Logger *slog.Logger
}

// LoginPath is where Options.Public serves its login form.
const LoginPath = "/login"

// NewRegistry returns a registry with the Go runtime's and the process's
// metrics (go_*, process_*) and cs.
func NewRegistry(cs ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(cs...)
	return reg
}

// Serve starts serving opts.Registry at /metrics on opts.Addr.
func Serve(opts Options) (*Server, error) {
	if opts.Registry == nil {
		return nil, errors.New("metrics: no registry to serve")
	}
	ln := opts.Listener
	if ln == nil {
		var err error
		if ln, err = Listen(opts.Addr); err != nil {
			return nil, err
		}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{ErrorLog: slogAdapter{logger}, Timeout: 10 * time.Second}))
	if opts.Mux != nil {
		mux.Handle("/", opts.Mux)
	}
	loopback := IsLoopback(ln.Addr())
	if !loopback && opts.Token == "" {
		ln.Close()
		return nil, fmt.Errorf("refusing to serve HTTP on %s beyond loopback without a cluster token", ln.Addr())
	}
	handler := RequireToken(mux, opts.Token, loopback)
	if opts.Public != nil {
		handler = withPublic(handler, opts.Public)
	}
	s := &Server{ln: ln, done: make(chan error, 1), srv: &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Listen listens for HTTP on addr.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for HTTP on %s: %w (use HOST:0 for a free port)", addr, err)
	}
	return ln, nil
}

// URL is the base URL of a listener's server.
func URL(ln net.Listener) string { return "http://" + ln.Addr().String() }

// Addr is where the server listens.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Close stops the server, letting requests in flight finish for up to 2s.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// RequireToken lets a request through when open (a loopback listener) or
// when it presents token; otherwise it answers 401 and says how to
// present it.
func RequireToken(next http.Handler, token string, open bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open || HasToken(r, token) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="shoal"`)
		http.Error(w, "this address is beyond loopback: present the cluster token (header \"Authorization: Bearer TOKEN\", or the "+TokenCookie+" cookie)", http.StatusUnauthorized)
	})
}

// withPublic serves LoginPath and /static/ with public, everything else
// with private (which requires the token); a browser's request refused
// for want of the token gets a link to the login form.
func withPublic(private, public http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == LoginPath || strings.HasPrefix(r.URL.Path, "/static/") {
			public.ServeHTTP(w, r)
			return
		}
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			w = &loginLink{ResponseWriter: w, next: r.URL.RequestURI()}
		}
		private.ServeHTTP(w, r)
	})
}

// loginLink replaces the body of a 401 with an HTML page linking to the
// login form.
type loginLink struct {
	http.ResponseWriter
	next    string
	refused bool
}

func (l *loginLink) WriteHeader(code int) {
	if code != http.StatusUnauthorized {
		l.ResponseWriter.WriteHeader(code)
		return
	}
	l.refused = true
	h := l.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/html; charset=utf-8")
	l.ResponseWriter.WriteHeader(code)
	fmt.Fprintf(l.ResponseWriter, `<!doctype html><title>shoal: log in</title><p>This dashboard is beyond loopback: it needs the cluster token. <a href="%s?next=%s">Log in</a>.`,
		LoginPath, url.QueryEscape(l.next))
}

func (l *loginLink) Write(b []byte) (int, error) {
	if l.refused {
		return len(b), nil // (the plain-text reason, replaced)
	}
	return l.ResponseWriter.Write(b)
}

// HasToken reports whether r presents token (compared in constant time).
func HasToken(r *http.Request, token string) bool {
	if token == "" {
		return false
	}
	got := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		got = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	} else if c, err := r.Cookie(TokenCookie); err == nil {
		got = c.Value
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// IsLoopback reports whether addr is a loopback address.
func IsLoopback(addr net.Addr) bool {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.l.Warn("serving metrics", "error", fmt.Sprint(v...)) }
