package dashboard

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/autoscaler"
	"github.com/shoal-dev/shoal/internal/head"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/scheduler"
)

// nodesPerPage bounds the nodes of a page (Dask's status page switches to
// histograms past 100 workers; the histogram here is always drawn).
const nodesPerPage = 50

type clusterView struct {
	Nodes, Alive, Dead, Draining int
	CPU, CPUTotal, GPU, GPUTotal float64
	Mem, MemTotal                int64
	Store, StoreLimit, Spilled   int64
	Running, Waiting             int64
	Finished, Failed             int64
	Actors, Jobs                 int64
	Objects, ObjectBytes         int64
	Charts                       []chart
	Histogram                    template.HTML
	Filters                      []link
	Rows                         []nodeRow
	Pager                        pager
}

// chart is a cluster sparkline with its latest value.
type chart struct {
	Label, Value string
	SVG          template.HTML
}

type link struct {
	Label, URL string
	Current    bool
}

type nodeRow struct {
	ID, Short, Host, Type, State string
	CPU, CPUTotal, GPU, GPUTotal float64
	Mem, MemTotal                int64
	Store, StoreLimit, Spilled   int64
	Running, Leases, Shared      int64
	Executors, Pins              int
	Heartbeat                    string
	CPUSpark, StoreSpark         template.HTML
	CanDrain                     bool
	Drain                        string // how a drain started here went
}

func unitsOf(v int64) float64 { return float64(v) / scheduler.Unit }

// nodeState names a node's state.
func nodeState(n *pb.NodeStatus, draining bool) string {
	switch {
	case !n.Alive:
		return "dead"
	case draining:
		return "draining"
	}
	return "alive"
}

func (d *Dashboard) clusterPage(r *http.Request, b *base) (any, error) {
	b.Title = "Cluster"
	m := d.read.Metrics()
	st := m.Status
	v := &clusterView{Nodes: len(st.Nodes), Jobs: st.Jobs, Actors: st.Actors, Objects: st.Objects, ObjectBytes: st.ObjectBytes,
		Finished: st.TasksFinished, Failed: st.TasksFailed,
		Waiting: st.TasksByState["waiting_for_args"] + st.TasksByState["waiting_for_resources"]}
	pins := map[string]int{}
	for _, p := range st.Pins {
		for _, n := range p.NodeIds {
			pins[string(n)]++
		}
	}
	var util []float64 // CPU use of live nodes, for the histogram
	for _, n := range st.Nodes {
		draining := m.Draining[string(n.NodeId)]
		switch nodeState(n, draining) {
		case "dead":
			v.Dead++
			continue
		case "draining":
			v.Draining++
		}
		v.Alive++
		used := pb.Resources{Cpu: n.Total.GetCpu() - n.Available.GetCpu(), Gpu: n.Total.GetGpu() - n.Available.GetGpu(), Memory: n.Total.GetMemory() - n.Available.GetMemory()}
		v.CPU += unitsOf(used.Cpu)
		v.CPUTotal += unitsOf(n.Total.GetCpu())
		v.GPU += unitsOf(used.Gpu)
		v.GPUTotal += unitsOf(n.Total.GetGpu())
		v.Mem += used.Memory
		v.MemTotal += n.Total.GetMemory()
		v.Store += n.Store.GetMemoryBytes()
		v.StoreLimit += n.Store.GetMemoryLimit()
		v.Spilled += n.Store.GetSpilledBytes()
		v.Running += n.RunningTasks // (leases count one each)
		if t := n.Total.GetCpu(); t > 0 {
			util = append(util, float64(used.Cpu)/float64(t))
		}
	}
	v.Histogram = histogram(util)

	filter := r.URL.Query().Get("state")
	for _, f := range []string{"all", "alive", "draining", "dead"} {
		v.Filters = append(v.Filters, link{Label: f, URL: query(r.URL, "state", f), Current: f == filter || f == "all" && filter == ""})
	}
	nodes := slices.Clone(st.Nodes)
	nodes = slices.DeleteFunc(nodes, func(n *pb.NodeStatus) bool {
		return filter != "" && filter != "all" && nodeState(n, m.Draining[string(n.NodeId)]) != filter
	})
	rank := map[string]int{"alive": 0, "draining": 1, "dead": 2}
	slices.SortFunc(nodes, func(a, b *pb.NodeStatus) int {
		return cmp.Or(cmp.Compare(rank[nodeState(a, m.Draining[string(a.NodeId)])], rank[nodeState(b, m.Draining[string(b.NodeId)])]),
			strings.Compare(a.Hostname, b.Hostname), slices.Compare(a.NodeId, b.NodeId))
	})
	v.Pager = paginate(r, len(nodes), nodesPerPage)
	nodes = nodes[v.Pager.From:v.Pager.To]
	shown := make([]ids.ID, 0, len(nodes))
	for _, n := range nodes {
		if id, err := ids.FromBytes("node id", n.NodeId); err == nil {
			shown = append(shown, id)
		}
	}
	clusterHist, nodeHist := d.st.History(shown)
	// Every sparkline starts with the head's oldest sample (at most 15
	// minutes ago) and ends with the values of now.
	start := b.Now.UnixMilli()
	if len(clusterHist) > 0 {
		start = clusterHist[0].UnixMs
	}
	v.Charts = clusterCharts(start, append(clusterHist, head.ClusterSample{
		Sample:   head.Sample{UnixMs: b.Now.UnixMilli(), CPU: float32(v.CPU), GPU: float32(v.GPU), Memory: float32(v.Mem), Store: float32(v.Store), Spilled: float32(v.Spilled), Running: float32(v.Running)},
		CPUTotal: float32(v.CPUTotal), GPUTotal: float32(v.GPUTotal), MemoryTotal: float32(v.MemTotal), Waiting: v.Waiting, Finished: v.Finished, Failed: v.Failed}))
	for _, n := range nodes {
		id, _ := ids.FromBytes("node id", n.NodeId)
		state := nodeState(n, m.Draining[string(n.NodeId)])
		row := nodeRow{ID: id.String(), Short: id.Abbrev(), Host: n.Hostname, Type: n.Labels[autoscaler.LabelNodeType], State: state,
			CPU: unitsOf(n.Total.GetCpu() - n.Available.GetCpu()), CPUTotal: unitsOf(n.Total.GetCpu()),
			GPU: unitsOf(n.Total.GetGpu() - n.Available.GetGpu()), GPUTotal: unitsOf(n.Total.GetGpu()),
			Mem: n.Total.GetMemory() - n.Available.GetMemory(), MemTotal: n.Total.GetMemory(),
			Store: n.Store.GetMemoryBytes(), StoreLimit: n.Store.GetMemoryLimit(), Spilled: n.Store.GetSpilledBytes(),
			Running: n.RunningTasks, Leases: n.Leases, Shared: n.SharedLeases, Executors: int(n.Executors), Pins: pins[string(n.NodeId)],
			CanDrain: state == "alive", Drain: d.drainOutcome(id)}
		if n.Store == nil {
			row.Store = n.StoreBytes
		}
		if state != "dead" {
			row.Heartbeat = formatDuration(time.Duration(n.LastHeartbeatMsAgo)*time.Millisecond) + " ago"
		}
		hist := append(nodeHist[id], head.Sample{UnixMs: b.Now.UnixMilli(), CPU: float32(row.CPU), Store: float32(row.Store)})
		row.CPUSpark = sparkline(nodeSeries(hist, func(s head.Sample) float64 { return float64(s.CPU) }), row.CPUTotal, start)
		row.StoreSpark = sparkline(nodeSeries(hist, func(s head.Sample) float64 { return float64(s.Store) }), float64(row.StoreLimit), start)
		v.Rows = append(v.Rows, row)
	}
	return v, nil
}

// series is one value of samples, at their times.
func series[S any](samples []S, at func(S) int64, f func(S) float64) []point {
	out := make([]point, len(samples))
	for i, s := range samples {
		out[i] = point{at(s), f(s)}
	}
	return out
}

func nodeSeries(h []head.Sample, f func(head.Sample) float64) []point {
	return series(h, func(s head.Sample) int64 { return s.UnixMs }, f)
}

func clusterSeries(h []head.ClusterSample, f func(head.ClusterSample) float64) []point {
	return series(h, func(s head.ClusterSample) int64 { return s.UnixMs }, f)
}

// clusterCharts are the cluster's sparklines over the kept samples.
func clusterCharts(start int64, h []head.ClusterSample) []chart {
	last := head.ClusterSample{}
	if len(h) > 0 {
		last = h[len(h)-1]
	}
	rate := make([]point, 0, len(h))
	for i := 1; i < len(h); i++ {
		if dt := float64(h[i].UnixMs-h[i-1].UnixMs) / 1000; dt >= 1 { // (now, just after a sample: too noisy)
			rate = append(rate, point{h[i].UnixMs, float64(h[i].Finished-h[i-1].Finished) / dt})
		}
	}
	lastRate := 0.0
	if len(rate) > 0 {
		lastRate = rate[len(rate)-1].v
	}
	topCPU := 0.0
	for _, s := range h {
		topCPU = max(topCPU, float64(s.CPUTotal))
	}
	return []chart{
		{"CPU in use", fmt.Sprintf("%s of %s", formatUnits(last.CPU), formatUnits(last.CPUTotal)), sparkline(clusterSeries(h, func(s head.ClusterSample) float64 { return float64(s.CPU) }), topCPU, start)},
		{"tasks running", formatCount(last.Running), sparkline(clusterSeries(h, func(s head.ClusterSample) float64 { return float64(s.Running) }), 0, start)},
		{"tasks waiting", formatCount(last.Waiting), sparkline(clusterSeries(h, func(s head.ClusterSample) float64 { return float64(s.Waiting) }), 0, start)},
		{"tasks finished /s", fmt.Sprintf("%.1f", lastRate), sparkline(rate, 0, start)},
		{"store in memory", formatBytes(last.Store), sparkline(clusterSeries(h, func(s head.ClusterSample) float64 { return float64(s.Store) }), 0, start)},
		{"spilled", formatBytes(last.Spilled), sparkline(clusterSeries(h, func(s head.ClusterSample) float64 { return float64(s.Spilled) }), 0, start)},
	}
}

// histogram draws how many live nodes use each tenth of their CPUs.
func histogram(util []float64) template.HTML {
	var bins [10]int
	top := 1
	for _, u := range util {
		i := min(9, max(0, int(u*10)))
		bins[i]++
		top = max(top, bins[i])
	}
	const w, h, bw = 150.0, 32.0, 13.0
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="hist" width="%g" height="%g" viewBox="0 0 %g %g">`, w, h+12, w, h+12)
	for i, n := range bins {
		bh := (h - 9) * float64(n) / float64(top)
		x := float64(i) * (bw + 2)
		fmt.Fprintf(&sb, `<rect class="hist-bar" x="%g" y="%.1f" width="%g" height="%.1f"><title>%d%%–%d%% of their CPUs in use: %d nodes</title></rect>`, x, h-bh, bw, max(bh, 0.5), i*10, i*10+10, n)
		if n > 0 {
			fmt.Fprintf(&sb, `<text class="hist-n" x="%g" y="%.1f">%d</text>`, x+bw/2, h-bh-2, n)
		}
	}
	fmt.Fprintf(&sb, `<text class="hist-x" x="0" y="%g">0%%</text><text class="hist-x" x="%g" y="%g" text-anchor="middle">50%%</text><text class="hist-x" x="%g" y="%g" text-anchor="end">100%%</text>`, h+11, w/2, h+11, w, h+11)
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}
