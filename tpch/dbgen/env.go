package dbgen

import "sync"

// genEnv is what every row generator reads: the text pool, the
// distributions and the date texts. It is built once per process and never
// changes.
type genEnv struct {
	pool  []byte
	dists *specDists
	dates *dateText
}

var sharedEnv = sync.OnceValues(func() (*genEnv, error) {
	d, err := loadDists()
	if err != nil {
		return nil, err
	}
	p, err := sharedTextPool()
	if err != nil {
		return nil, err
	}
	return &genEnv{pool: p.text, dists: d, dates: newDateText()}, nil
})

// textSpec is the length range of a text column: dbgen draws lengths in
// [(int)(0.4·avg), (int)(1.6·avg)] (V_STR_LOW, V_STR_HGH) for both its
// random-character strings (V_STR) and its pool text (TEXT).
type textSpec struct{ min, max int64 }

func newTextSpec(avg int) textSpec {
	a := float64(avg)
	return textSpec{min: int64(a * 0.4), max: int64(a * 1.6)}
}

// Average lengths of the text columns (dbgen's shared.h).
var (
	textAddress      = newTextSpec(25) // c_address, s_address
	textCustComment  = newTextSpec(73)
	textSuppComment  = newTextSpec(63)
	textPartComment  = newTextSpec(14)
	textPsComment    = newTextSpec(124)
	textOrderComment = newTextSpec(49)
	textLineComment  = newTextSpec(27)
	textNationCmnt   = newTextSpec(72) // n_comment and r_comment
)

// commentReader hands out the comments of a comment stream whose rows use
// all their draws (two per comment: every comment stream but lineitem's),
// so that comment i of a run of rows is simply draws 2i and 2i+1. It draws
// comments a batch ahead of use and prefetches them: comments lie at random
// offsets in 300 MiB, so each is a cache miss, and this way the misses of a
// batch overlap with the work on the batch before.
type commentReader struct {
	s        stream
	t        textSpec
	pool     []byte
	ring     [2 * commentBatch]poolText // two batches: in use, and prefetched
	next     int                        // next comment in ring
	prefetch []int64                    // scratch: offsets to prefetch
}

const commentBatch = 32

func newCommentReader(env *genEnv, spec streamSpec, first int64, t textSpec) *commentReader {
	r := &commentReader{s: newRowStream(spec, first).stream, t: t, pool: env.pool}
	r.fill(0)
	r.fill(commentBatch)
	return r
}

// comment returns the next comment's text.
func (r *commentReader) comment() []byte {
	c := r.ring[r.next]
	r.next++
	switch r.next {
	case commentBatch: // first half used up: refill it, use the second
		r.fill(0)
	case 2 * commentBatch:
		r.fill(commentBatch)
		r.next = 0
	}
	return r.pool[c.off : c.off+c.n]
}

// fill draws the next batch of comments into ring[at:] and prefetches each
// cache line they cover.
func (r *commentReader) fill(at int) {
	r.prefetch = r.prefetch[:0]
	for i := at; i < at+commentBatch; i++ {
		off := r.s.unif(0, textPoolSize-r.t.max)
		n := r.s.unif(r.t.min, r.t.max)
		r.ring[i] = poolText{off, n}
		for p := off; p < off+n; p += 64 {
			r.prefetch = append(r.prefetch, p)
		}
		r.prefetch = append(r.prefetch, off+n-1)
	}
	prefetch(&r.pool[0], r.prefetch)
}

const alphaNumeric = "0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ,"

// appendAlnum appends a string of random characters as dbgen's a_rnd does:
// a length, then one draw per five characters, six bits per character.
func appendAlnum(b []byte, s *stream, t textSpec) []byte {
	n := int(s.unif(t.min, t.max))
	var bits int64
	for i := range n {
		if i%5 == 0 {
			bits = s.unifAlnum()
		}
		b = append(b, alphaNumeric[bits&63])
		bits >>= 6
	}
	return b
}

// appendPhone appends a phone number: the country code follows from the
// nation, the rest is three draws (dbgen's gen_phone).
func appendPhone(b []byte, s *stream, nation int64) []byte {
	area := s.unif(100, 999)
	exchange := s.unif(100, 999)
	number := s.unif(1000, 9999)
	b = appendUintWidth(b, uint64(10+nation%nationsMax), 2)
	b = append(b, '-')
	b = appendUintWidth(b, uint64(area), 3)
	b = append(b, '-')
	b = appendUintWidth(b, uint64(exchange), 3)
	b = append(b, '-')
	return appendUintWidth(b, uint64(number), 4)
}
