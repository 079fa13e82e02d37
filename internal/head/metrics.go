package head

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/shoal-dev/shoal/internal/latency"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// rpcTimings are the handling times of unary gRPC calls by method, under
// a lock of their own (calls run concurrently, outside the head's lock).
type rpcTimings struct {
	mu       sync.Mutex
	byMethod map[string]*latency.Histogram
}

// observe is a unary interceptor that times each call.
func (r *rpcTimings) observe(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	method := info.FullMethod[strings.LastIndexByte(info.FullMethod, '/')+1:]
	r.mu.Lock()
	if r.byMethod == nil {
		r.byMethod = map[string]*latency.Histogram{}
	}
	hist := r.byMethod[method]
	if hist == nil {
		hist = &latency.Histogram{}
		r.byMethod[method] = hist
	}
	hist.Since(start)
	r.mu.Unlock()
	return resp, err
}

func (r *rpcTimings) snapshot() map[string]latency.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]latency.Snapshot, len(r.byMethod))
	for m, h := range r.byMethod {
		out[m] = h.Snapshot()
	}
	return out
}

// headTimings are the head's latency histograms, observed under its lock.
type headTimings struct {
	message  latency.Histogram // one client batch
	schedule latency.Histogram // one scheduling pass
}

// Metrics is what the head's metrics report (internal/metrics exposes it
// to Prometheus): its status, and what status does not say.
type Metrics struct {
	Status *pb.StatusReply
	// Draining holds the IDs (bytes) of the nodes being drained.
	Draining map[string]bool
	// ByFunction counts unfinished tasks by {function, state}: the
	// MetricsTopFunctions functions with most, the rest as "other".
	ByFunction                  map[[2]string]int64
	ActorsCreating, ActorsAlive int
	// Submitted counts submitted jobs by state; Events the events recorded
	// by kind.
	Submitted map[string]int
	Events    map[string]int64
	// Message is the time to apply one client batch; Schedule one
	// scheduling pass.
	Message, Schedule latency.Snapshot
	// RPCs are the handling times of the head's unary gRPC calls, by
	// method (Status, Locate, ...).
	RPCs map[string]latency.Snapshot
	// Queries sums what the dataframe queries' drivers reported.
	Queries QueryTotals
}

// MetricsTopFunctions bounds the function label of Metrics.ByFunction.
const MetricsTopFunctions = 20

// Metrics returns what the head's metrics report, read now (in one
// snapshot with its status).
func (h *Head) Metrics() Metrics {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Metrics{Status: h.statusLocked(), Draining: map[string]bool{}, ByFunction: map[[2]string]int64{}, Submitted: map[string]int{}, Events: map[string]int64{},
		Message: h.timings.message.Snapshot(), Schedule: h.timings.schedule.Snapshot(), RPCs: h.rpcTimings.snapshot(), Queries: h.queries.totals}
	for _, n := range h.nodes {
		if n.draining {
			s.Draining[string(n.id.Bytes())] = true
		}
	}
	perFunc := map[string]map[string]int64{}
	for k, n := range h.tally.byFuncState() {
		if perFunc[k.fn] == nil {
			perFunc[k.fn] = map[string]int64{}
		}
		perFunc[k.fn][taskStateNames[k.state]] += n
	}
	type fnCount struct {
		fn string
		n  int64
	}
	var fns []fnCount
	for fn, states := range perFunc {
		var n int64
		for _, v := range states {
			n += v
		}
		fns = append(fns, fnCount{fn, n})
	}
	slices.SortFunc(fns, func(a, b fnCount) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.fn, b.fn)) })
	for i, f := range fns {
		label := f.fn
		if i >= MetricsTopFunctions {
			label = "other"
		}
		for state, n := range perFunc[f.fn] {
			s.ByFunction[[2]string{label, state}] += n
		}
	}
	for _, a := range h.actors {
		switch a.state {
		case actorCreating:
			s.ActorsCreating++
		case actorAlive:
			s.ActorsAlive++
		}
	}
	for _, j := range h.submitted {
		s.Submitted[strings.ToLower(strings.TrimPrefix(j.info.GetState().String(), "JOB_STATE_"))]++
	}
	for kind, n := range h.eventCounts {
		s.Events[kind] = n
	}
	return s
}
