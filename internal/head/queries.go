package head

import (
	"slices"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// maxQueries bounds the dataframe queries the head keeps (their stages,
// as their drivers reported them): the oldest go first.
const maxQueries = 100

// maxQueryStages bounds the stages kept of one query (a driver reporting
// more is cut there, and says nothing more of it).
const maxQueryStages = 512

// Query is a dataframe query run on the cluster, as its driver (the
// query's coordinator) reported it: its stages as they started and
// finished.
type Query struct {
	ID    []byte
	Label string
	// Job is the driver's job (ids.Abbrev; "" when not known).
	Job string
	// Stages counts the query's stages; Reported holds those its driver
	// reported, by stage ID, the last report of each.
	Stages   int
	Reported []*pb.QueryStage
	// Started is its first stage's start; Ended is set once its driver
	// said it ended, Error when it failed.
	Started, Ended time.Time
	Error          string
}

// Done counts the stages that finished.
func (q *Query) Done() int {
	n := 0
	for _, s := range q.Reported {
		if s.Done {
			n++
		}
	}
	return n
}

// QueryTotals are what the queries' finished stages did, summed since the
// head started (for /metrics).
type QueryTotals struct {
	// Queries and Failed count the queries that ended; Stages the stages
	// that finished.
	Queries, Failed, Stages int64
	// Rows the stages wrote; ShuffleBytes the bytes of their hash
	// (shuffle) outputs; LocalBytes and RemoteBytes the map output bytes
	// their tasks read on their own node and fetched from others.
	Rows, ShuffleBytes, LocalBytes, RemoteBytes int64
	// Spills, Reruns (tasks run again after fetch failures) and
	// SplitPartitions (skewed partitions run as several tasks).
	Spills, Reruns, SplitPartitions int64
}

// queryLog is the queries the head keeps, and the totals of all.
type queryLog struct {
	byID   map[string]*Query
	order  []string // oldest first
	totals QueryTotals
}

// recordQueryStages keeps what a driver reported of its queries' stages.
func (h *Head) recordQueryStages(s *session, m *pb.ClientMessage) {
	if len(m.QueryStages) == 0 {
		return
	}
	l := &h.queries
	if l.byID == nil {
		l.byID = map[string]*Query{}
	}
	for _, st := range m.QueryStages {
		key := string(st.QueryId)
		if len(key) != ids.Size {
			continue // (malformed: not a query's ID)
		}
		q := l.byID[key]
		if q == nil {
			q = &Query{ID: st.QueryId, Label: st.Query}
			if s.job != nil {
				q.Job = s.job.id.Abbrev()
			}
			l.byID[key] = q
			l.order = append(l.order, key)
			if len(l.order) > maxQueries {
				delete(l.byID, l.order[0])
				l.order = slices.Delete(l.order, 0, 1)
			}
		}
		q.Stages = max(q.Stages, int(st.Stages))
		if at := time.Unix(0, st.StartedUnixNs); st.StartedUnixNs > 0 && (q.Started.IsZero() || at.Before(q.Started)) {
			q.Started = at
		}
		if st.Stage < 0 {
			if q.Ended.IsZero() {
				q.Ended, q.Error = time.Now(), st.Error
				l.totals.Queries++
				if st.Error != "" {
					l.totals.Failed++
				}
			}
			continue
		}
		i := slices.IndexFunc(q.Reported, func(r *pb.QueryStage) bool { return r.Stage == st.Stage })
		switch {
		case i >= 0:
			if q.Reported[i].Done {
				continue // (reported finished: final)
			}
			q.Reported[i] = st
		case len(q.Reported) < maxQueryStages:
			q.Reported = append(q.Reported, st)
		default:
			continue
		}
		if st.Done {
			t := &l.totals
			t.Stages++
			t.Rows += st.Rows
			t.LocalBytes += st.LocalBytes
			t.RemoteBytes += st.RemoteBytes
			t.Spills += st.Spills
			t.Reruns += int64(st.Reruns)
			t.SplitPartitions += int64(st.Split)
			if st.Output == "hash" {
				t.ShuffleBytes += st.Bytes
			}
		}
	}
}

// Queries returns the dataframe queries the head keeps, latest first
// (copies).
func (h *Head) Queries() []Query {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Query, 0, len(h.queries.order))
	for i := len(h.queries.order) - 1; i >= 0; i-- {
		q := *h.queries.byID[h.queries.order[i]]
		q.Reported = slices.Clone(q.Reported)
		slices.SortFunc(q.Reported, func(a, b *pb.QueryStage) int { return int(a.Stage - b.Stage) })
		out = append(out, q)
	}
	return out
}
