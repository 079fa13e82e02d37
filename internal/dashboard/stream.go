package dashboard

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/rpc/pb"
	"github.com/shoal-dev/shoal/internal/timeline"
)

// The task stream (Dask's favourite plot): one row per executor slot, a
// rectangle per run coloured by function, failures in red. A row never has
// more than one rectangle per pixel: runs closer than a pixel of the same
// function (or failures) are merged into one, whose tooltip counts them.

const (
	streamWidth  = 1000.0 // px of the time axis
	streamLabelW = 220.0
	streamRightW = 30.0 // room for the last tick's label
	streamRowH   = 16.0
	rowsPerPage  = 40
	legendSize   = 12
	failedColor  = "#d62728"
)

// palette colours functions: saturated colours that a run one pixel wide
// still shows, without red (failures).
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
	"#393b79", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1"}

func functionColor(fn string) string {
	h := fnv.New32a()
	h.Write([]byte(fn))
	return palette[h.Sum32()%uint32(len(palette))]
}

// spanFunction names a span's function ("actor call" when it has none).
func spanFunction(sp *pb.TaskSpan) string {
	if fn := sp.GetFunction(); fn != "" {
		return fn
	}
	switch sp.GetKind() {
	case pb.RunKind_RUN_KIND_ACTOR_CREATE:
		return "(actor constructor)"
	case pb.RunKind_RUN_KIND_ACTOR_CALL:
		return "(actor call)"
	}
	return "(task)"
}

type streamView struct {
	Windows              []link
	Window               string
	Spans, Failed        int
	Dropped              int64
	Width, Height        float64
	LabelW, PlotW, RowH  float64
	RunH                 float64
	Rows                 []streamRow
	Ticks                []tick
	Legend               []legendItem
	Pager                pager
	FailedColor          string
	EmptyReason, Updated string
}

type streamRow struct {
	Label string
	Y     float64
	RunY  float64 // the top of its runs
	Even  bool
	Rects []streamRect
}

type streamRect struct {
	X, W   float64
	Color  string
	Failed bool
	N      int // runs merged into it
	Title  string
}

type tick struct {
	X     float64
	Label string
}

type legendItem struct {
	Function, Color string
	Runs            int
	Time            string
}

var streamWindows = []struct {
	name string
	d    time.Duration
}{{"1m", time.Minute}, {"5m", 5 * time.Minute}, {"15m", 15 * time.Minute}}

func (d *Dashboard) streamPage(r *http.Request, b *base) (any, error) {
	b.Title = "Task stream"
	window, name := 5*time.Minute, "5m"
	for _, w := range streamWindows {
		if r.URL.Query().Get("window") == w.name {
			window, name = w.d, w.name
		}
	}
	v := &streamView{Window: name, Width: streamLabelW + streamWidth + streamRightW, LabelW: streamLabelW, PlotW: streamWidth, RowH: streamRowH, RunH: streamRowH - 4, FailedColor: failedColor}
	for _, w := range streamWindows {
		v.Windows = append(v.Windows, link{Label: "last " + w.name, URL: query(r.URL, "window", w.name), Current: w.name == name})
	}
	rep := d.read.Timeline(window)
	spans := slices.Clone(rep.GetSpans())
	slices.SortStableFunc(spans, func(a, b *pb.TimelineSpan) int {
		return cmp.Compare(a.GetSpan().GetStartUnixNs(), b.GetSpan().GetStartUnixNs())
	})
	v.Spans, v.Dropped = len(spans), rep.GetDropped()
	// The axis ends now and starts with the window, or with the first run
	// if it started later (zoomed to what there is, as Dask's stream).
	end := b.Now.UnixNano()
	start := end - window.Nanoseconds()
	if len(spans) > 0 {
		first := spans[0].GetSpan().GetStartUnixNs()
		start = max(start, first-(end-first)/50)
	}
	if end-start < int64(time.Second) {
		start = end - int64(time.Second)
	}
	for i := 0; i <= 5; i++ {
		at := time.Duration(end-start) * time.Duration(5-i) / 5
		label := "now"
		if at > 0 {
			label = "−" + formatDuration(at.Round(at/100+1))
		}
		v.Ticks = append(v.Ticks, tick{X: streamLabelW + streamWidth*float64(i)/5, Label: label})
	}

	// Rows: every lane (executor slot), ordered by node, executor, slot.
	lanes := timeline.Lanes(spans)
	byLane := map[timeline.Lane][]int{}
	for i, l := range lanes {
		byLane[l] = append(byLane[l], i)
	}
	keys := make([]timeline.Lane, 0, len(byLane))
	for l := range byLane {
		keys = append(keys, l)
	}
	slices.SortFunc(keys, func(a, b timeline.Lane) int {
		return cmp.Or(strings.Compare(a.Node, b.Node), cmp.Compare(a.Executor, b.Executor), cmp.Compare(a.Slot, b.Slot))
	})
	type fnTotal struct {
		runs int
		time time.Duration
	}
	totals := map[string]*fnTotal{}
	for _, s := range spans {
		sp := s.GetSpan()
		fn := spanFunction(sp)
		t := totals[fn]
		if t == nil {
			t = &fnTotal{}
			totals[fn] = t
		}
		t.runs++
		t.time += time.Duration(sp.GetDurationNs())
		if sp.GetFailed() {
			v.Failed++
		}
	}
	v.Pager = paginate(r, len(keys), rowsPerPage)
	for ri, lane := range keys[v.Pager.From:v.Pager.To] {
		node := timeline.NodeName([]byte(lane.Node))
		row := streamRow{Label: fmt.Sprintf("%s · pid %d · slot %d", node, lane.Executor, lane.Slot), Y: float64(ri) * streamRowH, RunY: float64(ri)*streamRowH + 2, Even: ri%2 == 1}
		for _, i := range byLane[lane] {
			row.add(spans[i].GetSpan(), start, end)
		}
		for i := range row.Rects {
			row.Rects[i].X += streamLabelW
		}
		v.Rows = append(v.Rows, row)
	}
	v.Height = float64(len(v.Rows))*streamRowH + 20
	if len(spans) == 0 {
		v.EmptyReason = "No task ended in the last " + name + "."
	}

	fns := make([]string, 0, len(totals))
	for fn := range totals {
		fns = append(fns, fn)
	}
	slices.SortFunc(fns, func(a, b string) int {
		return cmp.Or(cmp.Compare(totals[b].time, totals[a].time), strings.Compare(a, b))
	})
	for i, fn := range fns {
		if i == legendSize {
			break
		}
		v.Legend = append(v.Legend, legendItem{Function: fn, Color: functionColor(fn), Runs: totals[fn].runs, Time: formatDuration(totals[fn].time)})
	}
	return v, nil
}

// add draws a run in the row (times in Unix ns, the plot spanning [t0,
// t1]), merging it into the last rectangle when they touch at a pixel's
// resolution and look the same.
func (row *streamRow) add(sp *pb.TaskSpan, t0, t1 int64) {
	scale := streamWidth / float64(t1-t0)
	s, e := sp.GetStartUnixNs(), sp.GetStartUnixNs()+sp.GetDurationNs()
	if e < t0 || s > t1 {
		return
	}
	x0 := float64(max(s, t0)-t0) * scale
	x1 := float64(min(e, t1)-t0) * scale
	fn := spanFunction(sp)
	color := functionColor(fn)
	if sp.GetFailed() {
		color = failedColor
	}
	if n := len(row.Rects); n > 0 {
		// Merged into the last rectangle: a run that touches it and looks
		// the same, or one that lies under it (at most one per pixel).
		last := &row.Rects[n-1]
		if last.Color == color && x0 <= last.X+last.W+0.5 || x1 <= last.X+last.W {
			last.W = max(last.W, x1-last.X)
			last.N++
			last.Title = fmt.Sprintf("%d runs, the last %s", last.N, fn)
			if sp.GetFailed() {
				last.Color, last.Failed = failedColor, true
			}
			if last.Failed {
				last.Title = fmt.Sprintf("%d runs with failures, the last %s: %s", last.N, fn, sp.GetError())
			}
			return
		}
	}
	title := fmt.Sprintf("%s: %s", fn, formatDuration(time.Duration(sp.GetDurationNs())))
	if sp.GetFailed() {
		title += " — failed: " + sp.GetError()
	}
	w := max(x1-x0, 1)
	if sp.GetFailed() {
		w = max(w, 3) // (seen at any zoom)
	}
	row.Rects = append(row.Rects, streamRect{X: x0, W: w, Color: color, Failed: sp.GetFailed(), N: 1, Title: title})
}
