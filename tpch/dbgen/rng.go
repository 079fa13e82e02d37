package dbgen

// dbgen draws every column from its own Park–Miller "minimal standard"
// generator (x ← 16807·x mod 2³¹−1), called a stream, and after each row it
// moves every stream of the table forward to a fixed per-row boundary
// (row_stop in dbgen's rnd.c). So a stream's state at the start of row r is
// its seed times 16807^((r−1)·boundary): any row of any table can be reached
// by modular exponentiation, which is what dbgen's sd_* functions (used for
// its -C/-S chunks) do and what lets Shoal generate chunks in parallel.

const (
	rngModulus    = 2147483647 // 2³¹−1
	rngMultiplier = 16807
	rngModulusF   = 2147483647.0 // dbgen's dM
)

// mulMod returns a·b mod 2³¹−1 for a, b in [0, 2³¹−1). The product fits in 62
// bits; folding the high bits onto the low ones works because 2³¹ ≡ 1.
func mulMod(a, b int64) int64 {
	p := uint64(a) * uint64(b)
	r := (p & rngModulus) + (p >> 31)
	if r >= rngModulus {
		r -= rngModulus
	}
	return int64(r)
}

// powMod returns 16807^n mod 2³¹−1, the multiplier that advances a stream by
// n draws (dbgen's NthElement).
func powMod(n int64) int64 {
	result, base := int64(1), int64(rngMultiplier)
	for n > 0 {
		if n&1 != 0 {
			result = mulMod(result, base)
		}
		base = mulMod(base, base)
		n >>= 1
	}
	return result
}

// stream is one of dbgen's random number streams positioned within a row.
type stream struct {
	seed int64
}

// next advances the stream by one draw (dbgen's NextRand).
func (s *stream) next() int64 {
	s.seed = mulMod(s.seed, rngMultiplier)
	return s.seed
}

// unif returns an integer in [lo, hi], computed in floating point exactly as
// dbgen's UnifInt does, so that the values (and their rounding) are dbgen's.
func (s *stream) unif(lo, hi int64) int64 {
	v := s.next()
	return lo + int64(float64(v)/rngModulusF*float64(hi-lo+1))
}

// unifAlnum is dbgen's UnifInt(0, MAX_LONG): there the range is computed in
// 32-bit arithmetic, 0x7FFFFFFF+1 overflows to −2³¹, and the result is a
// non-positive number whose low bits a_rnd uses as characters.
func (s *stream) unifAlnum() int64 {
	v := s.next()
	return int64(float64(v) / rngModulusF * -2147483648.0)
}

// streamSpec describes a stream: its initial seed and how many draws a row
// of its table reserves (dbgen's Seed[] table in rnd.h).
type streamSpec struct {
	seed     int64
	boundary int64
}

// rowStream is a stream that knows its row boundary: start() positions it at
// the beginning of the current row and finish() moves to the next row.
type rowStream struct {
	stream
	rowSeed int64 // state at the start of the current row
	perRow  int64 // 16807^boundary mod 2³¹−1
}

// newRowStream returns the stream positioned at the start of row (1-based).
func newRowStream(spec streamSpec, row int64) rowStream {
	start := mulMod(spec.seed, powMod((row-1)*spec.boundary))
	return rowStream{stream: stream{seed: start}, rowSeed: start, perRow: powMod(spec.boundary)}
}

// finishRow moves the stream to the start of the next row, skipping whatever
// the current row did not use (dbgen's row_stop).
func (r *rowStream) finishRow() {
	r.rowSeed = mulMod(r.rowSeed, r.perRow)
	r.seed = r.rowSeed
}

// The streams dbgen uses, by its seed index (dss.h) with seed and boundary
// from rnd.h. Streams that dbgen declares but never draws from (O_SUPP_SD,
// HVAR_SD, P_RCST_SD) are left out: they do not influence any output.
var (
	sdPartMfg    = streamSpec{1, 1}
	sdPartBrand  = streamSpec{46831694, 1}
	sdPartType   = streamSpec{1841581359, 1}
	sdPartSize   = streamSpec{1193163244, 1}
	sdPartCntr   = streamSpec{727633698, 1}
	sdTextPool   = streamSpec{933588178, 1}
	sdPartCmnt   = streamSpec{804159733, 2}
	sdPsQty      = streamSpec{1671059989, suppPerPart}
	sdPsCost     = streamSpec{1051288424, suppPerPart}
	sdPsCmnt     = streamSpec{1961692154, suppPerPart * 2}
	sdOrdClerk   = streamSpec{1171034773, 1}
	sdOrdCmnt    = streamSpec{276090261, 2}
	sdOrdDate    = streamSpec{1066728069, 1}
	sdLineQty    = streamSpec{209208115, maxLinesPerOrder}
	sdLineDisc   = streamSpec{554590007, maxLinesPerOrder}
	sdLineTax    = streamSpec{721958466, maxLinesPerOrder}
	sdLineInstr  = streamSpec{1371272478, maxLinesPerOrder}
	sdLineMode   = streamSpec{675466456, maxLinesPerOrder}
	sdLinePart   = streamSpec{1808217256, maxLinesPerOrder}
	sdLineSupp   = streamSpec{2095021727, maxLinesPerOrder}
	sdLineShip   = streamSpec{1769349045, maxLinesPerOrder}
	sdLineCommit = streamSpec{904914315, maxLinesPerOrder}
	sdLineRecv   = streamSpec{373135028, maxLinesPerOrder}
	sdLineRflag  = streamSpec{717419739, maxLinesPerOrder}
	sdLineCmnt   = streamSpec{1095462486, maxLinesPerOrder * 2}
	sdCustAddr   = streamSpec{881155353, 9}
	sdCustNation = streamSpec{1489529863, 1}
	sdCustPhone  = streamSpec{1521138112, 3}
	sdCustBal    = streamSpec{298370230, 1}
	sdCustSeg    = streamSpec{1140279430, 1}
	sdCustCmnt   = streamSpec{1335826707, 2}
	sdSuppAddr   = streamSpec{706178559, 9}
	sdSuppNation = streamSpec{110356601, 1}
	sdSuppPhone  = streamSpec{884434366, 3}
	sdSuppBal    = streamSpec{962338209, 1}
	sdSuppCmnt   = streamSpec{1341315363, 2}
	sdPartName   = streamSpec{709314158, 92}
	sdOrdPrio    = streamSpec{591449447, 1}
	sdOrdCust    = streamSpec{851767375, 1}
	sdNationCmnt = streamSpec{606179079, 2}
	sdRegionCmnt = streamSpec{1500869201, 2}
	sdOrdLines   = streamSpec{1434868289, 1}
	sdBBBJunk    = streamSpec{263032577, 1}
	sdBBBType    = streamSpec{753643799, 1}
	sdBBBCmnt    = streamSpec{202794285, 1}
	sdBBBOffset  = streamSpec{715851524, 1}
)
