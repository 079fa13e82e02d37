package dbgen

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"strings"
	"sync"
)

// The TPC-H tables, by the names of their files (<name>.tbl).
const (
	Customer = "customer"
	Lineitem = "lineitem"
	Nation   = "nation"
	Orders   = "orders"
	Part     = "part"
	PartSupp = "partsupp"
	Region   = "region"
	Supplier = "supplier"
)

// ErrUnknownTable is returned (wrapped) for a table name that is not one of
// Tables().
var ErrUnknownTable = errors.New("unknown TPC-H table")

// tableID indexes the tables in the order of Tables().
type tableID int

const (
	tCustomer tableID = iota
	tLineitem
	tNation
	tOrders
	tPart
	tPartSupp
	tRegion
	tSupplier
	numTables
)

var tableNames = [numTables]string{Customer, Lineitem, Nation, Orders, Part, PartSupp, Region, Supplier}

func (t tableID) String() string { return tableNames[t] }

// Tables returns the names of the eight TPC-H tables in alphabetical order.
func Tables() []string {
	return append([]string(nil), tableNames[:]...)
}

func lookupTable(name string) (tableID, error) {
	for i, n := range tableNames {
		if n == name {
			return tableID(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q; the tables are %s", ErrUnknownTable, name, strings.Join(tableNames[:], ", "))
}

// group is a set of tables dbgen generates together from one sequence of
// "driving" rows: a part row yields a part and its four partsupp rows, an
// order row yields an order and its one to seven lineitems. Chunks are
// ranges of driving rows.
type group int

const (
	gOrders group = iota // orders (primary) and lineitem (secondary)
	gPart                // part (primary) and partsupp (secondary)
	gCustomer
	gSupplier
	gNation
	gRegion
	numGroups
)

// tableGroup returns t's group and whether t is the group's secondary table.
func tableGroup(t tableID) (group, bool) {
	switch t {
	case tOrders:
		return gOrders, false
	case tLineitem:
		return gOrders, true
	case tPart:
		return gPart, false
	case tPartSupp:
		return gPart, true
	case tCustomer:
		return gCustomer, false
	case tSupplier:
		return gSupplier, false
	case tNation:
		return gNation, false
	default:
		return gRegion, false
	}
}

// groupTables returns the primary and the secondary table of g (the
// secondary is -1 for single-table groups).
func groupTables(g group) (tableID, tableID) {
	switch g {
	case gOrders:
		return tOrders, tLineitem
	case gPart:
		return tPart, tPartSupp
	case gCustomer:
		return tCustomer, -1
	case gSupplier:
		return tSupplier, -1
	case gNation:
		return tNation, -1
	default:
		return tRegion, -1
	}
}

// drivingRows is the number of driving rows of g at scale sc.
func (sc scaling) drivingRows(g group) int64 {
	switch g {
	case gOrders:
		return sc.orders
	case gPart:
		return sc.parts
	case gCustomer:
		return sc.customers
	case gSupplier:
		return sc.suppliers
	case gNation:
		return nationCount
	default:
		return regionCount
	}
}

// RowCount returns the number of rows dbgen writes for table at scale factor
// sf. Every count but lineitem's is a formula; lineitem's is the sum of the
// drawn number of lines of every order, which takes a pass over one random
// stream (a few milliseconds per scale factor unit).
func RowCount(table string, sf float64) (int64, error) {
	t, err := lookupTable(table)
	if err != nil {
		return 0, err
	}
	sc, err := newScaling(sf)
	if err != nil {
		return 0, err
	}
	return sc.rowCount(t, runtime.GOMAXPROCS(0)), nil
}

// rowCount returns the rows of table t; lineitem's are counted with up to
// workers goroutines.
func (sc scaling) rowCount(t tableID, workers int) int64 {
	switch t {
	case tLineitem:
		return countAllLineitems(sc.orders, workers)
	case tPartSupp:
		return sc.parts * suppPerPart
	}
	g, _ := tableGroup(t)
	return sc.drivingRows(g)
}

// countLineitems returns the number of lineitems of n orders from order row
// first on.
func countLineitems(first, n int64) int64 {
	s := newRowStream(sdOrdLines, first)
	var total int64
	for range n {
		total += s.unif(1, maxLinesPerOrder)
		s.finishRow()
	}
	return total
}

// countAllLineitems counts the lineitems of all orders, in parallel when
// there are many (each part of the orders skips its stream ahead).
func countAllLineitems(orders int64, workers int) int64 {
	parts := 1
	if orders > 10_000_000 {
		parts = max(workers, 1)
	}
	counts := make([]int64, parts)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() {
			counts[i] = countLineitems(chunkRange(orders, i, parts))
		})
	}
	wg.Wait()
	var total int64
	for _, c := range counts {
		total += c
	}
	return total
}

// chunkRange returns the driving rows of chunk (0-based) of chunks: the
// 1-based first row and the number of rows. The chunks of a group partition
// its rows in order, so their outputs concatenated are the whole table.
func chunkRange(total int64, chunk, chunks int) (first, n int64) {
	lo := mulDiv(total, int64(chunk), int64(chunks))
	hi := mulDiv(total, int64(chunk+1), int64(chunks))
	return lo + 1, hi - lo
}

// mulDiv returns a·b/c for non-negative a, b ≤ c, without overflow.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c)) // hi < c because b ≤ c
	return int64(q)
}
