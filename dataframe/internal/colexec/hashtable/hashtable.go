package hashtable

import (
	"math/bits"
	"unsafe"

	"github.com/shoal-dev/shoal/dataframe/internal/coldata"
	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// Interner maps strings to dense int32 codes.
type Interner struct {
	codes map[string]int32
	Vals  coldata.Strings
}

// NewInterner returns an empty interner.
func NewInterner() *Interner {
	return &Interner{codes: map[string]int32{}, Vals: coldata.Strings{Offs: []int32{0}}}
}

// Len is the number of distinct strings.
func (in *Interner) Len() int { return len(in.codes) }

// Intern returns the code of s, adding it if insert is true (else -1 when absent).
func (in *Interner) Intern(s []byte, insert bool) int32 {
	if c, ok := in.codes[unsafe.String(unsafe.SliceData(s), len(s))]; ok {
		return c
	}
	if !insert {
		return -1
	}
	c := int32(len(in.codes))
	in.Vals.Append(s)
	in.codes[string(s)] = c
	return c
}

type dictRemap struct {
	dict *coldata.Strings
	m    []int32
}

// remap returns, for dictionary d, the interned code of each entry (cached per
// dictionary in the encoder, so probes never write to shared interners).
func (k *KeyEncoder) remap(c int, d *coldata.Strings, insert bool) []int32 {
	cache := &k.dicts[c]
	if cache.dict == d {
		return cache.m
	}
	in := k.Interners[c]
	m := make([]int32, d.Len())
	for i := range m {
		m[i] = in.Intern(d.Get(i), insert)
	}
	cache.dict, cache.m = d, m
	return m
}

// ForProbe returns an encoder sharing this one's interners (read-only) with its
// own caches, for concurrent probes of a finished table.
func (k *KeyEncoder) ForProbe() *KeyEncoder {
	c := *k
	c.dicts = make([]dictRemap, len(k.dicts))
	return &c
}

// part describes where one key column lives in the packed words.
type part struct {
	word  int
	shift uint
	wide  bool // 64-bit value
}

// KeyEncoder packs the key columns of rows into W words each.
type KeyEncoder struct {
	Types     []types.Type
	W         int
	parts     []part
	nullWord  int // -1 when no key column is nullable
	Interners []*Interner
	dicts     []dictRemap
	// decoded holds, per string key column, the dictionary handed out by
	// Decode, reused while the interner does not grow (a stable dictionary
	// pointer lets consumers cache per-dictionary work).
	decoded []*coldata.Strings
}

// NewKeyEncoder lays out keys of the given types; nullable marks columns that may hold nulls.
func NewKeyEncoder(ts []types.Type, nullable []bool) *KeyEncoder {
	k := &KeyEncoder{Types: ts, nullWord: -1, Interners: make([]*Interner, len(ts)), dicts: make([]dictRemap, len(ts))}
	word, half := 0, false
	for i, t := range ts {
		wide := t.ID == types.Int64 || t.ID == types.Decimal || t.ID == types.Float64
		if t.ID == types.String {
			k.Interners[i] = NewInterner()
		}
		if wide {
			if half {
				word++
				half = false
			}
			k.parts = append(k.parts, part{word: word, wide: true})
			word++
			continue
		}
		if half {
			k.parts = append(k.parts, part{word: word, shift: 32})
			word++
			half = false
		} else {
			k.parts = append(k.parts, part{word: word})
			half = true
		}
	}
	if half {
		word++
	}
	for _, n := range nullable {
		if n {
			k.nullWord = word
			word++
			break
		}
	}
	if word == 0 {
		word = 1 // global aggregation: every row has the key 0
	}
	k.W = word
	return k
}

// Encode writes the keys of the live rows (sel, or 0..n-1) into out (len rows*W),
// row k of the output for the k-th live row. With insert false, strings that were
// never interned make the row unmatchable; unmatchable[k] is set for such rows and
// for rows with a null key when skipNulls is true. It returns the number of rows.
func (k *KeyEncoder) Encode(vecs []*coldata.Vec, sel []int32, n int, insert, skipNulls bool, out []uint64, unmatchable []bool) int {
	rows := n
	if sel != nil {
		rows = len(sel)
	}
	W := k.W
	out = out[:rows*W]
	clear(out)
	if unmatchable != nil {
		clear(unmatchable[:rows])
	}
	for c, v := range vecs {
		p := k.parts[c]
		switch k.Types[c].ID {
		case types.Int64, types.Decimal:
			putWide(out, W, p.word, v.I64, v.Const, sel, rows)
		case types.Float64:
			f := v.F64
			put64 := unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(f))), len(f))
			putWide(out, W, p.word, put64, v.Const, sel, rows)
		case types.Int32, types.Date:
			putNarrow(out, W, p.word, p.shift, v.I32, v.Const, sel, rows)
		case types.Bool:
			for r := 0; r < rows; r++ {
				i := row(sel, r, v.Const)
				if v.Bool[i] {
					out[r*W+p.word] |= 1 << p.shift
				}
			}
		case types.String:
			in := k.Interners[c]
			if v.Dict != nil {
				m := k.remap(c, v.Dict, insert)
				for r := 0; r < rows; r++ {
					i := row(sel, r, v.Const)
					code := m[v.I32[i]]
					if code < 0 {
						unmatchable[r] = true
						continue
					}
					out[r*W+p.word] |= uint64(uint32(code)) << p.shift
				}
			} else {
				for r := 0; r < rows; r++ {
					i := row(sel, r, v.Const)
					if v.IsNull(i) {
						continue
					}
					code := in.Intern(v.Str.Get(i), insert)
					if code < 0 {
						unmatchable[r] = true
						continue
					}
					out[r*W+p.word] |= uint64(uint32(code)) << p.shift
				}
			}
		}
		if v.Nulls != nil {
			for r := 0; r < rows; r++ {
				i := row(sel, r, v.Const)
				if v.Nulls[i] {
					if skipNulls {
						unmatchable[r] = true
					}
					base := r * W
					if p.wide {
						out[base+p.word] = 0
					} else {
						out[base+p.word] &^= 0xFFFFFFFF << p.shift
					}
					if k.nullWord >= 0 {
						out[base+k.nullWord] |= 1 << uint(c)
					}
				}
			}
		}
	}
	return rows
}

func row(sel []int32, r int, c bool) int {
	if c {
		return 0
	}
	if sel != nil {
		return int(sel[r])
	}
	return r
}

func putWide(out []uint64, W, word int, v []int64, c bool, sel []int32, rows int) {
	if c {
		x := uint64(v[0])
		for r := 0; r < rows; r++ {
			out[r*W+word] = x
		}
		return
	}
	if W == 1 {
		if sel == nil {
			for r, x := range v[:rows] {
				out[r] = uint64(x)
			}
			return
		}
		for r, i := range sel {
			out[r] = uint64(v[i])
		}
		return
	}
	if sel == nil {
		for r := 0; r < rows; r++ {
			out[r*W+word] = uint64(v[r])
		}
		return
	}
	for r, i := range sel {
		out[r*W+word] = uint64(v[i])
	}
}

func putNarrow(out []uint64, W, word int, shift uint, v []int32, c bool, sel []int32, rows int) {
	if c {
		x := uint64(uint32(v[0])) << shift
		for r := 0; r < rows; r++ {
			out[r*W+word] |= x
		}
		return
	}
	if sel == nil {
		for r := 0; r < rows; r++ {
			out[r*W+word] |= uint64(uint32(v[r])) << shift
		}
		return
	}
	for r, i := range sel {
		out[r*W+word] |= uint64(uint32(v[i])) << shift
	}
}

// Decode rebuilds key column c for ids from the packed keys.
func (k *KeyEncoder) Decode(c int, keys []uint64, ids []int32) *coldata.Vec {
	t := k.Types[c]
	p := k.parts[c]
	W := k.W
	n := len(ids)
	v := coldata.NewVec(t, n)
	if k.nullWord >= 0 {
		for r, id := range ids {
			if keys[int(id)*W+k.nullWord]&(1<<uint(c)) != 0 {
				if v.Nulls == nil {
					v.Nulls = make([]bool, n)
				}
				v.Nulls[r] = true
			}
		}
	}
	for r, id := range ids {
		w := keys[int(id)*W+p.word]
		switch t.ID {
		case types.Int64, types.Decimal:
			v.I64[r] = int64(w)
		case types.Float64:
			v.F64[r] = *(*float64)(unsafe.Pointer(&w))
		case types.Int32, types.Date:
			v.I32[r] = int32(uint32(w >> p.shift))
		case types.Bool:
			v.Bool[r] = (w>>p.shift)&1 != 0
		}
	}
	if t.ID == types.String {
		in := k.Interners[c]
		v.Str = coldata.Strings{}
		v.I32 = make([]int32, n)
		for r, id := range ids {
			v.I32[r] = int32(uint32(keys[int(id)*W+p.word] >> p.shift))
		}
		if k.decoded == nil {
			k.decoded = make([]*coldata.Strings, len(k.Types))
		}
		if d := k.decoded[c]; d == nil || d.Len() != in.Vals.Len() {
			vals := in.Vals
			k.decoded[c] = &vals
		}
		v.Dict = k.decoded[c]
	}
	return v
}

// Table maps packed keys to dense ids (0, 1, 2, … in insertion order).
type Table struct {
	// direct, when set, maps key-directMin to id+1 (0 = absent) for a
	// single integer key of small range: a probe is one array load.
	direct    []int32
	directMin int64
	directI32 bool
	// bloom, when set, holds three bits of each key's hash in one word
	// (BuildBloom): a probe that misses them is answered without reading
	// the slots and keys.
	bloom      []uint64
	bloomShift uint
	W          int
	Keys       []uint64 // id's key at Keys[id*W:(id+1)*W]
	slots      []int32  // id+1, 0 when empty
	shift      uint
	n          int
}

// NewTable returns a table for W-word keys sized for about hint keys.
func NewTable(W, hint int) *Table {
	t := &Table{W: W}
	size := 64
	for size < hint*2 {
		size <<= 1
	}
	t.alloc(size)
	t.Keys = make([]uint64, 0, hint*W)
	return t
}

func (t *Table) alloc(size int) {
	t.slots = make([]int32, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
}

// Len is the number of distinct keys.
func (t *Table) Len() int { return t.n }

// Bytes is the approximate memory held by the table.
func (t *Table) Bytes() int64 {
	return int64(len(t.slots))*4 + int64(cap(t.Keys))*8 + int64(len(t.bloom))*8
}

// bloomMinKeys is the size from which a table of single-word keys gets a
// filter: below it, the slots and keys (at least 12 bytes a key, 24 with
// the slack of the slots) mostly stay in the core's cache, and the filter
// would cost a probe more than it saves.
const bloomMinKeys = 32 << 10

// BuildBloom adds a filter of the keys to a finished table of single-word
// keys without a direct index, of bloomMinKeys keys or more (it reports
// whether it did): a word of 64 bits per 8 keys (256 KiB for 256k keys,
// which stays in the cache), three bits of each key's hash set in the word
// its top bits choose. A probe then reads one word, and goes on to the
// slots and keys, two cache misses in a large table, only where all three
// bits are set: for every key in the table, and about 3% of the others.
// A join that keeps few of its probe rows (TPC-H Q5 probes 1.2M rows into
// a year's 227k orders and keeps 15%) is answered mostly from the filter.
func (t *Table) BuildBloom() bool {
	if t.W != 1 || t.direct != nil || t.n < bloomMinKeys {
		return false
	}
	words := 1
	for words*8 < t.n {
		words <<= 1
	}
	t.bloom = make([]uint64, words)
	t.bloomShift = uint(64 - bits.TrailingZeros(uint(words)))
	for _, k := range t.Keys[:t.n] {
		h := hash1(k)
		t.bloom[h>>t.bloomShift] |= bloomBits(h)
	}
	return true
}

// bloomBits are a hash's three bits in its filter word: from bits 20 to 37
// of the hash, below those that choose the word (the top 24 at most).
func bloomBits(h uint64) uint64 {
	return 1<<(h>>20&63) | 1<<(h>>26&63) | 1<<(h>>32&63)
}

const mul = 0x9E3779B97F4A7C15

func hash1(k uint64) uint64 {
	k ^= k >> 31
	return k * mul
}

// Hash hashes one packed key.
func Hash(key []uint64) uint64 {
	h := uint64(len(key))
	for _, w := range key {
		h = bits.RotateLeft64(h^hash1(w), 27) * mul
	}
	return h ^ h>>29
}

// Spread lowers the load of a small table, done growing, to at most 1/8
// (up to 2^15 slots, 128 KiB: a larger table would leave the cache, which
// costs probes more than the collisions saved): a probe that misses, as most do in a
// selective join (6 M lineitems probing 1,300 parts in TPC-H Q8), then
// mostly reads one empty slot instead of walking a run of full ones.
func (t *Table) Spread() {
	if t.direct != nil {
		return
	}
	for len(t.slots) < 8*t.n && len(t.slots) < 1<<15 {
		t.grow()
	}
}

func (t *Table) grow() {
	old := t.slots
	t.alloc(len(old) * 2)
	mask := len(t.slots) - 1
	W := t.W
	for id := 0; id < t.n; id++ {
		var h uint64
		if W == 1 {
			h = hash1(t.Keys[id])
		} else {
			h = Hash(t.Keys[id*W : id*W+W])
		}
		s := int(h >> t.shift)
		for t.slots[s] != 0 {
			s = (s + 1) & mask
		}
		t.slots[s] = int32(id + 1)
	}
}

// FindOrInsert sets ids[r] to the id of key r (inserting new keys) for rows keys.
func (t *Table) FindOrInsert(keys []uint64, rows int, ids []int32) {
	W := t.W
	if W == 1 {
		for r := 0; r < rows; r++ {
			if (t.n+1)*2 > len(t.slots) {
				t.grow()
			}
			k := keys[r]
			mask := len(t.slots) - 1
			s := int(hash1(k) >> t.shift)
			for {
				id := t.slots[s]
				if id == 0 {
					t.Keys = append(t.Keys, k)
					t.slots[s] = int32(t.n + 1)
					ids[r] = int32(t.n)
					t.n++
					break
				}
				if t.Keys[id-1] == k {
					ids[r] = id - 1
					break
				}
				s = (s + 1) & mask
			}
		}
		return
	}
	for r := 0; r < rows; r++ {
		if (t.n+1)*2 > len(t.slots) {
			t.grow()
		}
		key := keys[r*W : r*W+W]
		mask := len(t.slots) - 1
		s := int(Hash(key) >> t.shift)
		for {
			id := t.slots[s]
			if id == 0 {
				t.Keys = append(t.Keys, key...)
				t.slots[s] = int32(t.n + 1)
				ids[r] = int32(t.n)
				t.n++
				break
			}
			if eqKey(t.Keys[int(id-1)*W:int(id)*W], key) {
				ids[r] = id - 1
				break
			}
			s = (s + 1) & mask
		}
	}
}

func eqKey(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Find sets ids[r] to the id of key r, or -1 when absent or skip[r] is set.
func (t *Table) Find(keys []uint64, rows int, skip []bool, ids []int32) {
	W := t.W
	mask := len(t.slots) - 1
	for r := 0; r < rows; r++ {
		if skip != nil && skip[r] {
			ids[r] = -1
			continue
		}
		if W == 1 {
			k := keys[r]
			s := int(hash1(k) >> t.shift)
			for {
				id := t.slots[s]
				if id == 0 {
					ids[r] = -1
					break
				}
				if t.Keys[id-1] == k {
					ids[r] = id - 1
					break
				}
				s = (s + 1) & mask
			}
			continue
		}
		key := keys[r*W : r*W+W]
		s := int(Hash(key) >> t.shift)
		for {
			id := t.slots[s]
			if id == 0 {
				ids[r] = -1
				break
			}
			if eqKey(t.Keys[int(id-1)*W:int(id)*W], key) {
				ids[r] = id - 1
				break
			}
			s = (s + 1) & mask
		}
	}
}

// HashRow hashes row r of packed keys with W words per row.
func HashRow(keys []uint64, W, r int) uint64 {
	if W == 1 {
		return hash1(keys[r])
	}
	return Hash(keys[r*W : r*W+W])
}

// FindInt32 looks up single int32 keys (a W = 1 table of int32 keys) for the
// live rows of vals (sel, or the first n), without packing them first.
func (t *Table) FindInt32(vals []int32, sel []int32, n int, ids []int32) {
	if t.direct != nil && t.directI32 {
		d, lo := t.direct, t.directMin
		span := uint64(len(d))
		if sel == nil {
			for r, x := range vals[:n] {
				o := uint64(int64(x) - lo)
				if o < span {
					ids[r] = d[o] - 1
				} else {
					ids[r] = -1
				}
			}
			return
		}
		for r, i := range sel {
			o := uint64(int64(vals[i]) - lo)
			if o < span {
				ids[r] = d[o] - 1
			} else {
				ids[r] = -1
			}
		}
		return
	}
	findSingle(t, vals, sel, n, ids)
}

// FindInt64 is FindInt32 for int64 (and decimal) keys.
func (t *Table) FindInt64(vals []int64, sel []int32, n int, ids []int32) {
	if t.direct != nil && !t.directI32 {
		d, lo := t.direct, t.directMin
		span := uint64(len(d))
		if sel == nil {
			for r, x := range vals[:n] {
				o := uint64(x - lo)
				if o < span {
					ids[r] = d[o] - 1
				} else {
					ids[r] = -1
				}
			}
			return
		}
		for r, i := range sel {
			o := uint64(vals[i] - lo)
			if o < span {
				ids[r] = d[o] - 1
			} else {
				ids[r] = -1
			}
		}
		return
	}
	findSingle(t, vals, sel, n, ids)
}

// findSingle looks up single-word keys (int32 ones as their uint32) for
// the live rows of vals, through the filter when the table has one.
func findSingle[T int32 | int64](t *Table, vals []T, sel []int32, n int, ids []int32) {
	mask := len(t.slots) - 1
	slots, keys, shift := t.slots, t.Keys, t.shift
	bloom, bs := t.bloom, t.bloomShift
	find := func(x T) int32 {
		k := uint64(x)
		if unsafe.Sizeof(x) == 4 {
			k = uint64(uint32(x))
		}
		h := hash1(k)
		if bloom != nil {
			if b := bloomBits(h); bloom[h>>bs]&b != b {
				return -1
			}
		}
		s := int(h >> shift)
		for {
			id := slots[s]
			if id == 0 || keys[id-1] == k {
				return id - 1
			}
			s = (s + 1) & mask
		}
	}
	if sel == nil {
		for r, x := range vals[:n] {
			ids[r] = find(x)
		}
		return
	}
	for r, i := range sel {
		ids[r] = find(vals[i])
	}
}

// BuildDirect adds a direct-address index for a finished table of single
// integer keys (int32 keys when i32) whose range is small: at most
// 4 × keys + 65536 slots and at most 1<<26. It reports whether it did.
func (t *Table) BuildDirect(i32 bool) bool {
	if t.W != 1 || t.n == 0 {
		return false
	}
	lo, hi := int64(1<<62), int64(-1<<62)
	for _, k := range t.Keys {
		v := int64(k)
		if i32 {
			v = int64(int32(uint32(k)))
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	span := hi - lo + 1
	if span <= 0 || span > int64(4*t.n+65536) || span > 1<<26 {
		return false
	}
	d := make([]int32, span)
	for id, k := range t.Keys {
		v := int64(k)
		if i32 {
			v = int64(int32(uint32(k)))
		}
		d[v-lo] = int32(id + 1)
	}
	t.direct, t.directMin, t.directI32 = d, lo, i32
	return true
}
