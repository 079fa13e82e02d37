package batchinference

import "testing"

// BenchmarkPredict is the model's speed on one core, without Shoal: the
// ceiling a one-CPU actor can approach.
func BenchmarkPredict(b *testing.B) {
	m := NewModel(1)
	xs := make([][]float32, 1024)
	for i := range xs {
		xs[i] = Features(int64(i))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Predict(xs[i%len(xs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

func TestPredictIsDeterministic(t *testing.T) {
	a, b := NewModel(3), NewModel(3)
	counts := map[int32]int{}
	for id := range int64(2000) {
		x := Features(id)
		ca, cb := a.Predict(x), b.Predict(x)
		if ca != cb || ca < 0 || ca >= Classes {
			t.Fatalf("item %d: classes %d and %d from the same model", id, ca, cb)
		}
		counts[ca]++
	}
	if len(counts) < 4 {
		t.Fatalf("the model gives only %d distinct classes over 2000 items: %v", len(counts), counts)
	}
}
