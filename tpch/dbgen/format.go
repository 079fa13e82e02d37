package dbgen

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"time"
)

// Formatting of dbgen's text fields by hand: the generator writes about a
// gigabyte per scale factor, so nothing here goes through fmt or strconv.

// The append functions below write with fixed-size stores: b must have room
// (capacity beyond its length) for textRoom more bytes. Row generators make
// room once per row (see makeRoom) instead of checking for every field.
const textRoom = 32

// digitPairs[2k], digitPairs[2k+1] are the two digits of k < 100; padded to
// 256 bytes so that indexing with a byte needs no bounds check.
var digitPairs = func() (t [256]byte) {
	for k := range 100 {
		t[2*k], t[2*k+1] = byte('0'+k/10), byte('0'+k%10)
	}
	return t
}()

var powersOf10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// decimalDigits returns the number of decimal digits of v (1 for 0).
func decimalDigits(v uint64) int {
	// floor(log10(v)) is about floor(log2(v))·1233/4096; one compare fixes it.
	v |= 1 // same digits, and 0 counts as 1
	t := (bits.Len64(v) * 1233) >> 12
	if v < powersOf10[t] {
		return t
	}
	return t + 1
}

// putDigits writes the digits of v into buf so that they end at buf[end-1].
func putDigits(buf *[textRoom]byte, v uint64, end int) {
	i := end
	for v >= 100 {
		q := v / 100
		r := byte(v-q*100) * 2
		i -= 2
		buf[i&(textRoom-1)], buf[(i+1)&(textRoom-1)] = digitPairs[r], digitPairs[r+1]
		v = q
	}
	if v >= 10 {
		r := byte(v) * 2
		buf[(i-2)&(textRoom-1)], buf[(i-1)&(textRoom-1)] = digitPairs[r], digitPairs[r+1]
	} else {
		buf[(i-1)&(textRoom-1)] = byte('0' + v)
	}
}

// zeros is the start of a zero-padded number.
var zeros = [textRoom]byte{'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0',
	'0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'}

// appendUintWidth appends v in decimal, zero-padded to at least width (≤ 20)
// digits: printf's %0*d for v ≥ 0.
func appendUintWidth(b []byte, v uint64, width int) []byte {
	n := max(decimalDigits(v), width)
	if v < 1e8 && n <= 16 {
		// v as eight digits has the leading zeros a width up to 8 needs;
		// wider, up to eight more zeros go in front.
		l := len(b)
		if n <= 8 {
			binary.LittleEndian.PutUint64(b[l:l+8], eightDigits(v, n))
		} else {
			binary.LittleEndian.PutUint64(b[l:l+8], 0x30303030_30303030)
			binary.LittleEndian.PutUint64(b[l+n-8:l+n], eightDigits(v, 8))
		}
		return b[:l+n]
	}
	buf := zeros
	putDigits(&buf, v, n)
	l := len(b)
	*(*[textRoom]byte)(b[l : l+textRoom]) = buf
	return b[:l+n]
}

// digitQuads[k] holds the four ASCII digits of k < 10000, first digit in
// the lowest byte (their order in memory on a little-endian store).
var digitQuads = func() (t [10000]uint32) {
	for k := range t {
		t[k] = uint32('0'+k/1000) | uint32('0'+k/100%10)<<8 | uint32('0'+k/10%10)<<16 | uint32('0'+k%10)<<24
	}
	return t
}()

// eightDigits returns v < 10⁸ as eight ASCII digits with leading zeros
// dropped: the first n bytes of the little-endian word are v's n digits.
func eightDigits(v uint64, n int) uint64 {
	hi, lo := v/10000, v%10000
	x := uint64(digitQuads[hi]) | uint64(digitQuads[lo])<<32
	return x >> ((8 - n) * 8)
}

// shortText is a text of at most 8 bytes stored as one word, for fields
// that take few values (line numbers, quantities, discounts).
type shortText struct {
	b uint64 // the bytes, first in the lowest byte
	n int
}

func newShortText(s string) shortText {
	var b [8]byte
	copy(b[:], s)
	return shortText{b: binary.LittleEndian.Uint64(b[:]), n: len(s)}
}

// appendShort appends t with one store.
func appendShort(b []byte, t shortText) []byte {
	l := len(b)
	binary.LittleEndian.PutUint64(b[l:l+8], t.b)
	return b[:l+t.n]
}

// appendUint appends v in decimal with a single store when v < 10⁸.
func appendUint(b []byte, v uint64) []byte {
	if v >= 1e8 {
		return appendUintWidth(b, v, 1)
	}
	n := decimalDigits(v)
	l := len(b)
	binary.LittleEndian.PutUint64(b[l:l+8], eightDigits(v, n))
	return b[:l+n]
}

// appendInt appends v in decimal (printf's %ld).
func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		return appendUint(b, uint64(-v))
	}
	return appendUint(b, uint64(v))
}

// appendMoney appends an amount in cents as dbgen's DT_MONEY does: an
// optional minus sign, the dollars, a point and two digits of cents.
func appendMoney(b []byte, cents int64) []byte {
	if cents < 0 {
		b = append(b, '-')
		cents = -cents
	}
	dollars := uint64(cents) / 100
	c := byte(uint64(cents)-dollars*100) * 2
	b = appendUint(b, dollars)
	l := len(b)
	binary.LittleEndian.PutUint32(b[l:l+4], uint32('.')|uint32(digitPairs[c])<<8|uint32(digitPairs[c+1])<<16)
	return b[:l+3]
}

// Dates. dbgen numbers days from STARTDATE = 92001 (1992-01-01) over TOTDATE
// = 2557 days (1992 to 1998) and prints them as yyyy-mm-dd.
const (
	startDate  = 92001
	totalDates = 2557
	// currentDateOffset is the day of dbgen's CURRENTDATE (95168: 1995,
	// day 168 = 1995-06-17) counted from 1992-01-01: a lineitem shipped or
	// received on or before it is already shipped or returned.
	currentDateOffset = 366 + 365 + 365 + 167
)

// dateText holds the yyyy-mm-dd text of every day dbgen can generate.
type dateText [totalDates][10]byte

func newDateText() *dateText {
	var t dateText
	base := time.Date(1992, time.January, 1, 0, 0, 0, 0, time.UTC)
	for i := range t {
		copy(t[i][:], base.AddDate(0, 0, i).Format(time.DateOnly))
	}
	return &t
}

// makeRoom makes sure b has room for a row of up to n bytes written with
// the append functions of this file (which store textRoom bytes at a time).
func makeRoom(b []byte, n int) []byte {
	if cap(b)-len(b) < n+textRoom {
		b = slices.Grow(b, max(n+textRoom, cap(b)))
	}
	return b
}

// appendDate appends a date with one fixed-size copy.
func appendDate(b []byte, d *[10]byte) []byte {
	n := len(b)
	b = b[:n+10]
	*(*[10]byte)(b[n:]) = *d
	return b
}

// appendFixed appends t with one fixed-size copy of its padded bytes (the
// padding is overwritten by what follows); b needs room for textRoom bytes.
func appendFixed(b []byte, t *fixedText) []byte {
	n := len(b)
	*(*[textRoom]byte)(b[n : n+textRoom]) = t.b
	return b[:n+t.n]
}
