package dataframe_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/shoal-dev/shoal/dataframe"
)

// order is a row type as a user writes one: names by tag or by field name
// (any case), a date, a decimal as float and as text, NULLs into pointers.
type order struct {
	ID       int64 `parquet:"o_id"`
	Customer string
	Day      time.Time `parquet:"o_day"`
	Total    float64   `parquet:"total"`
	TotalTxt string    `parquet:"total_text"`
	Note     *string
	Skipped  string `parquet:"-"`
}

// Scan fills structs from random results, against the values as Go made
// them, across batch sizes and parallelism.
func TestScanRandom(t *testing.T) {
	rng := newRNG(t)
	cat := NewCatalog()
	ctx := context.Background()
	if _, err := cat.Exec(ctx, "create table t (o_id bigint, customer text, o_day date, total decimal(12,2), note text)"); err != nil {
		t.Fatal(err)
	}
	type row struct {
		id    int64
		cust  string
		day   time.Time
		cents int64
		note  *string
	}
	var want []row
	var values []string
	for i := range 1 + rng.IntN(400) {
		r := row{id: int64(i), cust: fmt.Sprintf("c%d", rng.IntN(9)), day: time.Date(1990+rng.IntN(10), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC),
			cents: rng.Int64N(1_000_000) - 500_000}
		note := "NULL"
		if rng.IntN(3) > 0 {
			s := fmt.Sprintf("n'%d", i)
			r.note, note = &s, "'"+strings.ReplaceAll(s, "'", "''")+"'"
		}
		want = append(want, r)
		values = append(values, fmt.Sprintf("(%d, '%s', date '%s', %d.%02d, %s)", r.id, r.cust, r.day.Format("2006-01-02"), r.cents/100, abs(r.cents%100), note))
		if r.cents < 0 && r.cents > -100 {
			values[len(values)-1] = fmt.Sprintf("(%d, '%s', date '%s', -0.%02d, %s)", r.id, r.cust, r.day.Format("2006-01-02"), -r.cents, note)
		}
	}
	if _, err := cat.Exec(ctx, "insert into t values "+strings.Join(values, ", ")); err != nil {
		t.Fatal(err)
	}
	df, err := cat.SQL(ctx, "select o_id, customer, o_day, total, cast(total as text) as total_text, note, 1 as extra from t order by o_id")
	if err != nil {
		t.Fatal(err)
	}
	res, err := df.Collect(ctx, randomOpts(rng)...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Scan[order](res)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		text := FormatValue(Value{T: Decimal(12, 2), I: w.cents})
		if g.ID != w.id || g.Customer != w.cust || !g.Day.Equal(w.day) || g.Total != float64(w.cents)/100 || g.TotalTxt != text ||
			(g.Note == nil) != (w.note == nil) || (g.Note != nil && *g.Note != *w.note) {
			t.Fatalf("row %d: %+v, want %+v (total text %s)", i, g, w, text)
		}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// What cannot be scanned says why.
func TestScanErrors(t *testing.T) {
	cat := NewCatalog()
	ctx := context.Background()
	res := func(q string) *Result {
		df, err := cat.SQL(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		r, err := df.Collect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	type missing struct{ Custmer string }
	type notNull struct{ N int64 }
	type wrongType struct{ S int64 }
	type small struct{ N int8 }
	for _, c := range []struct {
		err  error
		want string
	}{
		{second(Scan[missing](res("select 'a' as customer"))), `no column "Custmer" for field Custmer; did you mean "customer"?`},
		{second(Scan[notNull](res("select cast(null as bigint) as n"))), "null in a field that is not a pointer"},
		{second(Scan[wrongType](res("select 'x' as s"))), `column "s" (utf8) does not fit field S (int64)`},
		{second(Scan[small](res("select 300 as n"))), "value 300 does not fit int8"},
		{second(Scan[int](res("select 1 as n"))), "rows must be structs, not int"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%v, want an error with %q", c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }
