package dashboard

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

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
	Tasks   []funcRow
	Columns []string
	Runs    []funcRow
	Window  string
}

// queriesPage shows what the head knows of dataframe queries: their
// tasks by state and their runs (stages run as tasks of one function;
// their per-stage statistics stay in the driver).
func (d *Dashboard) queriesPage(r *http.Request, b *base) (any, error) {
	b.Title = "Queries"
	m := d.read.Metrics()
	v := &queriesView{Columns: unfinishedStates, Window: formatDuration(statsWindow)}
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
