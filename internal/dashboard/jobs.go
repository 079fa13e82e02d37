package dashboard

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

const (
	jobsPerPage    = 25
	driversShown   = 50
	jobLogLines    = 200
	jobTaskColumns = "waiting_for_args waiting_for_resources running"
)

type jobsView struct {
	Submitted   []jobRow
	Pager       pager
	States      []count
	Drivers     []driverRow
	MoreDrivers int
}

// count is a named number (a state and how many are in it).
type count struct {
	Name string
	N    int64
}

type jobRow struct {
	ID, Short, Name, State string
	Started, Duration      string
	Node                   string
	ExitCode               int32
	Error                  string
	LogLines               int64
	Tasks                  []count
	Running                bool
}

type driverRow struct {
	ID, Short, Name string
	Drivers         int
	Tasks           []count
	Submitted       bool
}

func jobState(s pb.JobState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}

// taskCounts lists a job's tasks by state, in the order a task goes.
func taskCounts(byState map[string]int64) []count {
	var out []count
	for _, s := range strings.Fields(jobTaskColumns) {
		out = append(out, count{s, byState[s]})
	}
	return out
}

func newJobRow(j *pb.SubmittedJob, now time.Time, tasks map[string]int64) jobRow {
	id, _ := ids.FromBytes("job id", j.JobId)
	row := jobRow{ID: id.String(), Short: id.Abbrev(), Name: j.Name, State: jobState(j.State), Node: abbrevID(j.NodeId),
		ExitCode: j.ExitCode, Error: j.Error, LogLines: j.LogLines, Running: j.EndedUnixMs == 0, Tasks: taskCounts(tasks)}
	started := time.UnixMilli(j.StartedUnixMs)
	row.Started = started.Format("2006-01-02 15:04:05")
	end := now
	if j.EndedUnixMs != 0 {
		end = time.UnixMilli(j.EndedUnixMs)
	}
	row.Duration = formatDuration(end.Sub(started).Round(100 * time.Millisecond))
	return row
}

func (d *Dashboard) jobsPage(r *http.Request, b *base) (any, error) {
	b.Title = "Jobs"
	jobs := d.read.ListJobs().Jobs
	active := d.read.JobTasks()
	tasks := make(map[string]map[string]int64, len(active))
	for _, jt := range active {
		tasks[string(jt.ID[:])] = jt.Tasks
	}
	v := &jobsView{}
	states := map[string]int64{}
	submitted := map[string]bool{}
	for _, j := range jobs {
		states[jobState(j.State)]++
		submitted[string(j.JobId)] = true
	}
	for _, s := range []string{"running", "succeeded", "failed", "stopped"} {
		v.States = append(v.States, count{s, states[s]})
	}
	jobs = slices.Clone(jobs)
	slices.SortFunc(jobs, func(a, b *pb.SubmittedJob) int {
		ended := func(j *pb.SubmittedJob) int { return min(1, int(j.EndedUnixMs)) }
		return cmp.Or(cmp.Compare(ended(a), ended(b)) /* running first */, cmp.Compare(b.StartedUnixMs, a.StartedUnixMs), slices.Compare(a.JobId, b.JobId))
	})
	v.Pager = paginate(r, len(jobs), jobsPerPage)
	for _, j := range jobs[v.Pager.From:v.Pager.To] {
		v.Submitted = append(v.Submitted, newJobRow(j, b.Now, tasks[string(j.JobId)]))
	}
	for i, jt := range active {
		if i == driversShown {
			v.MoreDrivers = len(active) - i
			break
		}
		v.Drivers = append(v.Drivers, driverRow{ID: jt.ID.String(), Short: jt.ID.Abbrev(), Name: jt.Name, Drivers: jt.Drivers,
			Tasks: taskCounts(jt.Tasks), Submitted: submitted[string(jt.ID[:])]})
	}
	return v, nil
}

type jobView struct {
	ID, Short, Name string
	Job             *jobRow // nil: not a submitted job (a driver that joined)
	Tasks           []count
	Drivers         int
	Log             []string
	LogTotal        int64
}

func (d *Dashboard) jobPage(r *http.Request, b *base) (any, error) {
	id, err := ids.Parse(r.PathValue("id"))
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("job %q: %v", r.PathValue("id"), err)}
	}
	v := &jobView{ID: id.String(), Short: id.Abbrev()}
	var tasks map[string]int64
	for _, jt := range d.read.JobTasks() {
		if jt.ID == id {
			v.Name, v.Drivers, tasks = jt.Name, jt.Drivers, jt.Tasks
		}
	}
	for _, j := range d.read.ListJobs().Jobs {
		if string(j.JobId) == string(id[:]) {
			row := newJobRow(j, b.Now, tasks)
			v.Job, v.Name = &row, j.Name
			v.Log, v.LogTotal, _ = d.st.JobLogTail(id, jobLogLines)
		}
	}
	if v.Job == nil && v.Name == "" {
		return nil, &httpError{http.StatusNotFound, fmt.Sprintf("no job %s on this head (ended jobs that were not submitted are not kept)", id.Abbrev())}
	}
	v.Tasks = taskCounts(tasks)
	b.Title = "Job " + v.Name
	return v, nil
}
