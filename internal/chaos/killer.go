package chaos

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shoal-dev/shoal/internal/clustertest"
	"github.com/shoal-dev/shoal/internal/ids"
)

// KillRecord is what happened at one planned event.
type KillRecord struct {
	AtS    float64 `json:"at_s"`
	Slot   string  `json:"slot"`
	NodeID string  `json:"node_id,omitempty"`
	Pid    int     `json:"pid,omitempty"`
	Mode   Mode    `json:"mode"`
	// Hit is true when the fault was applied.
	Hit bool `json:"hit"`
	// Skipped says why the event hit nothing; Error why the fault failed.
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
	// Detail is what the runtime reported (a drain's report).
	Detail string `json:"detail,omitempty"`
	// Replacement is the node started in the victim's place and how long
	// it took to join; HealedAtS when a partition ended.
	Replacement  string  `json:"replacement,omitempty"`
	ReplacementS float64 `json:"replacement_s,omitempty"`
	HealedAtS    float64 `json:"healed_at_s,omitempty"`
}

// slot is one node position of the cluster and its current process.
type slot struct {
	name     string
	args     []string
	proc     *clustertest.Proc
	dataAddr string
	nodeID   string
	faulted  bool // frozen, until healed
}

// killer carries out a plan on a running cluster.
type killer struct {
	cfg     *Config
	cluster *clustertest.Cluster
	fault   fault
	plan    []Event
	logf    func(format string, args ...any)

	mu       sync.Mutex
	slots    map[string]*slot
	order    []string
	records  []KillRecord
	expected map[*clustertest.Proc]bool // exits we caused
	crashes  []string                   // exits we did not cause
	stopping bool

	stopc    chan struct{}
	done     chan struct{}
	heals    sync.WaitGroup
	watchers sync.WaitGroup
}

func newKiller(cfg *Config, c *clustertest.Cluster, logf func(string, ...any)) *killer {
	return &killer{cfg: cfg, cluster: c, logf: logf,
		slots: map[string]*slot{}, expected: map[*clustertest.Proc]bool{},
		stopc: make(chan struct{}), done: make(chan struct{})}
}

// addSlot starts the node of a new slot and waits until it has joined.
func (k *killer) addSlot(ctx context.Context, name string, args []string) (*slot, error) {
	s := &slot{name: name, args: args}
	if err := k.startNode(ctx, s); err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.slots[name] = s
	k.order = append(k.order, name)
	k.mu.Unlock()
	return s, nil
}

// startNode starts a node process for slot s and watches it for exits
// nobody asked for.
func (k *killer) startNode(ctx context.Context, s *slot) error {
	p, err := k.cluster.AddNode(ctx, s.args...)
	if err != nil {
		return fmt.Errorf("starting the node of slot %s: %w", s.name, err)
	}
	abbrev, data, err := parseJoined(p.Output())
	if err != nil {
		return fmt.Errorf("slot %s: %w", s.name, err)
	}
	// The joined line shows the ID abbreviated; drains and affinities take
	// the whole one, which the head reports beside the node's data address.
	id, ok := k.registeredID(ctx, data)
	if !ok {
		return fmt.Errorf("slot %s: node %s (data plane %s) joined but is not in the head's status", s.name, abbrev, data)
	}
	k.mu.Lock()
	s.proc, s.nodeID, s.dataAddr, s.faulted = p, id, data, false
	k.mu.Unlock()
	k.watchers.Add(1)
	go func() {
		defer k.watchers.Done()
		<-p.Exited()
		k.mu.Lock()
		defer k.mu.Unlock()
		if !k.expected[p] && !k.stopping {
			msg := fmt.Sprintf("node %s of slot %s (pid %d) exited by itself; its last output:\n%s", id, s.name, p.Pid(), tail(p.Output(), 20))
			k.crashes = append(k.crashes, msg)
			k.logf("UNEXPECTED: %s", msg)
		}
	}()
	return nil
}

// parseJoined reads the node's ID (abbreviated) and data address from the
// line `shoal node` prints when it has joined: "shoal node ID joined HEAD
// (data plane ADDR, RES)".
func parseJoined(out string) (id, data string, err error) {
	for _, l := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(l, "shoal node ")
		if !ok {
			continue
		}
		id, rest, ok = strings.Cut(rest, " joined ")
		if !ok {
			continue
		}
		_, rest, ok = strings.Cut(rest, "(data plane ")
		if !ok {
			continue
		}
		data, _, ok = strings.Cut(rest, ",")
		if ok && id != "" && data != "" {
			return id, data, nil
		}
	}
	return "", "", fmt.Errorf("no \"shoal node ID joined\" line in the node's output:\n%s", tail(out, 10))
}

// currentID is the ID under which the slot's node is registered now (a
// node that lost its session registers again under a new ID, on the same
// data address).
func (k *killer) currentID(ctx context.Context, s *slot) string {
	if id, ok := k.registeredID(ctx, s.dataAddr); ok {
		return id
	}
	return s.nodeID
}

// registeredID is the whole ID of the live node serving dataAddr.
func (k *killer) registeredID(ctx context.Context, dataAddr string) (string, bool) {
	return registeredID(ctx, k.cluster, dataAddr)
}

// registeredID is the whole ID of the live node of c serving dataAddr (a
// node's startup line abbreviates it).
func registeredID(ctx context.Context, c *clustertest.Cluster, dataAddr string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if st, err := c.Status(ctx); err == nil {
		for _, n := range st.Nodes {
			if n.Alive && n.DataAddr == dataAddr {
				return idString(n.NodeId), true
			}
		}
	}
	return "", false
}

// run carries out the plan from t0 until the plan ends or stop is called.
func (k *killer) run(t0 time.Time) {
	defer close(k.done)
	for _, ev := range k.plan {
		t := time.NewTimer(time.Until(t0.Add(ev.At)))
		select {
		case <-t.C:
		case <-k.stopc:
			t.Stop()
			return
		}
		k.hit(t0, ev)
	}
}

func (k *killer) hit(t0 time.Time, ev Event) {
	idx := k.record(KillRecord{AtS: time.Since(t0).Seconds(), Slot: ev.Node, Mode: k.cfg.Mode})
	at := time.Since(t0).Seconds()
	k.mu.Lock()
	s := k.slots[ev.Node]
	healthy := 0
	for _, o := range k.slots {
		if !o.faulted {
			healthy++
		}
	}
	skipped := ""
	switch {
	case s == nil:
		skipped = "no such slot"
	case s.faulted:
		skipped = "the node is still partitioned"
	case healthy < 2:
		skipped = "it would leave no healthy node"
	}
	k.records[idx].Skipped = skipped
	k.mu.Unlock()
	if skipped != "" {
		k.logf("%s: event on slot %s skipped: %s", fmtAt(at), ev.Node, skipped)
		return
	}
	ctx := context.Background()
	nodeID, pid := k.currentID(ctx, s), s.proc.Pid()
	k.mu.Lock()
	k.records[idx].NodeID, k.records[idx].Pid = nodeID, pid
	if k.cfg.Mode != ModePartition {
		k.expected[s.proc] = true
	}
	s.faulted = true
	k.mu.Unlock()
	did, err := k.fault.inject(ctx, victim{slot: s.name, proc: s.proc, nodeID: nodeID})
	k.update(idx, func(r *KillRecord) {
		r.Hit, r.Detail = err == nil, did.detail
		if err != nil {
			r.Error = err.Error()
		}
	})
	if err != nil {
		k.logf("%s: fault on slot %s (node %s, pid %d) failed: %v", fmtAt(at), s.name, ids.AbbrevHex(nodeID), pid, err)
	} else {
		k.logf("%s: %s node %s of slot %s (pid %d)", fmtAt(at), verb(k.cfg.Mode), ids.AbbrevHex(nodeID), s.name, pid)
	}
	if did.detail != "" {
		k.logf("%s: %s", fmtAt(time.Since(t0).Seconds()), did.detail)
	}
	if did.heal != nil {
		k.heals.Add(1)
		go k.healAfter(t0, s, did.heal, idx)
	}
	if !did.replace {
		return
	}
	// As a cloud would: a new instance in the old one's place.
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	err = k.startNode(sctx, s)
	cancel()
	if err != nil {
		k.update(idx, func(r *KillRecord) { r.Error = strings.TrimPrefix(r.Error+"; replacement: "+err.Error(), "; ") })
		k.logf("replacement for slot %s failed: %v", s.name, err)
		return
	}
	took := time.Since(start).Seconds()
	k.update(idx, func(r *KillRecord) { r.Replacement, r.ReplacementS = s.nodeID, took })
	k.logf("%s: replacement node %s joined in slot %s in %.2fs", fmtAt(time.Since(t0).Seconds()), ids.AbbrevHex(s.nodeID), s.name, took)
}

// healAfter ends a partition after its duration, or at once when the
// killer stops.
func (k *killer) healAfter(t0 time.Time, s *slot, heal func() error, idx int) {
	defer k.heals.Done()
	t := time.NewTimer(k.cfg.PartitionFor)
	select {
	case <-t.C:
	case <-k.stopc:
		t.Stop()
	}
	err := heal()
	at := time.Since(t0).Seconds()
	k.mu.Lock()
	s.faulted = false
	k.mu.Unlock()
	k.update(idx, func(r *KillRecord) {
		r.HealedAtS = at
		if err != nil {
			r.Error = "healing: " + err.Error()
		}
	})
	if err != nil {
		k.logf("%s: healing slot %s failed: %v", fmtAt(at), s.name, err)
		return
	}
	k.logf("%s: partition of slot %s healed", fmtAt(at), s.name)
}

// record appends a record and returns its index.
func (k *killer) record(rec KillRecord) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.records = append(k.records, rec)
	return len(k.records) - 1
}

func (k *killer) update(idx int, f func(*KillRecord)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f(&k.records[idx])
}

// stop ends the plan, waits for a fault in progress (and its replacement)
// and heals every partition.
func (k *killer) stop() {
	select {
	case <-k.stopc:
	default:
		close(k.stopc)
	}
	<-k.done
	k.heals.Wait()
}

// shutdown marks the exits that follow as ours, stops the cluster and waits
// for the watchers.
func (k *killer) shutdown() {
	k.mu.Lock()
	k.stopping = true
	k.mu.Unlock()
	k.cluster.Stop()
	k.watchers.Wait()
}

// results returns the records, the number of nodes hit and the crashes.
func (k *killer) results() ([]KillRecord, int, []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	hit := 0
	for _, r := range k.records {
		if r.Hit {
			hit++
		}
	}
	return append([]KillRecord(nil), k.records...), hit, append([]string(nil), k.crashes...)
}

func verb(m Mode) string {
	switch m {
	case ModeProcess:
		return "SIGKILL"
	case ModeDrain:
		return "drained"
	case ModePartition:
		return "partitioned (froze)"
	}
	return string(m)
}

func fmtAt(s float64) string { return fmt.Sprintf("[%6.2fs]", s) }

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
