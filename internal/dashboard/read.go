package dashboard

import (
	"strconv"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// readFresh is how long a read of the cluster serves every page: the
// head's aggregate reads walk its objects under its lock (about 30-100 ms
// at 100,000 tasks, BenchmarkDashboardReads in internal/head), so that
// open pages, however many, cost it at most one of each a second.
const readFresh = time.Second

// reads are the State's reads, each kept for readFresh.
type reads struct {
	st      State
	mu      sync.Mutex
	entries map[string]*readEntry
}

// readEntry is one read: its own lock makes a second page wait for the
// read under way rather than read again.
type readEntry struct {
	mu sync.Mutex
	at time.Time
	v  any
}

func cachedRead[T any](r *reads, key string, read func() T) T {
	r.mu.Lock()
	e := r.entries[key]
	if e == nil {
		e = &readEntry{}
		r.entries[key] = e
	}
	r.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.v == nil || time.Since(e.at) > readFresh {
		e.v, e.at = read(), time.Now()
	}
	return e.v.(T)
}

// forget drops what was read (after an action, whose page must show its
// effect).
func (r *reads) forget() {
	r.mu.Lock()
	r.entries = map[string]*readEntry{}
	r.mu.Unlock()
}

func (r *reads) Metrics() head.Metrics          { return cachedRead(r, "metrics", r.st.Metrics) }
func (r *reads) JobTasks() []head.JobTasks      { return cachedRead(r, "jobtasks", r.st.JobTasks) }
func (r *reads) ListJobs() *pb.ListJobsReply    { return cachedRead(r, "jobs", r.st.ListJobs) }
func (r *reads) Failures() []head.Failure       { return cachedRead(r, "failures", r.st.Failures) }
func (r *reads) Queries() []head.Query          { return cachedRead(r, "queries", r.st.Queries) }
func (r *reads) ActorCounts() []head.ActorCount { return cachedRead(r, "actors", r.st.ActorCounts) }

func (r *reads) LargestObjects(n int) []head.ObjectInfo {
	return cachedRead(r, "largest/"+strconv.Itoa(n), func() []head.ObjectInfo { return r.st.LargestObjects(n) })
}

func (r *reads) Timeline(since time.Duration) *pb.TimelineReply {
	return cachedRead(r, "timeline/"+since.String(), func() *pb.TimelineReply { return r.st.Timeline(since) })
}
