package dashboard

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

const eventsPerPage = 50

type eventsView struct {
	Waiting  []waitingRow
	Pins     []pinRow
	Draining []string
	Kinds    []count
	Query    string
	Events   []eventRow
	Pager    pager
}

type waitingRow struct {
	Resources  string
	Count      int64
	Reason     string
	Infeasible bool
	Since      string
}

type pinRow struct {
	Lease, Reason, Owner string
	Nodes                []string
}

type eventRow struct{ Time, Message string }

// formatResources writes a shape of resources ("2 CPU, 1 GPU, 4.0 GiB memory").
func formatResources(r *pb.Resources) string {
	var parts []string
	if c := r.GetCpu(); c != 0 {
		parts = append(parts, formatUnits(unitsOf(c))+" CPU")
	}
	if g := r.GetGpu(); g != 0 {
		parts = append(parts, formatUnits(unitsOf(g))+" GPU")
	}
	if m := r.GetMemory(); m != 0 {
		parts = append(parts, formatBytes(m)+" memory")
	}
	for _, k := range slices.Sorted(maps.Keys(r.GetCustom())) {
		parts = append(parts, fmt.Sprintf("%s %s", formatUnits(unitsOf(r.GetCustom()[k])), k))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

func (d *Dashboard) eventsPage(r *http.Request, b *base) (any, error) {
	b.Title = "Autoscaler and events"
	m := d.read.Metrics()
	st := m.Status
	v := &eventsView{Query: r.URL.Query().Get("q")}
	for _, w := range st.Waiting {
		v.Waiting = append(v.Waiting, waitingRow{Resources: formatResources(w.Resources), Count: w.Count, Reason: w.Reason, Infeasible: w.Infeasible,
			Since: formatDuration(time.Duration(w.SinceMsAgo) * time.Millisecond)})
	}
	for _, p := range st.Pins {
		row := pinRow{Lease: shortID(p.LeaseId), Reason: p.Reason, Owner: p.Owner}
		for _, n := range p.NodeIds {
			row.Nodes = append(row.Nodes, abbrevID(n))
		}
		v.Pins = append(v.Pins, row)
	}
	for _, n := range st.Nodes {
		if m.Draining[string(n.NodeId)] && n.Alive {
			v.Draining = append(v.Draining, abbrevID(n.NodeId))
		}
	}
	slices.Sort(v.Draining)
	for k, n := range m.Events {
		v.Kinds = append(v.Kinds, count{k, n})
	}
	slices.SortFunc(v.Kinds, func(a, b count) int { return cmp.Or(cmp.Compare(b.N, a.N), strings.Compare(a.Name, b.Name)) })
	var events []eventRow
	q := strings.ToLower(v.Query)
	for i := len(st.Events) - 1; i >= 0; i-- { // newest first
		e := st.Events[i]
		if q != "" && !strings.Contains(strings.ToLower(e), q) {
			continue
		}
		t, msg, _ := strings.Cut(e, " ")
		events = append(events, eventRow{t, msg})
	}
	v.Pager = paginate(r, len(events), eventsPerPage)
	v.Events = events[v.Pager.From:v.Pager.To]
	return v, nil
}

// dataframePrefix names the functions of the distributed dataframe.
const dataframePrefix = "shoal.dataframe."

type queriesView struct {
	Queries []queryRow
	Kept    int
	Tasks   []funcRow
	Columns []string
	Runs    []funcRow
	Window  string
}

// queryRow is one query as its driver reported it.
type queryRow struct {
	Label, Job, State, Error string
	Done, Stages             int
	StartedMs                int64
	Duration                 time.Duration
	// RowsOut is what its result stage wrote; Shuffled the bytes of its
	// hash (shuffle) outputs; Local and Remote the map output bytes its
	// tasks read on their node and fetched from others.
	RowsOut, Shuffled, Local, Remote int64
	StageRows                        []stageRow
}

// stageRow is one stage of a query.
type stageRow struct {
	Stage                                     int32
	Inputs, Output, State, Notes              string
	Tasks                                     int32
	RowsIn, Rows, Bytes, Local, Remote, Spill int64
	Duration                                  time.Duration
}

// queriesShown bounds the queries the page lists (the head keeps more).
const queriesShown = 20

// queriesPage shows the dataframe queries run on the cluster, as their
// drivers reported their stages (what each did, as it finished), then what
// the head knows of their tasks: by state now, and their runs.
func (d *Dashboard) queriesPage(r *http.Request, b *base) (any, error) {
	b.Title = "Queries"
	m := d.read.Metrics()
	v := &queriesView{Columns: unfinishedStates, Window: formatDuration(statsWindow)}
	qs := d.read.Queries()
	v.Kept = len(qs)
	for _, q := range qs[:min(len(qs), queriesShown)] {
		v.Queries = append(v.Queries, newQueryRow(q, b.Now))
	}
	rows := map[string]*funcRow{}
	for k, n := range m.ByFunction {
		if !strings.HasPrefix(k[0], dataframePrefix) {
			continue
		}
		fr := rows[k[0]]
		if fr == nil {
			fr = &funcRow{Function: k[0], Color: functionColor(k[0]), Unfinished: make([]int64, len(unfinishedStates))}
			rows[k[0]] = fr
		}
		if i := slices.Index(unfinishedStates, k[1]); i >= 0 {
			fr.Unfinished[i] += n
		}
	}
	for _, fn := range slices.Sorted(maps.Keys(rows)) {
		v.Tasks = append(v.Tasks, *rows[fn])
	}
	stats := spanStats(d.read.Timeline(statsWindow).GetSpans(), func(fn string) bool { return strings.HasPrefix(fn, dataframePrefix) })
	for _, fn := range slices.Sorted(maps.Keys(stats)) {
		v.Runs = append(v.Runs, funcRow{Function: fn, Color: functionColor(fn), funcStats: *stats[fn]})
	}
	return v, nil
}

func newQueryRow(q head.Query, now time.Time) queryRow {
	row := queryRow{Label: q.Label, Job: q.Job, Error: q.Error, Done: q.Done(), Stages: q.Stages, State: "running"}
	switch {
	case q.Error != "":
		row.State = "failed"
	case !q.Ended.IsZero():
		row.State = "finished"
	}
	if !q.Started.IsZero() {
		row.StartedMs = q.Started.UnixMilli()
		end := q.Ended
		if end.IsZero() {
			end = now
		}
		row.Duration = end.Sub(q.Started).Round(time.Millisecond)
	}
	for _, st := range q.Reported {
		sr := stageRow{Stage: st.Stage, Output: st.Output, Tasks: st.Partitions, State: "running", RowsIn: st.RowsIn, Rows: st.Rows,
			Bytes: st.Bytes, Local: st.LocalBytes, Remote: st.RemoteBytes, Spill: st.Spills}
		var in []string
		for _, i := range st.Inputs {
			in = append(in, strconv.Itoa(int(i)))
		}
		sr.Inputs = strings.Join(in, ", ")
		if st.Done {
			sr.State, sr.Duration = "finished", time.Duration(st.DurationNs).Round(100*time.Microsecond)
		} else if st.StartedUnixNs > 0 {
			sr.Duration = now.Sub(time.Unix(0, st.StartedUnixNs)).Round(time.Millisecond)
		}
		var notes []string
		if st.Coalesced {
			notes = append(notes, "coalesced")
		}
		if st.Split > 0 {
			notes = append(notes, plural(st.Split, "skewed partition split", "skewed partitions split"))
		}
		if st.Reruns > 0 {
			notes = append(notes, plural(st.Reruns, "task run again", "tasks run again"))
		}
		sr.Notes = strings.Join(notes, ", ")
		if st.Done && st.Output == "result" {
			row.RowsOut += st.Rows
		}
		if st.Done && st.Output == "hash" {
			row.Shuffled += st.Bytes
		}
		row.Local += st.LocalBytes
		row.Remote += st.RemoteBytes
		row.StageRows = append(row.StageRows, sr)
	}
	return row
}

// plural writes "1 thing" or "n things".
func plural(n int32, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
