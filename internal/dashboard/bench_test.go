package dashboard

import (
	"net/http"
	"testing"
)

// BenchmarkRender renders each page server-side for a cluster of 1,000
// nodes with 100,000 unfinished tasks and 100,000 runs in the timeline
// (the head's limit), the fake aggregating them on every call as the head
// does (the reads the pages share for a second are forgotten before each
// render, so each pays them). Issue 16 asks for at most 200 ms a page.
func BenchmarkRender(b *testing.B) {
	f := newFake(1000, 100_000, 100_000)
	d := New(f, Options{Loopback: true})
	defer d.Close()
	job := fakeID('j', 1).String()
	for _, page := range []struct{ name, path string }{
		{"cluster", "/"}, {"cluster_page20", "/?page=20"}, {"jobs", "/jobs"}, {"job", "/jobs/" + job},
		{"stream", "/stream"}, {"stream_15m", "/stream?window=15m"}, {"tasks", "/tasks"}, {"objects", "/objects"},
		{"events", "/events"}, {"queries", "/queries"},
	} {
		b.Run(page.name, func(b *testing.B) {
			size := 0
			for b.Loop() {
				d.read.forget()
				w := get(b, d, page.path)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d", page.path, w.Code)
				}
				size = w.Body.Len()
			}
			b.ReportMetric(float64(size)/1024, "KiB/page")
		})
	}
}
