package cluster

import (
	"slices"
	"testing"

	"github.com/shoal-dev/shoal"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/hashagg"
	"github.com/shoal-dev/shoal/dataframe/internal/exchange"
	"github.com/shoal-dev/shoal/dataframe/internal/physical"
)

// A reducer task is given only the map outputs that hold rows for the
// partitions it reads, as their headers' bitmaps say: its arguments (and
// its index reads) grow with the rows, not with the maps.
func TestReducersGetOnlyTheMapOutputsHoldingTheirRows(t *testing.T) {
	hash := &stageOutput{
		spec: exchange.Spec{Kind: exchange.Hash, Partitions: 70},
		maps: make([]*shoal.Future[[]byte], 4),
		rows: []int64{5, 0, 7, 3},
		// map 0: partitions 0 and 1; map 1: empty; map 2: partition 66;
		// map 3: made again since (not known).
		nonEmpty: []exchange.NonEmpty{{0b11, 0}, {0, 0}, {0, 1 << 2}, nil},
		origins:  []string{"a", "", "b", ""},
	}
	broadcast := &stageOutput{
		spec:    exchange.Spec{Kind: exchange.Broadcast},
		maps:    make([]*shoal.Future[[]byte], 3),
		rows:    []int64{0, 2, 9},
		origins: []string{"", "c", "d"},
	}
	for _, tc := range []struct {
		name     string
		o        *stageOutput
		segments []int
		part     int
		only     []int
		want     []int
	}{
		{"its own partition, in one output", hash, nil, 1, nil, []int{0, 3}},
		{"its own partition, in another", hash, nil, 66, nil, []int{2, 3}},
		{"its own partition, in none known", hash, nil, 5, nil, []int{3}},
		{"coalesced partitions", hash, []int{1, 2, 66}, 0, nil, []int{0, 2, 3}},
		{"the whole output", hash, allSegments(70), 4, nil, []int{0, 2, 3}},
		{"a part of a split partition", hash, nil, 66, []int{1, 2}, []int{2}},
		{"another part of it", hash, nil, 66, []int{3}, []int{3}},
		{"a broadcast: every output with rows", broadcast, nil, 1, nil, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.o.asInput(7, tc.segments, tc.part, tc.only)
			if !slices.Equal(in.Index, tc.want) || len(in.Maps) != len(tc.want) || len(in.Origins) != len(tc.want) {
				t.Fatalf("maps %v (%d futures, %d origins), want %v", in.Index, len(in.Maps), len(in.Origins), tc.want)
			}
			for k, m := range in.Index {
				if in.Origins[k] != tc.o.origins[m] {
					t.Errorf("map %d's origin %q, want %q", m, in.Origins[k], tc.o.origins[m])
				}
			}
			if in.Stage != 7 || in.Kind != tc.o.spec.Kind || !slices.Equal(in.Only, tc.only) || !slices.Equal(in.Segments, map[bool][]int{true: tc.segments}[tc.o.spec.Kind == exchange.Hash]) {
				t.Errorf("input %+v", in)
			}
		})
	}
}

// A skewed partition of a join's probe side runs as several tasks, each
// reading a run of map outputs of about the target bytes of it (and the
// whole partition of the build side); nothing else is split.
func TestSkewedPartitionsAreSplit(t *testing.T) {
	read := func(stage int) *physical.Op { return &physical.Op{Kind: physical.KindExchangeRead, Stage: stage} }
	join := &physical.Stage{ID: 3, Partitions: 4, Inputs: []int{1, 2},
		Root: &physical.Op{Kind: physical.KindHashJoin, Input: read(1), Build: read(2)}}
	final := &physical.Stage{ID: 3, Partitions: 4, Inputs: []int{1, 2},
		Root: &physical.Op{Kind: physical.KindHashAgg, Phase: hashagg.Final, Input: join.Root}}
	hashOf := func(segmentBytes ...int64) *stageOutput {
		o := &stageOutput{spec: exchange.Spec{Kind: exchange.Hash, Partitions: 4}, segmentBytes: segmentBytes, reducerBytes: make([]int64, 4)}
		for k, n := range segmentBytes {
			o.reducerBytes[k%4] += n
		}
		return o
	}
	outputs := map[int]*stageOutput{
		// Partition 2 of the probe side holds 1,500 bytes (the median
		// partition 30), in 3 map outputs of 500.
		1: hashOf(10, 10, 500, 10, 10, 10, 500, 10, 10, 10, 500, 0),
		// The build side's partition 2 is as large, but a build side is
		// never split.
		2: hashOf(10, 10, 900, 10, 10, 10, 900, 10),
	}
	output := func(id int) *stageOutput { return outputs[id] }
	opts := Options{SkewedPartitionBytes: 100, TargetPartitionBytes: 600}
	type shape struct {
		part     int
		segments []int
		splitOn  int
		only     []int
	}
	asShapes := func(ts []taskShape) []shape {
		var out []shape
		for _, t := range ts {
			out = append(out, shape(t))
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		st     *physical.Stage
		groups [][]int
		opts   Options
		want   []shape
		split  int
	}{
		{"one task per partition", join, nil, opts, []shape{
			{0, nil, -1, nil}, {1, nil, -1, nil}, {2, nil, 1, []int{0}}, {2, nil, 1, []int{1}}, {2, nil, 1, []int{2}}, {3, nil, -1, nil}}, 1},
		{"coalesced partitions", join, [][]int{{0, 1}, {2}, {3}}, opts, []shape{
			{0, []int{0, 1}, -1, nil}, {1, []int{2}, 1, []int{0}}, {1, []int{2}, 1, []int{1}}, {1, []int{2}, 1, []int{2}}, {2, []int{3}, -1, nil}}, 1},
		{"a larger target: two tasks", join, nil, Options{SkewedPartitionBytes: 100, TargetPartitionBytes: 1000}, []shape{
			{0, nil, -1, nil}, {1, nil, -1, nil}, {2, nil, 1, []int{0, 1}}, {2, nil, 1, []int{2}}, {3, nil, -1, nil}}, 1},
		{"under the bound", join, nil, Options{SkewedPartitionBytes: 2000, TargetPartitionBytes: 600}, []shape{
			{0, nil, -1, nil}, {1, nil, -1, nil}, {2, nil, -1, nil}, {3, nil, -1, nil}}, 0},
		{"off", join, nil, Options{TargetPartitionBytes: 600}, []shape{
			{0, nil, -1, nil}, {1, nil, -1, nil}, {2, nil, -1, nil}, {3, nil, -1, nil}}, 0},
		{"a final aggregate sees the partition whole", final, nil, opts, []shape{
			{0, nil, -1, nil}, {1, nil, -1, nil}, {2, nil, -1, nil}, {3, nil, -1, nil}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, split := splitSkewed(tc.st, taskShapes(tc.st, tc.groups), output, tc.opts)
			if g := asShapes(got); split != tc.split || !slices.EqualFunc(g, tc.want, func(a, b shape) bool {
				return a.part == b.part && a.splitOn == b.splitOn && slices.Equal(a.segments, b.segments) && slices.Equal(a.only, b.only)
			}) {
				t.Fatalf("split %d: %+v\nwant %d: %+v", split, g, tc.split, tc.want)
			}
		})
	}
}
