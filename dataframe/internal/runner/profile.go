package runner

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/physical"
)

// Profile gathers what each operator of a run did (EXPLAIN ANALYZE): set
// Options.Profile to a NewProfile and read it after Run returns.
type Profile struct {
	mu     sync.Mutex
	ops    map[*physical.Op]*counters
	stages map[int]time.Duration
}

// OpStats is what one operator did, summed over its partitions.
type OpStats struct {
	// Rows and Batches are what it returned.
	Rows, Batches int64
	// Time is spent in its Init and Next calls, its inputs' included
	// (summed over partitions that ran at once: CPU time, not wall time).
	Time time.Duration
	// Partitions is how many instances of it ran.
	Partitions int64
}

// counters are an operator's figures as its partitions add to them.
type counters struct {
	rows, batches, nanos, parts atomic.Int64
}

// NewProfile returns an empty profile.
func NewProfile() *Profile {
	return &Profile{ops: map[*physical.Op]*counters{}, stages: map[int]time.Duration{}}
}

// Op returns what o did; ok is false when it did not run (an exchange read
// gathered into a broadcast join's table is not an operator of its own).
func (p *Profile) Op(o *physical.Op) (s OpStats, ok bool) {
	p.mu.Lock()
	c := p.ops[o]
	p.mu.Unlock()
	if c == nil {
		return OpStats{}, false
	}
	return OpStats{Rows: c.rows.Load(), Batches: c.batches.Load(), Time: time.Duration(c.nanos.Load()), Partitions: c.parts.Load()}, true
}

// SelfTime is o's time without its inputs' (those that ran as operators).
func (p *Profile) SelfTime(o *physical.Op) time.Duration {
	s, _ := p.Op(o)
	t := s.Time
	for _, c := range []*physical.Op{o.Input, o.Build} {
		if c == nil {
			continue
		}
		cs, _ := p.Op(c)
		t -= cs.Time
	}
	return max(t, 0)
}

// Stage returns the wall time stage id took.
func (p *Profile) Stage(id int) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stages[id]
}

func (p *Profile) stage(id int, d time.Duration) {
	p.mu.Lock()
	p.stages[id] += d
	p.mu.Unlock()
}

// wrap counts what op, built for o, does.
func (p *Profile) wrap(o *physical.Op, op colexecop.Operator) colexecop.Operator {
	p.mu.Lock()
	s := p.ops[o]
	if s == nil {
		s = &counters{}
		p.ops[o] = s
	}
	p.mu.Unlock()
	s.parts.Add(1)
	return &profiled{Operator: op, s: s}
}

type profiled struct {
	colexecop.Operator
	s *counters
}

func (o *profiled) Init(ctx context.Context) {
	start := time.Now()
	o.Operator.Init(ctx)
	o.s.nanos.Add(int64(time.Since(start)))
}

func (o *profiled) Next() *coldata.Batch {
	start := time.Now()
	b := o.Operator.Next()
	o.s.nanos.Add(int64(time.Since(start)))
	if n := b.Len(); n > 0 {
		o.s.rows.Add(int64(n))
		o.s.batches.Add(1)
	}
	return b
}
