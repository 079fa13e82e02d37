package head

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/shoal-dev/shoal/internal/errs"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/rpc/pb"
)

// logAnswerTimeout bounds how long NodeLogs waits for each node's answer.
const logAnswerTimeout = 10 * time.Second

// defaultLogTail is how much of each node's output NodeLogs returns when
// the request does not say.
const defaultLogTail = 64 << 10

// logWaits are the NodeLogs requests waiting for their nodes' answers.
type logWaits struct {
	next    uint64
	pending map[uint64]chan *pb.LogReply
}

// NodeLogs asks each live node (or the one named) for the end of a job's
// executor output and returns what they answered: a node that does not
// answer in time, or holds none, says so in its entry.
func (h *Head) NodeLogs(ctx context.Context, req *pb.NodeLogsRequest) (*pb.NodeLogsReply, error) {
	tail := req.TailBytes
	if tail <= 0 {
		tail = defaultLogTail
	}
	type asked struct {
		node ids.ID
		id   uint64
		ch   chan *pb.LogReply
	}
	from := map[[2]string]int64{} // by node and job
	for _, p := range req.From {
		from[[2]string{string(p.NodeId), string(p.JobId)}] = p.End
	}
	var waits []asked
	h.mu.Lock()
	job, err := ids.Resolve("job", req.Job, func(yield func(ids.ID) bool) {
		for id := range h.jobs {
			if !yield(id) {
				return
			}
		}
		for id := range h.submitted {
			if h.jobs[id] == nil && !yield(id) {
				return
			}
		}
	}, nil)
	if full, perr := ids.Parse(req.Job); err != nil && perr == nil {
		// A whole ID of a job the head no longer knows (its driver is
		// gone): its output stays on the nodes.
		job, err = full, nil
	}
	if err != nil {
		h.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", errs.ErrBadArgument, err)
	}
	var only ids.ID
	if req.Node != "" {
		if only, err = ids.Resolve("node", req.Node, maps.Keys(h.nodes), nil); err != nil {
			h.mu.Unlock()
			return nil, fmt.Errorf("%w: %w", errs.ErrBadArgument, err)
		}
	}
	// The job's own executors, and those of the jobs derived from it (an
	// actor's own process, other environment variables).
	jobIDs := [][]byte{job.Bytes()}
	for id, j := range h.jobs {
		if j.root != nil && j.root.id == job {
			jobIDs = append(jobIDs, id.Bytes())
		}
	}
	if h.logs.pending == nil {
		h.logs.pending = map[uint64]chan *pb.LogReply{}
	}
	for _, n := range h.alive {
		if !only.IsNil() && n.id != only {
			continue
		}
		h.logs.next++
		a := asked{node: n.id, id: h.logs.next, ch: make(chan *pb.LogReply, 1)}
		h.logs.pending[a.id] = a.ch
		r := &pb.LogRequest{Id: a.id, JobIds: jobIDs, TailBytes: tail, Follow: req.Follow}
		if req.Follow {
			for _, j := range jobIDs {
				r.From = append(r.From, from[[2]string{string(n.id.Bytes()), string(j)}])
			}
		}
		n.out.Add(40, func(m *pb.HeadToNode) { m.LogRequests = append(m.LogRequests, r) })
		waits = append(waits, a)
	}
	alive := h.jobs[job] != nil
	h.mu.Unlock()
	if !only.IsNil() && len(waits) == 0 {
		return nil, fmt.Errorf("%w: node %s is not alive", errs.ErrBadArgument, only)
	}
	out := &pb.NodeLogsReply{JobId: job.Bytes(), JobAlive: alive}
	wctx, cancel := context.WithTimeout(ctx, logAnswerTimeout)
	defer cancel()
	for _, a := range waits {
		l := &pb.NodeLog{NodeId: a.node.Bytes()}
		select {
		case r := <-a.ch:
			l.Data, l.Skipped, l.Error = r.Data, r.Skipped, r.Error
			for i, end := range r.Ends {
				if i < len(jobIDs) {
					l.Ends = append(l.Ends, &pb.LogPosition{NodeId: a.node.Bytes(), JobId: jobIDs[i], End: end})
				}
			}
		case <-wctx.Done():
			l.Error = fmt.Sprintf("the node did not answer within %v", logAnswerTimeout)
			if ctx.Err() != nil {
				l.Error = ctx.Err().Error()
			}
		}
		out.Logs = append(out.Logs, l)
	}
	h.mu.Lock()
	for _, a := range waits {
		delete(h.logs.pending, a.id)
	}
	h.mu.Unlock()
	return out, nil
}

// logReplies hands nodes' answers to the NodeLogs calls waiting for them.
func (h *Head) logReplies(rs []*pb.LogReply) {
	for _, r := range rs {
		if ch := h.logs.pending[r.Id]; ch != nil {
			delete(h.logs.pending, r.Id)
			ch <- r
		}
	}
}
