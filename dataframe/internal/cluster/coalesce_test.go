package cluster

import (
	"slices"
	"testing"
)

func TestGroupSizes(t *testing.T) {
	for _, tc := range []struct {
		size   []int64
		target int64
		want   [][]int
	}{
		{[]int64{1, 1, 1, 1}, 2, [][]int{{0, 1}, {2, 3}}},
		{[]int64{1, 1, 1, 1}, 100, [][]int{{0, 1, 2, 3}}},
		{[]int64{5, 1, 1, 5}, 4, [][]int{{0}, {1, 2}, {3}}}, // a large partition alone
		{[]int64{0, 0, 3, 0}, 1, [][]int{{0, 1}, {2}, {3}}},
		{[]int64{7}, 1, [][]int{{0}}},
	} {
		got := groupSizes(tc.size, tc.target)
		if !slices.EqualFunc(got, tc.want, slices.Equal[[]int]) {
			t.Errorf("groupSizes(%v, %d) = %v, want %v", tc.size, tc.target, got, tc.want)
		}
	}
}
