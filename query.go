package shoal

import (
	"context"
	"crypto/sha256"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// QueryStage is what the coordinator of a distributed query (package
// dataframe's, or another engine's built on Shoal) knows of one of the
// query's stages, reported to the head with ReportQueryStage for its
// dashboard (the queries page) and metrics (shoal_dataframe_*): as Ray
// Data's executions show on Ray's dashboard.
type QueryStage struct {
	// Query identifies the query's run (any string unique to it); Label
	// describes the query; Stages counts its stages.
	Query  string
	Label  string
	Stages int
	// Stage is the stage's number (-1 reports that the query ended, Err
	// saying why when it failed); Inputs the stages it reads.
	Stage  int
	Inputs []int
	// Tasks counts its tasks; Output names its exchange (hash,
	// broadcast, single, result).
	Tasks  int
	Output string
	// Done: it finished (what it did follows); otherwise its tasks just
	// went out.
	Done     bool
	Started  time.Time
	Duration time.Duration
	// Rows and Bytes it wrote; RowsIn it read from earlier stages;
	// LocalBytes and RemoteBytes of earlier stages' outputs its tasks read
	// on their own node and fetched from others; Spills to disk.
	Rows, Bytes, RowsIn, LocalBytes, RemoteBytes, Spills int64
	// Reruns counts tasks run again after fetch failures; Coalesced says
	// small partitions were merged, Split counts skewed partitions run as
	// several tasks.
	Reruns    int
	Coalesced bool
	Split     int
	Err       string
}

// ReportQueryStage tells the head of ctx's cluster about a stage of a
// query. It does not wait: the report goes with this process's next
// message to the head. Labels and errors longer than 1 KiB are cut.
func ReportQueryStage(ctx context.Context, s QueryStage) error {
	c, err := clientFrom(ctx)
	if err != nil {
		return err
	}
	id := sha256.Sum256([]byte(s.Query))
	st := &pb.QueryStage{QueryId: id[:16], Query: cut(s.Label), Stages: int32(s.Stages), Stage: int32(max(s.Stage, -1)),
		Partitions: int32(s.Tasks), Output: s.Output, Done: s.Done, DurationNs: int64(s.Duration), Rows: s.Rows, Bytes: s.Bytes,
		RowsIn: s.RowsIn, LocalBytes: s.LocalBytes, RemoteBytes: s.RemoteBytes, Spills: s.Spills, Reruns: int32(s.Reruns),
		Coalesced: s.Coalesced, Split: int32(s.Split), Error: cut(s.Err)}
	if !s.Started.IsZero() {
		st.StartedUnixNs = s.Started.UnixNano()
	}
	for _, in := range s.Inputs {
		st.Inputs = append(st.Inputs, int32(in))
	}
	return c.ReportQueryStage(st)
}

// cut bounds a reported text to 1 KiB of valid UTF-8.
func cut(s string) string {
	if len(s) > 1024 {
		s = s[:1024] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
