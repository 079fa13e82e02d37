package tpch

import (
	"fmt"
	"strconv"

	. "github.com/shoal-dev/shoal/dataframe" //nolint:revive // the queries read like SQL with the builders unqualified
)

// NumQueries is the number of TPC-H queries.
const NumQueries = 22

// Query builds TPC-H query n (1–22) with the specification's qualification
// parameters (../shared/tpch/queries). Correlated subqueries are written as
// the joins and aggregations they decorrelate to, as dataframe programs do.
func Query(db *DB, n int) (*DataFrame, error) {
	if n < 1 || n > NumQueries {
		return nil, fmt.Errorf("no TPC-H query %d (queries are 1 to %d)", n, NumQueries)
	}
	df := queries[n-1](db)
	if err := df.Err(); err != nil {
		return nil, fmt.Errorf("building TPC-H query %d: %w", n, err)
	}
	return df, nil
}

var queries = [NumQueries]func(*DB) *DataFrame{q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11,
	q12, q13, q14, q15, q16, q17, q18, q19, q20, q21, q22}

// revenue is l_extendedprice * (1 - l_discount).
func revenue() Expr { return Col("l_extendedprice").Mul(Lit(1).Sub(Col("l_discount"))) }

func q1(db *DB) *DataFrame {
	disc := revenue()
	return db.Table("lineitem").
		Filter(Col("l_shipdate").Le(Date("1998-12-01").AddDays(-90))).
		GroupBy(Col("l_returnflag"), Col("l_linestatus")).
		Agg(
			Sum(Col("l_quantity")).As("sum_qty"),
			Sum(Col("l_extendedprice")).As("sum_base_price"),
			Sum(disc).As("sum_disc_price"),
			Sum(disc.Mul(Lit(1).Add(Col("l_tax")))).As("sum_charge"),
			Avg(Col("l_quantity")).As("avg_qty"),
			Avg(Col("l_extendedprice")).As("avg_price"),
			Avg(Col("l_discount")).As("avg_disc"),
			CountAll().As("count_order"),
		).
		Sort(Asc("l_returnflag"), Asc("l_linestatus"))
}

func q2(db *DB) *DataFrame {
	europe := db.Table("nation").
		Join(db.Table("region").Filter(Col("r_name").Eq("EUROPE")), Inner, On("n_regionkey", "r_regionkey"))
	supp := db.Table("supplier").Join(europe, Inner, On("s_nationkey", "n_nationkey"))
	// The selective part filter first, then the offers of those parts.
	cand := db.Table("part").
		Filter(Col("p_size").Eq(15).And(Col("p_type").Like("%BRASS"))).
		Join(db.Table("partsupp"), Inner, On("p_partkey", "ps_partkey")).
		Join(supp, Inner, On("ps_suppkey", "s_suppkey"))
	minCost := cand.GroupBy(Col("p_partkey").As("m_partkey")).Agg(Min(Col("ps_supplycost")).As("min_cost"))
	return cand.
		Join(minCost, Inner, OnExprs([]Expr{Col("p_partkey"), Col("ps_supplycost")}, []Expr{Col("m_partkey"), Col("min_cost")})).
		Select(Col("s_acctbal"), Col("s_name"), Col("n_name"), Col("p_partkey"), Col("p_mfgr"),
			Col("s_address"), Col("s_phone"), Col("s_comment")).
		TopK(100, Desc("s_acctbal"), Asc("n_name"), Asc("s_name"), Asc("p_partkey"))
}

func q3(db *DB) *DataFrame {
	cust := db.Table("customer").Filter(Col("c_mktsegment").Eq("BUILDING"))
	ord := db.Table("orders").Filter(Col("o_orderdate").Lt(Date("1995-03-15"))).
		Join(cust, Inner, On("o_custkey", "c_custkey"))
	return db.Table("lineitem").Filter(Col("l_shipdate").Gt(Date("1995-03-15"))).
		Join(ord, Inner, On("l_orderkey", "o_orderkey")).
		GroupBy(Col("l_orderkey"), Col("o_orderdate"), Col("o_shippriority")).
		Agg(Sum(revenue()).As("revenue")).
		Select(Col("l_orderkey"), Col("revenue"), Col("o_orderdate"), Col("o_shippriority")).
		TopK(10, Desc("revenue"), Asc("o_orderdate"))
}

func q4(db *DB) *DataFrame {
	late := db.Table("lineitem").Filter(Col("l_commitdate").Lt(Col("l_receiptdate")))
	return db.Table("orders").
		Filter(Col("o_orderdate").Ge(Date("1993-07-01")).And(Col("o_orderdate").Lt(Date("1993-07-01").AddMonths(3)))).
		Join(late, Semi, On("o_orderkey", "l_orderkey")).
		GroupBy(Col("o_orderpriority")).
		Agg(CountAll().As("order_count")).
		Sort(Asc("o_orderpriority"))
}

func q5(db *DB) *DataFrame {
	asia := db.Table("nation").
		Join(db.Table("region").Filter(Col("r_name").Eq("ASIA")), Inner, On("n_regionkey", "r_regionkey"))
	supp := db.Table("supplier").Join(asia, Inner, On("s_nationkey", "n_nationkey"))
	ord := db.Table("orders").
		Filter(Col("o_orderdate").Ge(Date("1994-01-01")).And(Col("o_orderdate").Lt(Date("1994-01-01").AddYears(1)))).
		Join(db.Table("customer"), Inner, On("o_custkey", "c_custkey"))
	return db.Table("lineitem").
		Join(ord, Inner, On("l_orderkey", "o_orderkey")).
		Join(supp, Inner, On("l_suppkey", "s_suppkey", "c_nationkey", "s_nationkey")).
		GroupBy(Col("n_name")).
		Agg(Sum(revenue()).As("revenue")).
		Sort(Desc("revenue"))
}

func q6(db *DB) *DataFrame {
	return db.Table("lineitem").
		Filter(And(
			Col("l_shipdate").Ge(Date("1994-01-01")),
			Col("l_shipdate").Lt(Date("1994-01-01").AddYears(1)),
			Col("l_discount").Between(Dec("0.06").Sub(Dec("0.01")), Dec("0.06").Add(Dec("0.01"))),
			Col("l_quantity").Lt(24),
		)).
		GroupBy().
		Agg(Sum(Col("l_extendedprice").Mul(Col("l_discount"))).As("revenue"))
}

func q7(db *DB) *DataFrame {
	n1 := db.Table("nation").Select(Col("n_nationkey").As("n1_nationkey"), Col("n_name").As("supp_nation"))
	n2 := db.Table("nation").Select(Col("n_nationkey").As("n2_nationkey"), Col("n_name").As("cust_nation"))
	supp := db.Table("supplier").Join(n1, Inner, On("s_nationkey", "n1_nationkey"))
	cust := db.Table("customer").Join(n2, Inner, On("c_nationkey", "n2_nationkey"))
	return db.Table("lineitem").
		Filter(Col("l_shipdate").Between(Date("1995-01-01"), Date("1996-12-31"))).
		Join(supp, Inner, On("l_suppkey", "s_suppkey")).
		Join(db.Table("orders"), Inner, On("l_orderkey", "o_orderkey")).
		Join(cust, Inner, On("o_custkey", "c_custkey")).
		Filter(Or(
			Col("supp_nation").Eq("FRANCE").And(Col("cust_nation").Eq("GERMANY")),
			Col("supp_nation").Eq("GERMANY").And(Col("cust_nation").Eq("FRANCE")),
		)).
		Select(Col("supp_nation"), Col("cust_nation"), Col("l_shipdate").Year().As("l_year"), revenue().As("volume")).
		GroupBy(Col("supp_nation"), Col("cust_nation"), Col("l_year")).
		Agg(Sum(Col("volume")).As("revenue")).
		Sort(Asc("supp_nation"), Asc("cust_nation"), Asc("l_year"))
}

func q8(db *DB) *DataFrame {
	america := db.Table("nation").
		Join(db.Table("region").Filter(Col("r_name").Eq("AMERICA")), Inner, On("n_regionkey", "r_regionkey"))
	cust := db.Table("customer").Join(america, Inner, On("c_nationkey", "n_nationkey")).Select(Col("c_custkey"))
	n2 := db.Table("nation").Select(Col("n_nationkey").As("n2_nationkey"), Col("n_name").As("nation"))
	supp := db.Table("supplier").Join(n2, Inner, On("s_nationkey", "n2_nationkey"))
	ord := db.Table("orders").
		Filter(Col("o_orderdate").Between(Date("1995-01-01"), Date("1996-12-31"))).
		Join(cust, Inner, On("o_custkey", "c_custkey"))
	parts := db.Table("part").Filter(Col("p_type").Eq("ECONOMY ANODIZED STEEL"))
	return db.Table("lineitem").
		Join(parts, Inner, On("l_partkey", "p_partkey")).
		Join(ord, Inner, On("l_orderkey", "o_orderkey")).
		Join(supp, Inner, On("l_suppkey", "s_suppkey")).
		Select(Col("o_orderdate").Year().As("o_year"), revenue().As("volume"), Col("nation")).
		GroupBy(Col("o_year")).
		Agg(Sum(When(Col("nation").Eq("BRAZIL")).Then(Col("volume")).Otherwise(0)).Div(Sum(Col("volume"))).As("mkt_share")).
		Sort(Asc("o_year"))
}

func q9(db *DB) *DataFrame {
	green := db.Table("part").Filter(Col("p_name").Like("%green%")).Select(Col("p_partkey"))
	ps := db.Table("partsupp").Join(green, Semi, On("ps_partkey", "p_partkey"))
	supp := db.Table("supplier").Join(db.Table("nation"), Inner, On("s_nationkey", "n_nationkey"))
	return db.Table("lineitem").
		Join(green, Inner, On("l_partkey", "p_partkey")).
		Join(ps, Inner, On("l_partkey", "ps_partkey", "l_suppkey", "ps_suppkey")).
		Join(supp, Inner, On("l_suppkey", "s_suppkey")).
		Join(db.Table("orders"), Inner, On("l_orderkey", "o_orderkey")).
		Select(Col("n_name").As("nation"), Col("o_orderdate").Year().As("o_year"),
			revenue().Sub(Col("ps_supplycost").Mul(Col("l_quantity"))).As("amount")).
		GroupBy(Col("nation"), Col("o_year")).
		Agg(Sum(Col("amount")).As("sum_profit")).
		Sort(Asc("nation"), Desc("o_year"))
}

func q10(db *DB) *DataFrame {
	ord := db.Table("orders").
		Filter(Col("o_orderdate").Ge(Date("1993-10-01")).And(Col("o_orderdate").Lt(Date("1993-10-01").AddMonths(3))))
	return db.Table("lineitem").Filter(Col("l_returnflag").Eq("R")).
		Join(ord, Inner, On("l_orderkey", "o_orderkey")).
		Join(db.Table("customer"), Inner, On("o_custkey", "c_custkey")).
		Join(db.Table("nation"), Inner, On("c_nationkey", "n_nationkey")).
		GroupBy(Col("c_custkey"), Col("c_name"), Col("c_acctbal"), Col("c_phone"), Col("n_name"), Col("c_address"), Col("c_comment")).
		Agg(Sum(revenue()).As("revenue")).
		Select(Col("c_custkey"), Col("c_name"), Col("revenue"), Col("c_acctbal"), Col("n_name"),
			Col("c_address"), Col("c_phone"), Col("c_comment")).
		TopK(20, Desc("revenue"))
}

// Fraction is Q11's FRACTION parameter: 0.0001 / SF.
func Fraction(sf float64) string {
	return strconv.FormatFloat(0.0001/sf, 'f', -1, 64)
}

func q11(db *DB) *DataFrame {
	// German suppliers first: partsupp then probes a small table.
	german := db.Table("supplier").
		Join(db.Table("nation").Filter(Col("n_name").Eq("GERMANY")), Inner, On("s_nationkey", "n_nationkey"))
	stock := db.Table("partsupp").
		Join(german, Inner, On("ps_suppkey", "s_suppkey")).
		Select(Col("ps_partkey"), Col("ps_supplycost").Mul(Col("ps_availqty")).As("value"))
	threshold := stock.GroupBy().Agg(Sum(Col("value")).Mul(Dec(Fraction(db.SF))).As("threshold"))
	return stock.GroupBy(Col("ps_partkey")).
		Agg(Sum(Col("value")).As("value")).
		Join(threshold, Inner, OnExprs([]Expr{Lit(1)}, []Expr{Lit(1)}).Where(Col("value").Gt(Col("threshold")))).
		Select(Col("ps_partkey"), Col("value")).
		Sort(Desc("value"))
}

func q12(db *DB) *DataFrame {
	high := Col("o_orderpriority").Eq("1-URGENT").Or(Col("o_orderpriority").Eq("2-HIGH"))
	low := Col("o_orderpriority").Ne("1-URGENT").And(Col("o_orderpriority").Ne("2-HIGH"))
	return db.Table("lineitem").
		Filter(And(
			Col("l_shipmode").IsIn("MAIL", "SHIP"),
			Col("l_commitdate").Lt(Col("l_receiptdate")),
			Col("l_shipdate").Lt(Col("l_commitdate")),
			Col("l_receiptdate").Ge(Date("1994-01-01")),
			Col("l_receiptdate").Lt(Date("1994-01-01").AddYears(1)),
		)).
		Join(db.Table("orders"), Inner, On("l_orderkey", "o_orderkey")).
		GroupBy(Col("l_shipmode")).
		Agg(Sum(When(high).Then(1).Otherwise(0)).As("high_line_count"),
			Sum(When(low).Then(1).Otherwise(0)).As("low_line_count")).
		Sort(Asc("l_shipmode"))
}

func q13(db *DB) *DataFrame {
	return db.Table("customer").
		Join(db.Table("orders"), LeftOuter, On("c_custkey", "o_custkey").Where(Col("o_comment").NotLike("%special%requests%"))).
		GroupBy(Col("c_custkey")).
		Agg(Count(Col("o_orderkey")).As("c_count")).
		GroupBy(Col("c_count")).
		Agg(CountAll().As("custdist")).
		Sort(Desc("custdist"), Desc("c_count"))
}

func q14(db *DB) *DataFrame {
	return db.Table("lineitem").
		Filter(Col("l_shipdate").Ge(Date("1995-09-01")).And(Col("l_shipdate").Lt(Date("1995-09-01").AddMonths(1)))).
		Join(db.Table("part"), Inner, On("l_partkey", "p_partkey")).
		GroupBy().
		Agg(Lit(100.0).Mul(Sum(When(Col("p_type").Like("PROMO%")).Then(revenue()).Otherwise(0))).
			Div(Sum(revenue())).As("promo_revenue"))
}

func q15(db *DB) *DataFrame {
	rev := db.Table("lineitem").
		Filter(Col("l_shipdate").Ge(Date("1996-01-01")).And(Col("l_shipdate").Lt(Date("1996-01-01").AddMonths(3)))).
		GroupBy(Col("l_suppkey").As("supplier_no")).
		Agg(Sum(revenue()).As("total_revenue"))
	top := rev.GroupBy().Agg(Max(Col("total_revenue")).As("max_revenue"))
	return db.Table("supplier").
		Join(rev, Inner, On("s_suppkey", "supplier_no")).
		Join(top, Inner, On("total_revenue", "max_revenue")).
		Select(Col("s_suppkey"), Col("s_name"), Col("s_address"), Col("s_phone"), Col("total_revenue")).
		Sort(Asc("s_suppkey"))
}

func q16(db *DB) *DataFrame {
	complaints := db.Table("supplier").Filter(Col("s_comment").Like("%Customer%Complaints%")).Select(Col("s_suppkey"))
	parts := db.Table("part").Filter(And(
		Col("p_brand").Ne("Brand#45"),
		Col("p_type").NotLike("MEDIUM POLISHED%"),
		Col("p_size").IsIn(49, 14, 23, 45, 19, 3, 36, 9),
	))
	return db.Table("partsupp").
		Join(complaints, Anti, On("ps_suppkey", "s_suppkey")).
		Join(parts, Inner, On("ps_partkey", "p_partkey")).
		GroupBy(Col("p_brand"), Col("p_type"), Col("p_size")).
		Agg(CountDistinct(Col("ps_suppkey")).As("supplier_cnt")).
		Sort(Desc("supplier_cnt"), Asc("p_brand"), Asc("p_type"), Asc("p_size"))
}

func q17(db *DB) *DataFrame {
	parts := db.Table("part").Filter(Col("p_brand").Eq("Brand#23").And(Col("p_container").Eq("MED BOX")))
	// Every lineitem row of the chosen parts: the correlated avg(l_quantity)
	// per part is an aggregate over exactly these rows.
	items := db.Table("lineitem").Join(parts, Inner, On("l_partkey", "p_partkey"))
	limits := items.GroupBy(Col("l_partkey").As("a_partkey")).Agg(Dec("0.2").Mul(Avg(Col("l_quantity"))).As("qty_limit"))
	return items.
		Join(limits, Inner, On("l_partkey", "a_partkey")).
		Filter(Col("l_quantity").Lt(Col("qty_limit"))).
		GroupBy().
		Agg(Sum(Col("l_extendedprice")).Div(7.0).As("avg_yearly"))
}

func q18(db *DB) *DataFrame {
	big := db.Table("lineitem").
		GroupBy(Col("l_orderkey").As("b_orderkey")).
		Agg(Sum(Col("l_quantity")).As("b_quantity")).
		Filter(Col("b_quantity").Gt(300))
	// Grouping the lineitems of the qualifying orders by order gives back
	// b_quantity: sum(l_quantity) is read from the IN-subquery's aggregate.
	return db.Table("orders").
		Join(big, Inner, On("o_orderkey", "b_orderkey")).
		Join(db.Table("customer"), Inner, On("o_custkey", "c_custkey")).
		Select(Col("c_name"), Col("c_custkey"), Col("o_orderkey"), Col("o_orderdate"), Col("o_totalprice"),
			Col("b_quantity").As("sum(l_quantity)")).
		TopK(100, Desc("o_totalprice"), Asc("o_orderdate"))
}

func q19(db *DB) *DataFrame {
	branch := func(brand string, containers []any, lo, hi, size int) Expr {
		return And(
			Col("p_brand").Eq(brand),
			Col("p_container").IsIn(containers...),
			Col("l_quantity").Ge(lo), Col("l_quantity").Le(hi),
			Col("p_size").Between(1, size),
			Col("l_shipmode").IsIn("AIR", "AIR REG"),
			Col("l_shipinstruct").Eq("DELIVER IN PERSON"),
		)
	}
	return db.Table("lineitem").
		Join(db.Table("part"), Inner, On("l_partkey", "p_partkey")).
		Filter(Or(
			branch("Brand#12", []any{"SM CASE", "SM BOX", "SM PACK", "SM PKG"}, 1, 1+10, 5),
			branch("Brand#23", []any{"MED BAG", "MED BOX", "MED PKG", "MED PACK"}, 10, 10+10, 10),
			branch("Brand#34", []any{"LG CASE", "LG BOX", "LG PACK", "LG PKG"}, 20, 20+10, 15),
		)).
		GroupBy().
		Agg(Sum(revenue()).As("revenue"))
}

func q20(db *DB) *DataFrame {
	forest := db.Table("part").Filter(Col("p_name").Like("forest%")).Select(Col("p_partkey"))
	shipped := db.Table("lineitem").
		Filter(Col("l_shipdate").Ge(Date("1994-01-01")).And(Col("l_shipdate").Lt(Date("1994-01-01").AddYears(1)))).
		Join(forest, Semi, On("l_partkey", "p_partkey")).
		GroupBy(Col("l_partkey").As("a_partkey"), Col("l_suppkey").As("a_suppkey")).
		Agg(Dec("0.5").Mul(Sum(Col("l_quantity"))).As("half_qty"))
	excess := db.Table("partsupp").
		Join(forest, Semi, On("ps_partkey", "p_partkey")).
		Join(shipped, Inner, On("ps_partkey", "a_partkey", "ps_suppkey", "a_suppkey")).
		Filter(Col("ps_availqty").Gt(Col("half_qty")))
	return db.Table("supplier").
		Join(excess, Semi, On("s_suppkey", "ps_suppkey")).
		Join(db.Table("nation").Filter(Col("n_name").Eq("CANADA")), Inner, On("s_nationkey", "n_nationkey")).
		Select(Col("s_name"), Col("s_address")).
		Sort(Asc("s_name"))
}

func q21(db *DB) *DataFrame {
	saudi := db.Table("supplier").
		Join(db.Table("nation").Filter(Col("n_name").Eq("SAUDI ARABIA")), Inner, On("s_nationkey", "n_nationkey"))
	late := func() *DataFrame { return db.Table("lineitem").Filter(Col("l_receiptdate").Gt(Col("l_commitdate"))) }
	l1 := late().
		Join(saudi, Inner, On("l_suppkey", "s_suppkey")).
		Join(db.Table("orders").Filter(Col("o_orderstatus").Eq("F")), Inner, On("l_orderkey", "o_orderkey"))
	// Only the orders of candidate rows matter to the EXISTS subqueries.
	orderKeys := l1.Select(Col("l_orderkey").As("k_orderkey"))
	l2 := db.Table("lineitem").Join(orderKeys, Semi, On("l_orderkey", "k_orderkey")).
		Select(Col("l_orderkey").As("l2_orderkey"), Col("l_suppkey").As("l2_suppkey"))
	l3 := late().Join(orderKeys, Semi, On("l_orderkey", "k_orderkey")).
		Select(Col("l_orderkey").As("l3_orderkey"), Col("l_suppkey").As("l3_suppkey"))
	return l1.
		Join(l2, Semi, On("l_orderkey", "l2_orderkey").Where(Col("l2_suppkey").Ne(Col("l_suppkey")))).
		Join(l3, Anti, On("l_orderkey", "l3_orderkey").Where(Col("l3_suppkey").Ne(Col("l_suppkey")))).
		GroupBy(Col("s_name")).
		Agg(CountAll().As("numwait")).
		TopK(100, Desc("numwait"), Asc("s_name"))
}

func q22(db *DB) *DataFrame {
	codes := []any{"13", "31", "23", "29", "30", "18", "17"}
	cust := db.Table("customer").
		Select(Col("c_custkey"), Col("c_phone").Substring(1, 2).As("cntrycode"), Col("c_acctbal")).
		Filter(Col("cntrycode").IsIn(codes...))
	avgBal := cust.Filter(Col("c_acctbal").Gt(Dec("0.00"))).GroupBy().Agg(Avg(Col("c_acctbal")).As("avg_acctbal"))
	return cust.
		Join(avgBal, Inner, OnExprs([]Expr{Lit(1)}, []Expr{Lit(1)}).Where(Col("c_acctbal").Gt(Col("avg_acctbal")))).
		Join(db.Table("orders"), Anti, On("c_custkey", "o_custkey")).
		GroupBy(Col("cntrycode")).
		Agg(CountAll().As("numcust"), Sum(Col("c_acctbal")).As("totacctbal")).
		Sort(Asc("cntrycode"))
}
