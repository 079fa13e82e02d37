// Package dashboard is the head's web dashboard: server-rendered pages of
// the cluster's nodes, jobs, task stream, tasks and actors, objects,
// autoscaler events and dataframe queries, refreshed in place every two
// seconds.
//
//	State (the head, or a test's fake) ──▶ page builders ──▶ html/template ──▶ browser
//	  one bounded snapshot per call        aggregate,          embedded          a few lines of JS
//	  (the head's lock held briefly)       paginate, SVG       templates         fetch the live part
//
// Every page aggregates and paginates: with a thousand nodes and a hundred
// thousand tasks a page shows counts by function and state, 50 nodes at a
// time, and a task stream whose spans are merged to at most one rectangle
// per pixel of each executor slot (BenchmarkRender* measures a page at that
// size).
//
// Security: on a loopback address the dashboard is open to the machine (as
// the head's metrics are) but answers only requests whose Host is a
// loopback name (no DNS rebinding); beyond loopback every request needs
// the cluster token (internal/metrics), which the login form here turns
// into an HttpOnly, SameSite=Strict cookie. Actions (stop a job, drain a
// node) are POSTs that need a CSRF token, an HMAC of the session's
// credential under a key of this process, and a same-origin Origin or
// Sec-Fetch-Site where the browser sends one. Everything a job controls
// (names, output, errors) is escaped by html/template.
package dashboard
