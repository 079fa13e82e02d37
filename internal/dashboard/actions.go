package dashboard

import (
	"fmt"
	"net/http"
	"time"

	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// stopJob stops a submitted job (as `shoal job stop`).
func (d *Dashboard) stopJob(w http.ResponseWriter, r *http.Request) error {
	id, err := ids.Parse(r.PathValue("id"))
	if err != nil {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("job %q: %v", r.PathValue("id"), err)}
	}
	if _, err := d.st.StopJob(&pb.GetJobRequest{JobId: id.Bytes()}); err != nil {
		return &httpError{http.StatusNotFound, err.Error()}
	}
	d.read.forget()
	d.opts.Logger.Info("job stopped from the dashboard", "job", id.Abbrev(), "from", r.RemoteAddr)
	http.Redirect(w, r, "/jobs/"+id.String()+"?flash=stopped", http.StatusSeeOther)
	return nil
}

// drainNode drains a node (as `shoal drain`). A drain takes up to its
// deadline, so it goes on after the answer; what refuses it at once (the
// node is pinned, the last one, already draining) is the answer.
func (d *Dashboard) drainNode(w http.ResponseWriter, r *http.Request) error {
	id, err := ids.Parse(r.PathValue("id"))
	if err != nil {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("node %q: %v", r.PathValue("id"), err)}
	}
	d.mu.Lock()
	if outcome, ok := d.drains[id]; ok && outcome == "" {
		d.mu.Unlock()
		return &httpError{http.StatusConflict, fmt.Sprintf("node %s is already being drained", id.Abbrev())}
	}
	d.drains[id] = ""
	d.mu.Unlock()
	refused := make(chan error, 1)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		rep, err := d.st.Drain(d.ctx, id, d.opts.DrainDeadline)
		outcome := ""
		if err != nil {
			outcome = "drain failed: " + err.Error()
		} else {
			outcome = fmt.Sprintf("drained in %.1fs: %d tasks finished, %d moved; %d objects moved", rep.Seconds, rep.TasksFinished, rep.TasksMoved, rep.ObjectsMoved)
		}
		d.mu.Lock()
		d.drains[id] = outcome
		d.mu.Unlock()
		refused <- err
	}()
	select {
	case err := <-refused:
		if err != nil {
			return &httpError{http.StatusConflict, err.Error()}
		}
	case <-time.After(300 * time.Millisecond): // (under way)
	}
	d.read.forget()
	d.opts.Logger.Info("node drained from the dashboard", "node", id.Abbrev(), "from", r.RemoteAddr)
	http.Redirect(w, r, "/?flash=draining", http.StatusSeeOther)
	return nil
}

// drainOutcome says how a drain started here went ("draining" while it
// runs; "" if none was).
func (d *Dashboard) drainOutcome(id ids.ID) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	outcome, ok := d.drains[id]
	switch {
	case !ok:
		return ""
	case outcome == "":
		return "draining"
	}
	return outcome
}
