package dbgen

import (
	"errors"
	"math"
	"testing"
)

func TestRowCount(t *testing.T) {
	// Row counts of dbgen's output (wc -l of its .tbl files).
	tests := []struct {
		sf   float64
		rows map[string]int64
	}{
		{1, map[string]int64{Customer: 150000, Lineitem: 6001215, Nation: 25, Orders: 1500000, Part: 200000, PartSupp: 800000, Region: 5, Supplier: 10000}},
		{0.1, map[string]int64{Customer: 15000, Lineitem: 600572, Orders: 150000, Part: 20000, PartSupp: 80000, Supplier: 1000}},
		{0.05, map[string]int64{Customer: 7500, Lineitem: 299814, Nation: 25, Orders: 75000, Part: 10000, PartSupp: 40000, Region: 5, Supplier: 500}},
		{0.001, map[string]int64{Customer: 150, Lineitem: 6005, Orders: 1500, Part: 200, PartSupp: 800, Supplier: 10}},
		// Below a thousandth every scaled table keeps one row.
		{0.0001, map[string]int64{Customer: 1, Lineitem: 6, Nation: 25, Orders: 1, Part: 1, PartSupp: 4, Region: 5, Supplier: 1}},
		// Thousandths: (int)(1000 · 0.57) = 570.
		{0.57, map[string]int64{Customer: 85500, Supplier: 5700}},
		// From 1 up the scale factor is truncated.
		{2.5, map[string]int64{Customer: 300000, Supplier: 20000, Part: 400000, Orders: 3000000}},
		// 15 million orders: the lineitems are counted in parallel.
		{10, map[string]int64{Lineitem: 59986052, Orders: 15000000, PartSupp: 8000000}},
	}
	for _, tc := range tests {
		for table, want := range tc.rows {
			got, err := RowCount(table, tc.sf)
			if err != nil {
				t.Fatalf("RowCount(%s, %v): %v", table, tc.sf, err)
			}
			if got != want {
				t.Errorf("RowCount(%s, %v) = %d, want %d", table, tc.sf, got, want)
			}
		}
	}
}

func TestRowCountErrors(t *testing.T) {
	tests := []struct {
		table string
		sf    float64
		want  error
	}{
		{"lineitems", 1, ErrUnknownTable},
		{"", 1, ErrUnknownTable},
		{"LINEITEM", 1, ErrUnknownTable},
		{Lineitem, 0, ErrScaleFactor},
		{Lineitem, -1, ErrScaleFactor},
		{Lineitem, math.NaN(), ErrScaleFactor},
		{Lineitem, math.Inf(1), ErrScaleFactor},
		{Lineitem, 30000, ErrScaleFactor},
	}
	for _, tc := range tests {
		if _, err := RowCount(tc.table, tc.sf); !errors.Is(err, tc.want) {
			t.Errorf("RowCount(%q, %v) error = %v, want %v", tc.table, tc.sf, err, tc.want)
		}
	}
}

func TestTables(t *testing.T) {
	got := Tables()
	want := []string{"customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"}
	if len(got) != len(want) {
		t.Fatalf("Tables() = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Tables() = %v, want %v", got, want)
		}
	}
	got[0] = "changed"
	if Tables()[0] != "customer" {
		t.Fatal("Tables() returns shared state")
	}
}

func TestChunkRange(t *testing.T) {
	for _, total := range []int64{0, 1, 5, 25, 1500000, 44999999999} {
		for _, chunks := range []int{1, 2, 3, 7, 64, 1 << 20} {
			next := int64(1)
			for c := range chunks {
				first, n := chunkRange(total, c, chunks)
				if first != next || n < 0 {
					t.Fatalf("chunk %d/%d of %d rows: first %d n %d, want first %d", c, chunks, total, first, n, next)
				}
				next += n
			}
			if next != total+1 {
				t.Fatalf("%d chunks of %d rows cover %d rows", chunks, total, next-1)
			}
		}
	}
}

// TestPartSupplier compares the division-free supplier key with dbgen's
// PART_SUPP_BRIDGE formula.
func TestPartSupplier(t *testing.T) {
	for _, sf := range []float64{0.0001, 0.001, 0.01, 0.57, 1, 10, 300, 10000, 29999} {
		sc, err := newScaling(sf)
		if err != nil {
			t.Fatal(err)
		}
		n := sc.suppliers
		parts := []int64{1, 2, sc.parts / 2, sc.parts - 1, sc.parts}
		for p := int64(1); p <= sc.parts; p += max(sc.parts/5000, 1) {
			parts = append(parts, p)
		}
		for _, p := range parts {
			if p < 1 {
				continue
			}
			for i := range int64(suppPerPart) {
				want := (p+i*(n/suppPerPart+(p-1)/n))%n + 1
				if got := sc.partSupplier(p, i); got != want {
					t.Fatalf("SF %v part %d supplier %d: got %d, want %d", sf, p, i, got, want)
				}
			}
		}
	}
}

func TestDivisor32(t *testing.T) {
	for _, d := range []uint32{2, 3, 7, 10, 1000, 10000, 123457, 1 << 31, 1<<32 - 1} {
		v := newDivisor32(d)
		for _, a := range []uint32{0, 1, d - 1, d, d + 1, 1<<32 - 1, 1 << 31, 123456789} {
			if v.div(a) != a/d || v.mod(a) != a%d {
				t.Fatalf("%d / %d: got %d rem %d, want %d rem %d", a, d, v.div(a), v.mod(a), a/d, a%d)
			}
		}
	}
}
