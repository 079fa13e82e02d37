package dbgen

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Constants of the TPC-H data set (dbgen's dss.h).
const (
	suppPerPart      = 4  // partsupp rows per part
	maxLinesPerOrder = 7  // lineitems per order are uniform in [1, 7]
	custMortality    = 3  // every third customer places no orders
	nationsMax       = 90 // phone country codes are 10 + nation % 90

	basePart     = 200000
	baseSupplier = 10000
	baseCustomer = 150000
	baseOrders   = 1500000 // 10 orders per customer
	nationCount  = 25
	regionCount  = 5

	// maxScale is the first scale factor dbgen generates with its 64-bit
	// random number generator for o_custkey and l_partkey; see newScaling.
	maxScale = 30000
)

// ErrScaleFactor is returned (wrapped) for a scale factor the generator
// cannot produce.
var ErrScaleFactor = errors.New("invalid TPC-H scale factor")

// scaling holds the row counts dbgen derives from a scale factor.
type scaling struct {
	sf    float64
	scale int64 // dbgen's integer `scale`: 1 below SF 1, else SF truncated
	// Row counts of the scaled tables (partsupp and lineitem follow from
	// part and orders).
	parts, suppliers, customers, orders int64

	suppDiv divisor32 // divides by suppliers when it fits in 32 bits
}

// newScaling reproduces dbgen's handling of -s (driver.c): below 1 the
// scale factor is taken in thousandths, (int)(1000·SF), and each table's base
// row count is multiplied by that and divided by 1000 (at least one row);
// from 1 up the scale factor is truncated to an integer, so SF 2.5 generates
// the same data as SF 2. Nation and region never scale.
func newScaling(sf float64) (scaling, error) {
	switch {
	case math.IsNaN(sf) || math.IsInf(sf, 0):
		return scaling{}, fmt.Errorf("%w: %v; use a positive number such as 0.1, 1 or 10", ErrScaleFactor, sf)
	case sf <= 0:
		return scaling{}, fmt.Errorf("%w: %v; the scale factor must be greater than 0 (for example 0.01, 1 or 10)", ErrScaleFactor, sf)
	case sf >= maxScale:
		return scaling{}, fmt.Errorf("%w: %v; scale factors of %d and above are not supported (dbgen switches to a 64-bit generator there whose sequence cannot be split into chunks); use a smaller scale factor", ErrScaleFactor, sf, maxScale)
	}
	s := scaling{sf: sf}
	if sf < 1 {
		thousandths := int64(int32(1000 * sf)) // dbgen: (int)(1000 * flt_scale)
		scaled := func(base int64) int64 { return max(thousandths*base/1000, 1) }
		s.scale = 1
		s.parts, s.suppliers, s.customers, s.orders =
			scaled(basePart), scaled(baseSupplier), scaled(baseCustomer), scaled(baseOrders)
		s.suppDiv = newDivisor32(uint32(s.suppliers))
		return s, nil
	}
	s.scale = int64(sf)
	s.parts, s.suppliers, s.customers, s.orders =
		basePart*s.scale, baseSupplier*s.scale, baseCustomer*s.scale, baseOrders*s.scale
	if s.suppliers < 1<<31 {
		s.suppDiv = newDivisor32(uint32(s.suppliers))
	}
	return s, nil
}

// clerks is the number of distinct o_clerk values: 1000 per unit of dbgen's
// integer scale, at least 1000.
func (s scaling) clerks() int64 { return max(s.scale*1000, 1000) }

// partSupplier is dbgen's PART_SUPP_BRIDGE: the i-th (0..3) supplier of a
// part, spread so that a part's four suppliers are far apart.
func (s *scaling) partSupplier(part, i int64) int64 {
	n := s.suppliers
	if s.suppDiv.d != 0 && part <= 1<<31 {
		// Below SF 10000 every operand fits in 32 bits: divide by
		// multiplying (a lineitem needs two divisions by the supplier count).
		q := n/suppPerPart + int64(s.suppDiv.div(uint32(part-1)))
		return int64(s.suppDiv.mod(uint32(part+i*q))) + 1
	}
	return (part+i*(n/suppPerPart+(part-1)/n))%n + 1
}

// divisor32 divides 32-bit numbers by a fixed 32-bit divisor d with
// multiplications (Lemire, Kaser and Kurz, "Faster remainder by direct
// computation", 2019): exact for every numerator.
type divisor32 struct {
	d uint64
	m uint64 // ⌈2⁶⁴ / d⌉
}

func newDivisor32(d uint32) divisor32 {
	if d < 2 {
		return divisor32{} // not worth it; callers divide directly
	}
	return divisor32{d: uint64(d), m: ^uint64(0)/uint64(d) + 1}
}

func (v divisor32) div(a uint32) uint32 {
	hi, _ := bits.Mul64(v.m, uint64(a))
	return uint32(hi)
}

func (v divisor32) mod(a uint32) uint32 {
	hi, _ := bits.Mul64(v.m*uint64(a), v.d)
	return uint32(hi)
}

// retailPrice is dbgen's rpb_routine: a part's retail price in cents.
func retailPrice(part int64) int64 {
	return 90000 + (part/10)%20001 + (part%1000)*100
}
