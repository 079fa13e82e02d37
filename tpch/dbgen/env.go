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

// appendComment appends a comment drawn from s: an offset into the pool and
// a length (dbgen's dbg_text after the pool is built).
func (e *genEnv) appendComment(b []byte, s *stream, t textSpec) []byte {
	off := s.unif(0, textPoolSize-t.max)
	n := s.unif(t.min, t.max)
	return append(b, e.pool[off:off+n]...)
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
