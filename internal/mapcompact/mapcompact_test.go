package mapcompact

import (
	"reflect"
	"testing"
)

func TestDeleted(t *testing.T) {
	for _, tc := range []struct {
		name        string
		bursts      int // times the map is filled to grow and drained to keep (1 if 0)
		grow, keep  int // entries added, then left after deleting
		churn       int // then this many deleted and added again
		wantRebuilt bool
	}{
		// A flood of tasks, then a chain at a small size: rebuilt.
		{name: "emptied, then churned while small", grow: 50_000, keep: 2_000, churn: 10_000, wantRebuilt: true},
		// Drained, but nothing since: it may fill again.
		{name: "emptied only", grow: 50_000, keep: 2_000},
		// Rounds of Puts and their releases: never rebuilt, as each round
		// would grow it again.
		{name: "bursts", bursts: 6, grow: 20_000, keep: 0},
		{name: "bursts leaving a few", bursts: 6, grow: 20_000, keep: 100},
		{name: "small", grow: 3_000, keep: 0},
		{name: "half left", grow: 50_000, keep: 25_000},
		{name: "steady churn", grow: 1_000, keep: 1_000, churn: 10_000, wantRebuilt: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, tr := map[int]int{}, Tracker{}
			before := reflect.ValueOf(m).UnsafePointer()
			rebuilt := false
			del := func(k int) {
				delete(m, k)
				Deleted(&m, &tr)
				if p := reflect.ValueOf(m).UnsafePointer(); p != before {
					rebuilt, before = true, p
				}
			}
			for range max(tc.bursts, 1) {
				for i := range tc.grow {
					m[i] = i * 7
				}
				for i := tc.keep; i < tc.grow; i++ {
					del(i)
				}
			}
			for i := range tc.churn {
				k := i % max(tc.keep, 1)
				del(k)
				m[k] = k * 7
			}
			if rebuilt != tc.wantRebuilt {
				t.Fatalf("rebuilt %v, want %v", rebuilt, tc.wantRebuilt)
			}
			if len(m) != tc.keep {
				t.Fatalf("%d entries, want %d", len(m), tc.keep)
			}
			for i := range tc.keep {
				if v, ok := m[i]; !ok || v != i*7 {
					t.Fatalf("entry %d: %d %v", i, v, ok)
				}
			}
		})
	}
}
