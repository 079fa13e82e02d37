package dashboard

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/bytesize"
	"github.com/shoal-dev/shoal/internal/ids"
)

// funcs are the templates' helpers. Those returning template.HTML build
// SVG from numbers only; text always goes through the template's escaping.
var funcs = template.FuncMap{
	"bytes":     formatBytes,
	"num":       formatCount,
	"dur":       formatDuration,
	"ago":       ago,
	"short":     shortID,
	"units":     formatUnits,
	"pct":       pct,
	"bar":       bar,
	"firstLine": firstLine,
	"hasPrefix": strings.HasPrefix,
	"human":     func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"stateClass": func(s string) string {
		return "st-" + strings.ToLower(strings.NewReplacer(" ", "-", "_", "-").Replace(s))
	},
}

// formatBytes writes a size in binary units ("1.5 GiB").
func formatBytes(v any) string { return bytesize.FormatFloat(toFloat(v)) }

// formatCount writes a count with thousands separators.
func formatCount(v any) string {
	n := int64(toFloat(v))
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// formatUnits writes an amount of CPU or GPU ("2", "0.5").
func formatUnits(v any) string {
	return strconv.FormatFloat(math.Round(toFloat(v)*100)/100, 'f', -1, 64)
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// ago writes how long before now a time (Unix ms) was.
func ago(now time.Time, unixMs int64) string {
	if unixMs == 0 {
		return ""
	}
	return formatDuration(now.Sub(time.UnixMilli(unixMs)).Round(time.Second)) + " ago"
}

// shortID writes a task, object or pin ID (bytes, or ids.ID) in its short
// form (ids.ID.Short).
func shortID(v any) string { return idText(v, ids.ID.Short) }

// abbrevID writes a node or job ID (bytes, or ids.ID) as it is shown
// everywhere (ids.ID.Abbrev).
func abbrevID(v any) string { return idText(v, ids.ID.Abbrev) }

func idText(v any, form func(ids.ID) string) string {
	switch id := v.(type) {
	case ids.ID:
		return form(id)
	case []byte:
		if x, err := ids.FromBytes("id", id); err == nil {
			return form(x)
		}
		return fmt.Sprintf("%x", id)
	}
	return fmt.Sprint(v)
}

func fullID(b []byte) string {
	if x, err := ids.FromBytes("id", b); err == nil {
		return x.String()
	}
	return ""
}

func pct(used, total any) string {
	t := toFloat(total)
	if t <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f%%", 100*toFloat(used)/t)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case float32:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// bar draws a horizontal usage bar (used of total) as SVG.
func bar(used, total any) template.HTML {
	u, t := toFloat(used), toFloat(total)
	frac := 0.0
	if t > 0 {
		frac = math.Min(1, math.Max(0, u/t))
	}
	class := "bar-ok"
	switch {
	case frac >= 0.9:
		class = "bar-hot"
	case frac >= 0.7:
		class = "bar-warm"
	}
	return template.HTML(fmt.Sprintf(`<svg class="bar" width="60" height="8" viewBox="0 0 60 8"><rect width="60" height="8" rx="2" class="bar-bg"/><rect width="%.1f" height="8" rx="2" class="%s"/></svg>`,
		60*frac, class))
}

// sparkSpan is the most time a sparkline spans, and sparkPoints how many
// points it has at most (a page has a hundred sparklines).
const (
	sparkSpan   = 15 * time.Minute
	sparkPoints = 60
)

// point is a value at a time (Unix ms).
type point struct {
	at int64
	v  float64
}

// sparkline draws points (oldest first) on a time axis from start (Unix
// ms; sparklines side by side share it) to the last point, at most
// sparkSpan, scaled to [0, max(top, the largest value)]: at most
// sparkPoints points, each the largest of the values of its time (so
// that a spike stays seen).
func sparkline(points []point, top float64, start int64) template.HTML {
	const w, h = 120.0, 22.0
	if len(points) < 2 {
		return template.HTML(fmt.Sprintf(`<svg class="spark" width="%g" height="%g"></svg>`, w, h))
	}
	end := points[len(points)-1].at
	start = min(max(start, end-sparkSpan.Milliseconds()), end-1000)
	step := max(1, (end-start)/sparkPoints)
	var fewer []point
	for _, p := range points {
		if p.at < start {
			continue
		}
		slot := start + (p.at-start)/step*step
		if n := len(fewer); n > 0 && fewer[n-1].at == slot && p.at != end {
			fewer[n-1].v = max(fewer[n-1].v, p.v)
			continue
		}
		if p.at != end {
			p.at = slot
		}
		fewer = append(fewer, p)
	}
	for _, p := range fewer {
		top = max(top, p.v)
	}
	if top <= 0 {
		top = 1
	}
	x := func(at int64) float64 { return w * float64(at-start) / float64(end-start) }
	y := func(v float64) float64 { return h - 1 - (h-2)*v/top }
	var pts strings.Builder
	for _, p := range fewer {
		fmt.Fprintf(&pts, "%.1f,%.1f ", x(p.at), y(p.v))
	}
	first, last := fewer[0], fewer[len(fewer)-1]
	return template.HTML(fmt.Sprintf(`<svg class="spark" width="%g" height="%g" viewBox="0 0 %g %g"><polyline class="spark-area" points="%.1f,%g %s%g,%g"/><polyline class="spark-line" points="%s"/><circle class="spark-dot" cx="%g" cy="%.1f" r="1.8"/></svg>`,
		w, h, w, h, x(first.at), h, pts.String(), w, h, pts.String(), w, y(last.v)))
}

// pager is one page of a list: which items to show and the links to the
// others (the request's other parameters kept).
type pager struct {
	Page, Pages, Total int
	From, To           int // items [From, To) of the list
	Prev, Next         string
}

func paginate(r *http.Request, total, per int) pager {
	return paginateParam(r, "page", total, per)
}

// paginateParam pages a list by the query parameter param.
func paginateParam(r *http.Request, param string, total, per int) pager {
	p := pager{Total: total, Pages: max(1, (total+per-1)/per)}
	p.Page, _ = strconv.Atoi(r.URL.Query().Get(param))
	p.Page = min(max(p.Page, 1), p.Pages)
	p.From = (p.Page - 1) * per
	p.To = min(p.From+per, total)
	link := func(page int) string {
		q := r.URL.Query()
		q.Set(param, strconv.Itoa(page))
		q.Del("flash")
		return r.URL.Path + "?" + q.Encode()
	}
	if p.Page > 1 {
		p.Prev = link(p.Page - 1)
	}
	if p.Page < p.Pages {
		p.Next = link(p.Page + 1)
	}
	return p
}

// query returns the request's URL with a parameter set (others kept).
func query(u *url.URL, key, value string) string {
	q := u.Query()
	q.Set(key, value)
	q.Del("page")
	q.Del("flash")
	return u.Path + "?" + q.Encode()
}
