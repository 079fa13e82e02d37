package tpch

import (
	"fmt"

	"github.com/shoal-dev/shoal/dataframe"
)

// Tables lists the TPC-H tables in load order (small first).
var Tables = []string{"region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"}

func col(name string, t dataframe.DataType) dataframe.Field {
	return dataframe.Field{Name: name, Type: t}
}

var money = dataframe.Decimal(15, 2)

// TableSchema returns the schema of a TPC-H table (the types of schema.sql: integer
// → int32, bigint → int64, decimal(15,2), date, varchar → string).
func TableSchema(table string) (dataframe.Schema, error) {
	i32, i64, str, date := dataframe.Int32, dataframe.Int64, dataframe.String, dataframe.Date32
	switch table {
	case "region":
		return dataframe.Schema{col("r_regionkey", i32), col("r_name", str), col("r_comment", str)}, nil
	case "nation":
		return dataframe.Schema{col("n_nationkey", i32), col("n_name", str), col("n_regionkey", i32), col("n_comment", str)}, nil
	case "supplier":
		return dataframe.Schema{col("s_suppkey", i32), col("s_name", str), col("s_address", str), col("s_nationkey", i32),
			col("s_phone", str), col("s_acctbal", money), col("s_comment", str)}, nil
	case "customer":
		return dataframe.Schema{col("c_custkey", i32), col("c_name", str), col("c_address", str), col("c_nationkey", i32),
			col("c_phone", str), col("c_acctbal", money), col("c_mktsegment", str), col("c_comment", str)}, nil
	case "part":
		return dataframe.Schema{col("p_partkey", i32), col("p_name", str), col("p_mfgr", str), col("p_brand", str),
			col("p_type", str), col("p_size", i32), col("p_container", str), col("p_retailprice", money), col("p_comment", str)}, nil
	case "partsupp":
		return dataframe.Schema{col("ps_partkey", i32), col("ps_suppkey", i32), col("ps_availqty", i32),
			col("ps_supplycost", money), col("ps_comment", str)}, nil
	case "orders":
		return dataframe.Schema{col("o_orderkey", i64), col("o_custkey", i32), col("o_orderstatus", str),
			col("o_totalprice", money), col("o_orderdate", date), col("o_orderpriority", str), col("o_clerk", str),
			col("o_shippriority", i32), col("o_comment", str)}, nil
	case "lineitem":
		return dataframe.Schema{col("l_orderkey", i64), col("l_partkey", i32), col("l_suppkey", i32), col("l_linenumber", i32),
			col("l_quantity", money), col("l_extendedprice", money), col("l_discount", money), col("l_tax", money),
			col("l_returnflag", str), col("l_linestatus", str), col("l_shipdate", date), col("l_commitdate", date),
			col("l_receiptdate", date), col("l_shipinstruct", str), col("l_shipmode", str), col("l_comment", str)}, nil
	}
	return nil, fmt.Errorf("unknown TPC-H table %q (tables: %v)", table, Tables)
}
