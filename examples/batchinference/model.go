// Package batchinference is Shoal's batch-inference example and benchmark
// (`shoal demo batch-inference`): a small neural network, loaded once per
// actor, classifies a large generated dataset on a pool of actors that
// grows and shrinks with the work, on a cluster that an autoscaler grows
// from one node as the pool asks for more and shrinks when it idles. Every
// output is checked: each item exactly once, and a sample of predictions
// recomputed locally.
package batchinference

import "math"

// Sizes of the model: a multi-layer perceptron.
const (
	Inputs  = 128
	Hidden  = 256
	Classes = 16
)

// Model is a 3-layer perceptron with ReLU, weights made deterministically
// from a seed (as if loaded from a checkpoint).
type Model struct {
	w1, b1, w2, b2, w3, b3 []float32
}

// NewModel makes the model of seed.
func NewModel(seed int64) *Model {
	r := rng(uint64(seed)*0x9E3779B97F4A7C15 + 1)
	layer := func(in, out int) ([]float32, []float32) {
		scale := float32(math.Sqrt(2 / float64(in)))
		w := make([]float32, in*out)
		for i := range w {
			w[i] = (r.float() - 0.5) * 2 * scale
		}
		b := make([]float32, out)
		for i := range b {
			b[i] = (r.float() - 0.5) * 0.1
		}
		return w, b
	}
	m := &Model{}
	m.w1, m.b1 = layer(Inputs, Hidden)
	m.w2, m.b2 = layer(Hidden, Hidden)
	m.w3, m.b3 = layer(Hidden, Classes)
	return m
}

// Predict returns the class the model gives x (len Inputs).
func (m *Model) Predict(x []float32) int32 {
	h1 := dense(x, m.w1, m.b1, Hidden, true)
	h2 := dense(h1, m.w2, m.b2, Hidden, true)
	out := dense(h2, m.w3, m.b3, Classes, false)
	best := 0
	for i, v := range out {
		if v > out[best] {
			best = i
		}
	}
	return int32(best)
}

func dense(x, w, b []float32, out int, relu bool) []float32 {
	y := make([]float32, out)
	copy(y, b)
	for i, xi := range x {
		if xi == 0 {
			continue
		}
		row := w[i*out : (i+1)*out]
		for j := range row {
			y[j] += xi * row[j]
		}
	}
	if relu {
		for j := range y {
			y[j] = max(y[j], 0)
		}
	}
	return y
}

// Features makes item id's input vector, deterministically.
func Features(id int64) []float32 {
	r := rng(uint64(id)*0xBF58476D1CE4E5B9 + 7)
	x := make([]float32, Inputs)
	for i := range x {
		x[i] = r.float()*2 - 1
	}
	return x
}

type rng uint64

func (r *rng) next() uint64 {
	*r ^= *r << 13
	*r ^= *r >> 7
	*r ^= *r << 17
	return uint64(*r)
}

func (r *rng) float() float32 { return float32(r.next()>>40) / float32(1<<24) }
