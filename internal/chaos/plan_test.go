package chaos

import (
	"reflect"
	"testing"
	"time"
)

func slots(n int, protected ...int) []Target {
	out := make([]Target, n)
	for i := range out {
		out[i] = Target{Name: "node" + string(rune('0'+i))}
	}
	for _, p := range protected {
		out[p].Protected = true
	}
	return out
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name     string
		seed     int64
		interval time.Duration
		maxKills int
		nodes    []Target
		want     int // events
	}{
		{"acceptance shape", 1, 10 * time.Second, 2, slots(4), 2},
		{"many kills", 42, time.Second, 50, slots(4), 50},
		{"kept node", 7, 10 * time.Second, 20, slots(4, 0), 20},
		{"two nodes, one kept", 3, time.Second, 10, slots(2, 0), 10},
		{"one node is never killed", 1, time.Second, 5, slots(1), 0},
		{"every node kept", 1, time.Second, 5, slots(3, 0, 1, 2), 0},
		{"no kills", 1, time.Second, 0, slots(4), 0},
		{"no interval", 1, 0, 3, slots(4), 0},
		{"negative seed", -9, 3 * time.Second, 4, slots(3), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := Plan(tc.seed, tc.interval, tc.maxKills, tc.nodes)
			if len(plan) != tc.want {
				t.Fatalf("%d events, want %d: %v", len(plan), tc.want, plan)
			}
			protected := map[string]bool{}
			for _, n := range tc.nodes {
				protected[n.Name] = n.Protected
			}
			for i, ev := range plan {
				if ev.Interval != i {
					t.Errorf("event %d is in interval %d", i, ev.Interval)
				}
				lo, hi := time.Duration(i)*tc.interval, time.Duration(i+1)*tc.interval
				if ev.At < lo || ev.At >= hi {
					t.Errorf("event %d at %v, outside its interval [%v, %v)", i, ev.At, lo, hi)
				}
				p, known := protected[ev.Node]
				if !known || p {
					t.Errorf("event %d hits %q (known %v, protected %v)", i, ev.Node, known, p)
				}
			}
			// Reproducible from the seed.
			if again := Plan(tc.seed, tc.interval, tc.maxKills, tc.nodes); !reflect.DeepEqual(plan, again) {
				t.Fatalf("same seed, different plans:\n%v\n%v", plan, again)
			}
		})
	}
}

// TestPlanIsStable pins the plan of one seed: a change here breaks the
// reproduction of every recorded failure (chaos/README.md names seeds).
func TestPlanIsStable(t *testing.T) {
	got := Plan(1, 10*time.Second, 3, slots(4))
	want := []Event{
		{At: 5473248340, Node: "node0", Interval: 0},
		{At: 13882116936, Node: "node2", Interval: 1},
		{At: 27854076217, Node: "node2", Interval: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Plan(1, 10s, 3, 4 nodes) = %#v\nwant %#v", got, want)
	}
}

func TestPlanDependsOnSeedAndSpreads(t *testing.T) {
	hits := map[string]int{}
	distinct := map[string]bool{}
	for seed := range int64(200) {
		plan := Plan(seed, time.Second, 5, slots(4))
		key := ""
		for _, ev := range plan {
			hits[ev.Node]++
			key += ev.Node + ev.At.String()
		}
		distinct[key] = true
	}
	if len(distinct) != 200 {
		t.Errorf("200 seeds gave %d distinct plans", len(distinct))
	}
	// 1000 draws over 4 nodes: each far from 0 and from all.
	for _, n := range slots(4) {
		if h := hits[n.Name]; h < 150 || h > 350 {
			t.Errorf("node %s hit %d times of 1000", n.Name, h)
		}
	}
}

func TestCheckReceived(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		got                      []int
		missing, unexpected, ooo []int
		dups                     int
	}{
		{"all once", []int{10, 11, 12, 13}, nil, nil, nil, 0},
		{"redelivered after a restart", []int{10, 11, 11, 12, 13}, nil, nil, nil, 1},
		{"redelivered late", []int{10, 11, 12, 11, 12, 13}, nil, nil, nil, 2},
		{"lost", []int{10, 12, 13}, []int{11}, nil, nil, 0},
		{"foreign", []int{10, 11, 12, 13, 99}, nil, []int{99}, nil, 0},
		{"reordered", []int{10, 12, 11, 13}, nil, nil, []int{2}, 0},
		{"nothing", nil, []int{10, 11, 12, 13}, nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkReceived(10, 4, tc.got)
			if !reflect.DeepEqual(c.missing, tc.missing) || !reflect.DeepEqual(c.unexpected, tc.unexpected) ||
				!reflect.DeepEqual(c.outOfOrder, tc.ooo) || c.duplicates != tc.dups {
				t.Fatalf("checkReceived(%v) = %+v", tc.got, c)
			}
		})
	}
}

func TestParseJoined(t *testing.T) {
	out := "shoal node 82c4748c6927 joined 127.0.0.1:43785 (data plane 127.0.0.1:46579, CPU 2)\n"
	id, data, err := parseJoined(out)
	if err != nil || id != "82c4748c6927" || data != "127.0.0.1:46579" {
		t.Fatalf("parseJoined: %q %q %v", id, data, err)
	}
	if _, _, err := parseJoined("shoal node exited\n"); err == nil {
		t.Fatal("parseJoined accepted a line without an ID")
	}
}

func TestPayloadIsDeterministicAndDistinct(t *testing.T) {
	a, b := payload(1, 1, 5, 1000), payload(1, 1, 5, 1000)
	if !reflect.DeepEqual(a, b) || len(a) != 1000 {
		t.Fatal("payload is not a function of its arguments")
	}
	for _, other := range [][]byte{payload(2, 1, 5, 1000), payload(1, 2, 5, 1000), payload(1, 1, 6, 1000)} {
		if reflect.DeepEqual(a, other) {
			t.Fatal("different arguments, same payload")
		}
	}
}
