package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/internal/ids"
	"github.com/shoal-dev/shoal/internal/retry"
)

// The actors workload is the field's chaos test of actors (Ray's
// test_chaos_basic actor workload): one reporter actor per CPU, restarted
// without limit and retrying its calls without limit when its node dies
// (MaxRestarts and MaxTaskRetries -1), each sending 8 × scale sequence
// numbers, one per call, to its own receiver actor on the node that is
// never hit. Every number must arrive (at least once: a call retried after
// a restart may deliver its number twice), every call must return its own
// number, and a receiver must see its numbers in the order sent.

// receiver records the numbers it is sent, in arrival order.
type receiver struct{ got []int }

// reporter forwards numbers to its receiver.
type reporter struct{ to *shoal.ActorHandle[receiver] }

var (
	receiverClass = shoal.Actor0("chaos.Receiver", func(context.Context) (*receiver, error) { return &receiver{}, nil })
	receiverAdd   = shoal.Method1(receiverClass, "Add", func(_ context.Context, r *receiver, seq int) (int, error) {
		r.got = append(r.got, seq)
		return seq, nil
	})
	receiverGot = shoal.Method0(receiverClass, "Received", func(_ context.Context, r *receiver) ([]int, error) {
		return r.got, nil
	})

	reporterClass = shoal.Actor1("chaos.Reporter", func(_ context.Context, to *shoal.ActorHandle[receiver]) (*reporter, error) {
		if to == nil {
			return nil, fmt.Errorf("a reporter needs a receiver")
		}
		return &reporter{to: to}, nil
	})
	reporterReport = shoal.Method2(reporterClass, "Report", func(ctx context.Context, r *reporter, seq int, nap time.Duration) (int, error) {
		if err := retry.Sleep(ctx, nap); err != nil {
			return 0, err
		}
		f := receiverAdd.Remote(ctx, r.to, seq)
		defer f.Release()
		return f.Get(ctx)
	})
)

type actorsWorkload struct{}

func init() { Register(actorsWorkload{}) }

func (actorsWorkload) Name() string   { return "actors" }
func (actorsWorkload) KeepNode() bool { return true }
func (actorsWorkload) Describe() string {
	return "one reporter per CPU (MaxRestarts, MaxTaskRetries -1) sending 8×scale numbers each (--sleep/4 per call) to receivers on the kept node; every number must arrive"
}

func (actorsWorkload) Run(ctx context.Context, env Env) Outcome {
	o := Outcome{Details: map[string]int64{}}
	if env.KeepNode == "" {
		o.Err = fmt.Errorf("actors: no kept node for the receivers")
		return o
	}
	n := max(1, int(env.CPUs))
	calls := 8 * env.Scale
	nap := env.Sleep / 4
	o.Expected = int64(n * calls)
	o.Tasks = 2 * int64(n*calls) // each report and the call it makes to the receiver
	o.Details["reporters"], o.Details["calls"] = int64(n), int64(n*calls)
	env.Logf("actors: %d reporters × %d calls (sleep %v) to %d receivers on node %s", n, calls, nap, n, ids.AbbrevHex(env.KeepNode))

	var recv []*shoal.ActorHandle[receiver]
	var reps []*shoal.ActorHandle[reporter]
	defer func() {
		// Kill them all, so their resources come back, and let go.
		for _, h := range reps {
			h.Kill(ctx)
			h.Release()
		}
		for _, h := range recv {
			h.Kill(ctx)
			h.Release()
		}
	}()
	for i := range n {
		h, err := receiverClass.New(ctx, nil, shoal.WithResources(shoal.Resources{}), shoal.WithNodeAffinity(env.KeepNode, false))
		if err != nil {
			o.Err = fmt.Errorf("actors: creating receiver %d: %w", i, err)
			return o
		}
		recv = append(recv, h)
	}
	for i := range n {
		h, err := reporterClass.New(ctx, recv[i], shoal.WithMaxRestarts(-1), shoal.WithMaxTaskRetries(-1))
		if err != nil {
			o.Err = fmt.Errorf("actors: creating reporter %d: %w", i, err)
			return o
		}
		reps = append(reps, h)
	}
	// Numbers are handed out reporter after reporter, as in the field's test.
	futs := make([]*shoal.Future[int], 0, n*calls)
	for r := range n {
		for c := range calls {
			futs = append(futs, reporterReport.Remote(ctx, reps[r], r*calls+c, nap))
		}
	}
	pr := newProgress("actors", len(futs), env.Logf)
	for seq, f := range futs {
		got, err := f.Get(ctx)
		if ctx.Err() != nil {
			o.Err = fmt.Errorf("actors: %d of %d calls verified when the workload's deadline passed (%s): %w",
				o.Verified, len(futs), unfinished(futs[seq:], seq, "call"), ctx.Err())
			return o
		}
		f.Release()
		switch {
		case err != nil:
			o.problem("report of %d (reporter %d) failed: %v", seq, seq/calls, err)
		case got != seq:
			o.problem("report of %d (reporter %d) returned %d", seq, seq/calls, got)
		default:
			o.Verified++
		}
		pr.done(seq + 1)
	}
	o.LastResult = time.Now()
	// Every number must have reached its receiver.
	for r, h := range recv {
		f := receiverGot.Remote(ctx, h)
		got, err := f.Get(ctx)
		f.Release()
		if err != nil {
			o.problem("receiver %d: reading what it received: %v", r, err)
			continue
		}
		c := checkReceived(r*calls, calls, got)
		o.Details["duplicates"] += int64(c.duplicates)
		o.Details["order_violations"] += int64(len(c.outOfOrder))
		for _, seq := range c.missing {
			o.problem("receiver %d never received %d", r, seq)
		}
		for _, seq := range c.unexpected {
			o.problem("receiver %d received %d, which reporter %d never sent", r, seq, r)
		}
		for _, at := range c.outOfOrder {
			o.problem("receiver %d received %d for the first time at position %d, after a higher number: out of the order sent", r, got[at], at)
		}
	}
	return o
}

// received is what checkReceived found in a receiver's log.
type received struct {
	missing, unexpected []int
	// outOfOrder are positions where a number arrived for the first time
	// after a higher one had. A reporter runs one call at a time and a call
	// returns only once its number arrived, so first arrivals are in the
	// order sent whatever is retried; a retried call may deliver its number
	// again later (at least once), which is a duplicate, not a reordering.
	outOfOrder []int
	duplicates int
}

// checkReceived checks that got, a receiver's log, holds every number of
// [first, first+n) at least once, first arrivals in order, and nothing else.
func checkReceived(first, n int, got []int) received {
	var c received
	seen := make([]int, n)
	highest := first - 1
	for i, v := range got {
		if v < first || v >= first+n {
			c.unexpected = append(c.unexpected, v)
			continue
		}
		if seen[v-first]++; seen[v-first] > 1 {
			c.duplicates++
			continue
		}
		if v < highest {
			c.outOfOrder = append(c.outOfOrder, i)
		}
		highest = max(highest, v)
	}
	for i, k := range seen {
		if k == 0 {
			c.missing = append(c.missing, first+i)
		}
	}
	return c
}
