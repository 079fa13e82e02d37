package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe/internal/physical"
)

// queryReport tells the head what a query's stages do, as they start and
// finish (shoal.ReportQueryStage), for its dashboard's queries page and
// /metrics: best effort, never in the query's way (a report that cannot
// be sent is dropped).
type queryReport struct {
	ctx    context.Context
	id     string
	label  string
	stages int
}

func newQueryReport(ctx context.Context, label string, stages int) *queryReport {
	var b [16]byte
	rand.Read(b[:])
	return &queryReport{ctx: ctx, id: hex.EncodeToString(b[:]), label: label, stages: stages}
}

func (r *queryReport) send(st shoal.QueryStage) {
	st.Query, st.Label, st.Stages = r.id, r.label, r.stages
	if err := shoal.ReportQueryStage(r.ctx, st); err != nil {
		slog.Debug("shoal: reporting a query's stage to the head", "error", err)
	}
}

// started reports that st's tasks went out.
func (r *queryReport) started(st *physical.Stage, tasks int, at time.Time) {
	r.send(shoal.QueryStage{Stage: st.ID, Inputs: st.Inputs, Tasks: tasks, Output: string(st.Output.Kind), Started: at})
}

// finished reports what a stage did.
func (r *queryReport) finished(s StageStats) {
	r.send(shoal.QueryStage{Stage: s.Stage, Inputs: s.Inputs, Tasks: s.Partitions, Output: s.Output, Done: true, Started: s.Started,
		Duration: s.Duration, Rows: s.Rows, Bytes: s.Bytes, RowsIn: s.RowsIn, LocalBytes: s.LocalBytes, RemoteBytes: s.RemoteBytes,
		Spills: s.Spills, Reruns: s.Reruns, Coalesced: s.Coalesced, Split: s.Split})
}

// end reports that the query ended (err: how it failed).
func (r *queryReport) end(err error) {
	st := shoal.QueryStage{Stage: -1, Done: true}
	if err != nil {
		st.Err = err.Error()
	}
	r.send(st)
}
