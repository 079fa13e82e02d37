package dbgen

import (
	"slices"
	"time"
)

// Formatting of dbgen's text fields by hand: the generator writes about a
// gigabyte per scale factor, so nothing here goes through fmt or strconv.

const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// decimalDigits returns the number of decimal digits of v ≥ 0.
func decimalDigits(v uint64) int {
	n := 1
	for v >= 10000 {
		v /= 10000
		n += 4
	}
	switch {
	case v >= 1000:
		return n + 3
	case v >= 100:
		return n + 2
	case v >= 10:
		return n + 1
	}
	return n
}

// appendUintWidth appends v in decimal, zero-padded to at least width digits
// (printf's %0*d for v ≥ 0).
func appendUintWidth(b []byte, v uint64, width int) []byte {
	n := max(decimalDigits(v), width)
	start := len(b)
	b = slices.Grow(b, n)[:start+n]
	i := start + n
	for v >= 100 {
		q := v / 100
		r := (v - q*100) * 2
		i -= 2
		b[i], b[i+1] = digitPairs[r], digitPairs[r+1]
		v = q
	}
	if v >= 10 {
		i -= 2
		b[i], b[i+1] = digitPairs[v*2], digitPairs[v*2+1]
	} else {
		i--
		b[i] = byte('0' + v)
	}
	for i > start {
		i--
		b[i] = '0'
	}
	return b
}

// appendInt appends v in decimal (printf's %ld).
func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		return appendUintWidth(b, uint64(-v), 1)
	}
	return appendUintWidth(b, uint64(v), 1)
}

// appendMoney appends an amount in cents as dbgen's DT_MONEY does: an
// optional minus sign, the dollars, a point and two digits of cents.
func appendMoney(b []byte, cents int64) []byte {
	if cents < 0 {
		b = append(b, '-')
		cents = -cents
	}
	dollars := cents / 100
	c := (cents - dollars*100) * 2
	b = appendUintWidth(b, uint64(dollars), 1)
	return append(b, '.', digitPairs[c], digitPairs[c+1])
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
