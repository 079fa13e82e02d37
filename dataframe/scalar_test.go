package dataframe_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	. "github.com/shoal-dev/shoal/dataframe"
)

// TestScalarFunctions runs the SQL scalar functions through the API on
// Arrow input with nulls.
func TestScalarFunctions(t *testing.T) {
	rows := []row{
		{k: ptr(int32(7)), v: ptr(int64(-7)), d: ptr(int64(250)), s: ptr("Straße"), id: 1},
		{k: nil, v: ptr(int64(10)), d: nil, s: ptr("  beta "), id: 2},
		{k: ptr(int32(-3)), v: nil, d: ptr(int64(-125)), s: nil, id: 3},
	}
	df := toFrame(t, rows, "")
	got := collectStrings(t, df.Select(
		Col("id"),
		Col("v").IntDiv(2).As("q"),
		Col("v").Mod(3).As("m"),
		Col("k").Abs().As("abs"),
		Col("d").Round(1).As("r"),
		Coalesce(Col("k"), Col("v"), -1).As("co"),
		NullIf(Col("v"), 10).As("ni"),
		Greatest(Col("k"), Col("v")).As("gr"),
		Col("s").Upper().As("up"),
		Col("s").Length().As("len"),
		Col("s").Trim().As("tr"),
		Concat(Col("s"), "/", Col("d")).As("cc"),
		Col("s").ILike("%BET%").As("il"),
		Extract("month", Date("1998-12-01").AddDays(int(1))).As("mon"),
		Col("k").Gt(0).And(Col("v").Gt(0)).As("and"),
		Col("k").Gt(0).Or(Col("v").Gt(0)).As("or"),
		Col("d").Cast(String).As("txt"),
	))
	want := []string{
		"1|-3|-1|7|2.5|7|-7|7|STRAßE|6|Straße|Straße/2.50|false|12|false|true|2.50",
		"2|5|1|NULL|NULL|10|NULL|10|  BETA |7|beta|  beta /|true|12|NULL|true|NULL",
		"3|NULL|NULL|3|-1.3|-3|NULL|-3|NULL|NULL|NULL|/-1.25|NULL|12|false|NULL|-1.25",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEvalErrorsThroughCollect(t *testing.T) {
	rows := []row{{k: ptr(int32(1)), v: ptr(int64(0)), s: ptr("x1"), id: 1}, {v: nil, id: 2}}
	df := toFrame(t, rows, "")
	ctx := context.Background()
	for name, c := range map[string]struct {
		df   *DataFrame
		kind error
		msg  string
	}{
		"integer division by zero": {df.Select(Col("k").IntDiv(Col("v"))), ErrDivisionByZero, "division by zero"},
		"modulo by zero":           {df.Select(Col("k").Mod(Col("v"))), ErrDivisionByZero, "division by zero"},
		"text to integer":          {df.Select(Col("s").Cast(Int32)), ErrInvalidText, `invalid input syntax for type integer: "x1"`},
		"square root":              {df.Filter(Col("id").Neg().Sqrt().Gt(0)), ErrInvalidArgument, "square root of a negative number"},
	} {
		_, err := c.df.Collect(ctx)
		var ee *EvalError
		if !errors.Is(err, c.kind) || !errors.As(err, &ee) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %v saying %q", name, err, c.kind, c.msg)
		}
	}
	// Rows a filter removed are not computed: no division by zero.
	res := collectStrings(t, df.Filter(Col("v").Ne(0)).Select(Col("k").IntDiv(Col("v"))))
	if len(res) != 0 {
		t.Errorf("got %v", res)
	}
	if _, err := df.Select(Col("v").Upper()).Collect(ctx); !errors.Is(err, ErrTypeMismatch) || !strings.Contains(err.Error(), "upper needs a string, got int64") {
		t.Errorf("upper of an integer: got %v", err)
	}
}
