package dbgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestAppendNumbers(t *testing.T) {
	values := []int64{0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 99999, 123456789, 6000000000, 1<<63 - 1, -1, -99999, -1 << 62}
	for _, p := range powersOf10 {
		if p <= 1<<63-1 {
			values = append(values, int64(p-1), int64(p), int64(p+1))
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 10000 {
		values = append(values, r.Int64()>>r.IntN(63), -r.Int64N(1<<40))
	}
	for _, v := range values {
		if got, want := string(appendInt(makeRoom([]byte("x"), 8), v)), "x"+strconv.FormatInt(v, 10); got != want {
			t.Fatalf("appendInt(%d) = %q, want %q", v, got, want)
		}
		if v >= 0 {
			for _, width := range []int{1, 2, 3, 4, 9} {
				if got, want := string(appendUintWidth(makeRoom(nil, 8), uint64(v), width)), fmt.Sprintf("%0*d", width, v); got != want {
					t.Fatalf("appendUintWidth(%d, %d) = %q, want %q", v, width, got, want)
				}
			}
		}
		if v > -1<<40 && v < 1<<40 {
			// dbgen: optional "-", then "%d.%02d" of the absolute value.
			sign, abs := "", v
			if v < 0 {
				sign, abs = "-", -v
			}
			if got, want := string(appendMoney(makeRoom(nil, 8), v)), fmt.Sprintf("%s%d.%02d", sign, abs/100, abs%100); got != want {
				t.Fatalf("appendMoney(%d) = %q, want %q", v, got, want)
			}
		}
	}
}

// dbgenJulian is dbgen's julian() (bm_utils.c): a day number counted from
// STARTDATE to yyddd.
func dbgenJulian(date int64) int64 {
	leap := func(y int64) int64 {
		if y%4 == 0 && y%100 != 0 {
			return 1
		}
		return 0
	}
	offset, result := date-startDate, int64(startDate)
	for {
		yr := result / 1000
		yend := yr*1000 + 365 + leap(yr)
		if result+offset <= yend {
			return result + offset
		}
		offset -= yend - result + 1
		result += 1000
	}
}

func TestDates(t *testing.T) {
	dates := newDateText()
	for off := range int64(totalDates) {
		// yyddd back to yyyy-mm-dd through the day of the year.
		j := dbgenJulian(startDate + off)
		want := fmt.Sprintf("19%02d-%s", j/1000, dayOfYear(j/1000, j%1000))
		if got := string(dates[off][:]); got != want {
			t.Fatalf("day %d: %q, want %q", off, got, want)
		}
		if shipped := off <= currentDateOffset; shipped != (j <= 95168) {
			t.Fatalf("day %d (%d): before CURRENTDATE = %v, dbgen says %v", off, j, shipped, j <= 95168)
		}
	}
}

func dayOfYear(yy, day int64) string {
	months := []int64{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	if yy%4 == 0 {
		months[1] = 29
	}
	m := 0
	for day > months[m] {
		day -= months[m]
		m++
	}
	return fmt.Sprintf("%02d-%02d", m+1, day)
}

func TestTextSpecs(t *testing.T) {
	// (int)(avg * 0.4) and (int)(avg * 1.6), as dbgen computes them.
	for _, c := range []struct {
		spec     textSpec
		min, max int64
	}{
		{textAddress, 10, 40}, {textCustComment, 29, 116}, {textSuppComment, 25, 100},
		{textPartComment, 5, 22}, {textPsComment, 49, 198}, {textOrderComment, 19, 78},
		{textLineComment, 10, 43}, {textNationCmnt, 28, 115},
	} {
		if c.spec.min != c.min || c.spec.max != c.max {
			t.Errorf("text spec %v, want [%d, %d]", c.spec, c.min, c.max)
		}
	}
}
