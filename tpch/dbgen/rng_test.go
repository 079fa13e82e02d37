package dbgen

import (
	"math/rand/v2"
	"testing"
)

func TestMulMod(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := [][2]int64{{1, 1}, {rngModulus - 1, rngModulus - 1}, {rngModulus - 1, rngMultiplier}, {1, rngModulus - 1}}
	for range 100000 {
		cases = append(cases, [2]int64{1 + r.Int64N(rngModulus-1), 1 + r.Int64N(rngModulus-1)})
	}
	for _, c := range cases {
		if got, want := mulMod(c[0], c[1]), c[0]*c[1]%rngModulus; got != want {
			t.Fatalf("mulMod(%d, %d) = %d, want %d", c[0], c[1], got, want)
		}
	}
}

// dbgenNthElement is dbgen's NthElement, as written in speed_seed.c.
func dbgenNthElement(n, seed int64) int64 {
	mult := int64(rngMultiplier)
	for n > 0 {
		if n%2 != 0 {
			seed = (mult * seed) % rngModulus
		}
		n /= 2
		mult = (mult * mult) % rngModulus
	}
	return seed
}

func TestSkipAhead(t *testing.T) {
	for _, n := range []int64{0, 1, 2, 7, 92, 1000, 123456, 6001215 * 14, 1 << 40} {
		if got, want := mulMod(12345, powMod(n)), dbgenNthElement(n, 12345); got != want {
			t.Errorf("skipping %d draws: got seed %d, dbgen's NthElement gives %d", n, got, want)
		}
	}
	// Stepping draw by draw and skipping agree.
	s := stream{seed: sdLineCmnt.seed}
	for range 5000 {
		s.next()
	}
	if got := mulMod(sdLineCmnt.seed, powMod(5000)); got != s.seed {
		t.Errorf("5000 draws then %d, skip gives %d", s.seed, got)
	}
}

// TestRowStream checks that starting at a row equals generating the rows
// before it, whatever each row used of its boundary.
func TestRowStream(t *testing.T) {
	for _, spec := range []streamSpec{sdCustAddr, sdLineQty, sdPartName, sdOrdDate} {
		seq := newRowStream(spec, 1)
		r := rand.New(rand.NewPCG(3, 4))
		for row := int64(1); row <= 300; row++ {
			jumped := newRowStream(spec, row)
			if jumped.seed != seq.seed {
				t.Fatalf("stream %d: row %d starts at %d after sequential rows, %d by skipping", spec.seed, row, seq.seed, jumped.seed)
			}
			for range r.Int64N(spec.boundary + 1) {
				seq.next()
			}
			seq.finishRow()
		}
	}
}

func TestUnif(t *testing.T) {
	// By hand from dbgen's UnifInt: the first draw of stream P_MFG_SD
	// (seed 1) is 16807, and 1 + (long)(16807 / 2147483647.0 * 5) = 1; the
	// second is 282475249: 1 + (long)(0.1315 * 5) = 1; the third
	// 1622650073: 1 + (long)(0.7556 * 5) = 4.
	s := stream{seed: 1}
	for i, want := range []int64{1, 1, 4} {
		if got := s.unif(1, 5); got != want {
			t.Fatalf("draw %d: unif(1, 5) = %d, want %d", i+1, got, want)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		lo := r.Int64N(1000) - 500
		hi := lo + r.Int64N(1<<31-1)
		v := s.unif(lo, hi)
		if v < lo || v > hi {
			t.Fatalf("unif(%d, %d) = %d, out of range", lo, hi, v)
		}
		if a := s.unifAlnum(); a > 0 || a < -(1<<31) {
			t.Fatalf("unifAlnum = %d, want a value in [-2^31, 0]", a)
		}
	}
}
