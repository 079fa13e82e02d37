package dashboard

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

const (
	failuresPerPage = 20
	// statsWindow is how far back the runs counted by function go.
	statsWindow = 15 * time.Minute
)

// unfinishedStates are the columns of the tasks-by-function table.
var unfinishedStates = []string{"waiting_for_args", "waiting_for_resources", "running", "idle"}

type tasksView struct {
	States []count
	// FailedRuns counts the failed runs of the last statsWindow, however
	// they came (the head's "failed" counts only the tasks it ran).
	FailedRuns int
	Columns    []string
	Funcs      []funcRow
	Actors     []actorRow
	Failures   []failureRow
	Pager      pager
	Window     string
}

// funcRow is a function's unfinished tasks by state and its runs of the
// last statsWindow (from the timeline).
type funcRow struct {
	Function   string
	Color      string
	Unfinished []int64
	funcStats
}

// funcStats sums a function's runs.
type funcStats struct {
	Runs, Failed    int
	Mean, Max, Time time.Duration
}

type actorRow struct {
	Class                 string
	Creating, Alive, Dead int
}

type failureRow struct {
	Key, When, Function, Kind, Job, Node, Task string
	Attempt                                    int32
	Summary, Message                           string
	FromSpan                                   bool // only the span's cut message is known
}

// spanStats sums the runs of each function.
func spanStats(spans []*pb.TimelineSpan, keep func(fn string) bool) map[string]*funcStats {
	out := map[string]*funcStats{}
	for _, s := range spans {
		sp := s.GetSpan()
		fn := spanFunction(sp)
		if keep != nil && !keep(fn) {
			continue
		}
		st := out[fn]
		if st == nil {
			st = &funcStats{}
			out[fn] = st
		}
		d := time.Duration(sp.GetDurationNs())
		st.Runs++
		st.Time += d
		st.Max = max(st.Max, d)
		if sp.GetFailed() {
			st.Failed++
		}
	}
	for _, st := range out {
		st.Mean = st.Time / time.Duration(st.Runs)
	}
	return out
}

func (d *Dashboard) tasksPage(r *http.Request, b *base) (any, error) {
	b.Title = "Tasks and actors"
	m := d.read.Metrics()
	v := &tasksView{Columns: unfinishedStates, Window: formatDuration(statsWindow)}
	for _, s := range []string{"waiting_for_args", "waiting_for_resources", "running", "finished", "failed", "retried", "rebuilt", "actor_restarts"} {
		v.States = append(v.States, count{s, m.Status.TasksByState[s]})
	}
	spans := d.read.Timeline(statsWindow).GetSpans()
	stats := spanStats(spans, nil)
	for _, st := range stats {
		v.FailedRuns += st.Failed
	}
	rows := map[string]*funcRow{}
	row := func(fn string) *funcRow {
		fr := rows[fn]
		if fr == nil {
			fr = &funcRow{Function: fn, Color: functionColor(fn), Unfinished: make([]int64, len(unfinishedStates))}
			rows[fn] = fr
		}
		return fr
	}
	for k, n := range m.ByFunction {
		if i := slices.Index(unfinishedStates, k[1]); i >= 0 {
			row(k[0]).Unfinished[i] += n
		}
	}
	// Functions that ran lately, most time first, up to twice as many
	// rows as the head counts functions of.
	ran := make([]string, 0, len(stats))
	for fn := range stats {
		ran = append(ran, fn)
	}
	slices.SortFunc(ran, func(a, b string) int { return cmp.Or(cmp.Compare(stats[b].Time, stats[a].Time), strings.Compare(a, b)) })
	for _, fn := range ran {
		if _, ok := rows[fn]; ok || len(rows) < 2*head.MetricsTopFunctions {
			row(fn).funcStats = *stats[fn]
		}
	}
	for _, fr := range rows {
		v.Funcs = append(v.Funcs, *fr)
	}
	unfinished := func(fr funcRow) (n int64) {
		for _, x := range fr.Unfinished {
			n += x
		}
		return n
	}
	slices.SortFunc(v.Funcs, func(a, b funcRow) int {
		return cmp.Or(cmp.Compare(unfinished(b), unfinished(a)), cmp.Compare(b.Time, a.Time), strings.Compare(a.Function, b.Function))
	})

	actors := map[string]*actorRow{}
	for _, ac := range d.read.ActorCounts() {
		ar := actors[ac.Class]
		if ar == nil {
			ar = &actorRow{Class: ac.Class}
			actors[ac.Class] = ar
		}
		switch ac.State {
		case "creating":
			ar.Creating += ac.Count
		case "alive":
			ar.Alive += ac.Count
		case "dead":
			ar.Dead += ac.Count
		}
	}
	for _, ar := range actors {
		v.Actors = append(v.Actors, *ar)
	}
	slices.SortFunc(v.Actors, func(a, b actorRow) int { return strings.Compare(a.Class, b.Class) })

	failures := mergeFailures(d.read.Failures(), spans, b.Now)
	v.Pager = paginate(r, len(failures), failuresPerPage)
	v.Failures = failures[v.Pager.From:v.Pager.To]
	return v, nil
}

// mergeFailures lists the head's failures (with their whole message) and
// the failed runs the head did not see (a worker lease's, a direct
// call's; their message cut short), newest first.
func mergeFailures(kept []head.Failure, spans []*pb.TimelineSpan, now time.Time) []failureRow {
	type key struct {
		task    string
		attempt int32
	}
	seen := map[key]bool{}
	type dated struct {
		at int64
		failureRow
	}
	var all []dated
	for _, f := range kept {
		seen[key{string(f.TaskID[:]), f.Attempt}] = true
		all = append(all, dated{f.UnixMs, failureRow{Key: fmt.Sprintf("f-%s-%d", f.TaskID.Short(), f.Attempt), When: ago(now, f.UnixMs),
			Function: f.Function, Kind: f.Kind, Job: f.Job, Node: abbrevID(f.NodeID), Task: f.TaskID.Short(), Attempt: f.Attempt,
			Summary: firstLine(f.Message), Message: f.Message}})
	}
	for _, s := range spans {
		sp := s.GetSpan()
		if !sp.GetFailed() {
			continue
		}
		k := key{string(sp.GetTaskId()), sp.GetAttempt()}
		if seen[k] {
			continue
		}
		seen[k] = true
		at := (sp.GetStartUnixNs() + sp.GetDurationNs()) / 1e6
		task := ""
		if id, err := ids.FromBytes("task id", sp.GetTaskId()); err == nil {
			task = id.Short()
		}
		all = append(all, dated{at, failureRow{Key: fmt.Sprintf("s-%s-%d", task, sp.GetAttempt()), When: ago(now, at),
			Function: spanFunction(sp), Kind: "run failed", Node: abbrevID(s.GetNodeId()), Task: task, Attempt: sp.GetAttempt(),
			Summary: firstLine(sp.GetError()), Message: sp.GetError(), FromSpan: true}})
	}
	slices.SortStableFunc(all, func(a, b dated) int { return cmp.Compare(b.at, a.at) })
	out := make([]failureRow, len(all))
	for i, f := range all {
		out[i] = f.failureRow
	}
	return out
}
