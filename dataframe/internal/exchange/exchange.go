package exchange

import (
	"context"
	"fmt"
	"math/bits"
	"sync"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/colexecop"
	"github.com/shoal-dev/shoal/dataframe/internal/colexec/eval"
	"github.com/shoal-dev/shoal/dataframe/internal/expr"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Kind is how an exchange routes rows.
type Kind string

// Exchange kinds.
const (
	// Hash sends each row to the partition chosen by the hash of its keys.
	Hash Kind = "hash"
	// Broadcast sends every row to every reader.
	Broadcast Kind = "broadcast"
	// Single sends every row to partition 0.
	Single Kind = "single"
	// Result collects the rows as the plan's result, in partition order.
	Result Kind = "result"
)

// Spec describes an exchange as data (serializable).
type Spec struct {
	Kind       Kind         `json:"kind"`
	Keys       []*expr.Expr `json:"keys,omitempty"`
	Partitions int          `json:"partitions"`
	// Fixed: the program asked for this partition count (Repartition);
	// adaptive execution keeps it.
	Fixed bool `json:"fixed,omitempty"`
}

// Exchange is the boundary between a producing stage and its consumers.
// Writers (one per producer partition) call Write with owned batches and
// Close when done; once every writer closed, readers read their partition.
type Exchange interface {
	// Write routes the live rows of b from producer partition from.
	Write(ctx context.Context, from int, b *coldata.Batch) error
	// CloseWrite marks producer partition from as finished.
	CloseWrite(from int) error
	// Read returns the batches of consumer partition p (all of them for Broadcast).
	Read(ctx context.Context, p int) ([]*coldata.Batch, error)
	// Close releases the exchange's data.
	Close() error
}

// Memory is an in-memory exchange.
type Memory struct {
	spec    Spec
	schema  types.Schema
	mu      sync.Mutex
	parts   [][][]*coldata.Batch // [consumer partition][producer] batches
	hashers []*Hasher
	bytes   int64
}

// NewMemory makes an in-memory exchange with producers producer partitions.
func NewMemory(spec Spec, schema types.Schema, producers int) (*Memory, error) {
	n := spec.Partitions
	if spec.Kind != Hash {
		n = 1
	}
	m := &Memory{spec: spec, schema: schema, parts: make([][][]*coldata.Batch, n)}
	for i := range m.parts {
		m.parts[i] = make([][]*coldata.Batch, producers)
	}
	if spec.Kind == Hash {
		m.hashers = make([]*Hasher, producers)
		for i := range m.hashers {
			h, err := NewHasher(spec.Keys, schema)
			if err != nil {
				return nil, err
			}
			m.hashers[i] = h
		}
	}
	return m, nil
}

// Bytes is the memory held.
func (m *Memory) Bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// Write implements Exchange.
func (m *Memory) Write(_ context.Context, from int, b *coldata.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if m.spec.Kind != Hash {
		c := coldata.Compact(b)
		m.mu.Lock()
		m.parts[0][from] = append(m.parts[0][from], c)
		m.bytes += c.Bytes()
		m.mu.Unlock()
		return nil
	}
	n := len(m.parts)
	hs := m.hashers[from].Hash(b)
	rows := b.Sel
	if rows == nil {
		rows = coldata.Iota(b.N)
	}
	buckets := make([][]int32, n)
	for k, i := range rows {
		p := int((hs[k] >> 32) * uint64(n) >> 32)
		buckets[p] = append(buckets[p], i)
	}
	out := make([]*coldata.Batch, n)
	var bytes int64
	for p, idx := range buckets {
		if len(idx) > 0 {
			out[p] = coldata.Compact(&coldata.Batch{N: b.N, Vecs: b.Vecs, Sel: idx})
			bytes += out[p].Bytes()
		}
	}
	m.mu.Lock()
	for p, c := range out {
		if c != nil {
			m.parts[p][from] = append(m.parts[p][from], c)
		}
	}
	m.bytes += bytes
	m.mu.Unlock()
	return nil
}

// CloseWrite implements Exchange.
func (m *Memory) CloseWrite(int) error { return nil }

// Read implements Exchange.
func (m *Memory) Read(_ context.Context, p int) ([]*coldata.Batch, error) {
	if m.spec.Kind != Hash {
		p = 0
	}
	if p < 0 || p >= len(m.parts) {
		return nil, fmt.Errorf("exchange has %d partitions, partition %d requested", len(m.parts), p)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*coldata.Batch
	for _, bs := range m.parts[p] {
		out = append(out, bs...)
	}
	return out, nil
}

// Close implements Exchange.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.parts = nil
	m.mu.Unlock()
	return nil
}

// Hasher hashes key values (not codes), so that equal values on different
// producers, strings in different dictionaries included, land in one partition.
type Hasher struct {
	evals []eval.Evaluator
	dict  map[*coldata.Strings][]uint64
	out   []uint64
}

// hashBytes is FNV-1a, deterministic across processes (a distributed shuffle
// needs every producer to agree on a value's partition).
func hashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// NewHasher compiles the key expressions over schema s.
func NewHasher(keys []*expr.Expr, s types.Schema) (*Hasher, error) {
	h := &Hasher{dict: map[*coldata.Strings][]uint64{}}
	for _, k := range keys {
		ev, err := eval.Compile(k, s)
		if err != nil {
			return nil, err
		}
		h.evals = append(h.evals, ev)
	}
	return h, nil
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Hash returns one hash per live row of b.
func (h *Hasher) Hash(b *coldata.Batch) []uint64 {
	n := b.Len()
	if cap(h.out) < n {
		h.out = make([]uint64, n)
	}
	out := h.out[:n]
	clear(out)
	rows := b.Sel
	for c, ev := range h.evals {
		v := ev.Eval(b)
		if !h.hashFast(out, v, rows, uint64(c)) {
			h.hashRows(out, v, rows, uint64(c))
		}
	}
	for k := range out {
		out[k] = mix(out[k])
	}
	return out
}

// hashFast folds column c's values into out with one loop per type (the
// common case: no nulls, not a constant, no selection), giving the same
// hashes as hashRows; it says whether it could.
func (h *Hasher) hashFast(out []uint64, v *coldata.Vec, rows []int32, c uint64) bool {
	if rows != nil || v.Nulls != nil || v.Const {
		return false
	}
	switch v.Type.ID {
	case types.Int64, types.Decimal:
		src := v.I64[:len(out)]
		for k, x := range src {
			out[k] = bits.RotateLeft64(out[k], 5) ^ mix(uint64(x)) ^ c
		}
	case types.Int32, types.Date:
		src := v.I32[:len(out)]
		for k, x := range src {
			out[k] = bits.RotateLeft64(out[k], 5) ^ mix(uint64(int64(x))) ^ c
		}
	case types.Float64:
		src := v.F64[:len(out)]
		for k, x := range src {
			out[k] = bits.RotateLeft64(out[k], 5) ^ mix(uint64(int64(x*1e6))) ^ c
		}
	case types.String:
		if v.Dict == nil {
			return false
		}
		hs := h.dictHashes(v.Dict)
		src := v.I32[:len(out)]
		for k, x := range src {
			out[k] = bits.RotateLeft64(out[k], 5) ^ hs[x] ^ c
		}
	default:
		return false
	}
	return true
}

// dictHashes is the hash of each entry of a dictionary (once per dictionary).
func (h *Hasher) dictHashes(d *coldata.Strings) []uint64 {
	hs := h.dict[d]
	if hs == nil {
		hs = make([]uint64, d.Len())
		for i := range hs {
			hs[i] = hashBytes(d.Get(i))
		}
		h.dict[d] = hs
	}
	return hs
}

// hashRows folds column c's values into out row by row (any vec).
func (h *Hasher) hashRows(out []uint64, v *coldata.Vec, rows []int32, c uint64) {
	for k := range out {
		i := k
		if rows != nil {
			i = int(rows[k])
		}
		if v.Const {
			i = 0
		}
		var x uint64
		switch {
		case v.IsNull(i):
			x = 0x9E3779B97F4A7C15
		case v.Type.ID == types.String:
			if v.Dict != nil {
				x = h.dictHashes(v.Dict)[v.I32[i]]
			} else {
				x = hashBytes(v.Str.Get(i))
			}
		case v.Type.ID == types.Int32 || v.Type.ID == types.Date:
			x = mix(uint64(int64(v.I32[i])))
		case v.Type.ID == types.Int64 || v.Type.ID == types.Decimal:
			x = mix(uint64(v.I64[i]))
		case v.Type.ID == types.Float64:
			x = mix(uint64(int64(v.F64[i] * 1e6)))
		case v.Type.ID == types.Bool:
			if v.Bool[i] {
				x = 1
			}
			x = mix(x)
		}
		out[k] = bits.RotateLeft64(out[k], 5) ^ x ^ c
	}
}

// Reader wraps batches read from an exchange as an operator.
func Reader(batches []*coldata.Batch, batchSize int) colexecop.Operator {
	return &colexecop.Batches{Data: batches, BatchSize: batchSize}
}
