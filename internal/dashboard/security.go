package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/shoal-dev/shoal/internal/metrics"
)

const tokenCookie = metrics.TokenCookie

// contentPolicy lets pages load only this origin's style sheet and script
// (no inline script: a job's output that escaped its escaping still could
// not run), and never be framed.
const contentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// guard sets the security headers of every answer and, on loopback,
// refuses requests whose Host is not a loopback name: a page of another
// site whose name was rebound to 127.0.0.1 (DNS rebinding) would be of
// this origin in the browser's eyes.
func (d *Dashboard) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if d.opts.Loopback && !loopbackHost(r.Host) {
			http.Error(w, "this dashboard listens on loopback and answers only to a loopback host name (localhost, 127.0.0.1, [::1]), not "+r.Host, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// credential is what the request authenticated with: the token it
// presented ("" on loopback without one).
func credential(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	}
	if c, err := r.Cookie(tokenCookie); err == nil {
		return c.Value
	}
	return ""
}

// csrfToken is the token a form of this session must send back: an HMAC
// of the session's credential under a key of this process. A page of
// another origin can make the browser send the cookie but cannot read the
// token from our pages.
func (d *Dashboard) csrfToken(r *http.Request) string {
	m := hmac.New(sha256.New, d.csrfKey)
	m.Write([]byte("shoal dashboard csrf\x00"))
	m.Write([]byte(credential(r)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameOrigin reports whether a browser says the request comes from one of
// our own pages (requests without Origin and Sec-Fetch-Site, from
// programs, pass: the CSRF token still guards them).
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// action serves a POST that changes the cluster: it must come from our
// own page and carry the session's CSRF token, else 403.
func (d *Dashboard) action(f func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if !sameOrigin(r) {
			d.fail(w, r, &httpError{http.StatusForbidden, "refused: this request did not come from a page of this dashboard (Origin " + r.Header.Get("Origin") + ")"})
			return
		}
		got := r.PostFormValue("csrf")
		if subtle.ConstantTimeCompare([]byte(got), []byte(d.csrfToken(r))) != 1 {
			d.fail(w, r, &httpError{http.StatusForbidden, "refused: the form's CSRF token is missing or wrong (reload the page and try again)"})
			return
		}
		if err := f(w, r); err != nil {
			d.fail(w, r, err)
		}
	}
}

// loginView is the login page's data.
type loginView struct {
	Next  string
	Error string
}

func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if d.opts.Loopback {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	d.showLogin(w, r, http.StatusOK, loginView{Next: next})
}

func (d *Dashboard) showLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	b := d.base(r)
	b.Title, b.Refresh, b.CSRF = "Log in", 0, ""
	d.render(w, status, "login", "layout.html", view{base: b, P: v})
}

// login takes the cluster token from the form and keeps it in an
// HttpOnly, SameSite=Strict cookie.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := safeNext(r.PostFormValue("next"))
	if !sameOrigin(r) {
		d.fail(w, r, &httpError{http.StatusForbidden, "refused: this login did not come from the dashboard's own form"})
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if d.opts.Token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(d.opts.Token)) != 1 {
		d.showLogin(w, r, http.StatusUnauthorized, loginView{Next: next, Error: "That is not the cluster token (the head's token file, ~/.shoal/token by default)."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, metrics.LoginPath, http.StatusSeeOther)
	return nil
}

// safeNext keeps a redirect target on this site (a path, not
// "//elsewhere" or "http://elsewhere").
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
