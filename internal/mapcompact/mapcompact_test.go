package mapcompact

import (
	"reflect"
	"testing"
)

func TestDeleted(t *testing.T) {
	for _, tc := range []struct {
		name            string
		grow, keep      int // entries added, then left after deleting
		churn           int // then this many deleted and added again
		wantRebuilt     bool
		wantDeletesLeft int
	}{
		{name: "emptied out", grow: 50_000, keep: 2_000, wantRebuilt: true},
		{name: "small", grow: 3_000, keep: 0, wantDeletesLeft: 3_000},
		{name: "half left", grow: 50_000, keep: 25_000, wantDeletesLeft: 25_000},
		{name: "steady churn", grow: 1_000, keep: 1_000, churn: 10_000, wantRebuilt: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, deletes := map[int]int{}, 0
			for i := range tc.grow {
				m[i] = i * 7
			}
			before := reflect.ValueOf(m).UnsafePointer()
			rebuilt := false
			del := func(k int) {
				delete(m, k)
				Deleted(&m, &deletes)
				if p := reflect.ValueOf(m).UnsafePointer(); p != before {
					rebuilt, before = true, p
				}
			}
			for i := tc.keep; i < tc.grow; i++ {
				del(i)
			}
			for i := range tc.churn {
				k := i % max(tc.keep, 1)
				del(k)
				m[k] = k * 7
			}
			if rebuilt != tc.wantRebuilt {
				t.Fatalf("rebuilt %v, want %v", rebuilt, tc.wantRebuilt)
			}
			if !tc.wantRebuilt && deletes != tc.wantDeletesLeft {
				t.Fatalf("%d deletions counted, want %d", deletes, tc.wantDeletesLeft)
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
