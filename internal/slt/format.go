package slt

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// textValue is a value the engine gave as text of an exact type: a
// fmt.Stringer (decimals, dates, intervals), a time.Time or anything else
// that is not one of the plain Go types. It is formatted like a string but
// keeps its spelling under every column type.
type textValue string

// normalize reduces an engine's value to nil, bool, int64, float64,
// float32, string or textValue.
func normalize(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, float64, float32, string, textValue:
		return x
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint:
		return uintValue(uint64(x))
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return uintValue(x)
	case []byte:
		if x == nil {
			return nil
		}
		return string(x)
	case time.Time:
		return textValue(formatTime(x))
	case fmt.Stringer:
		return textValue(x.String())
	}
	return textValue(fmt.Sprint(v))
}

func uintValue(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return textValue(strconv.FormatUint(u, 10))
}

// formatTime spells a time as PostgreSQL prints a timestamp: a date alone
// at midnight UTC, fractions of a second only when there are some.
func formatTime(t time.Time) string {
	if t.Location() == time.UTC && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02 15:04:05.999999999")
}

// render formats a value as SQLite's sqllogictest does for a column of type
// typ: NULL as "NULL"; 'I' as an integer (%d, reals truncated toward zero,
// booleans 1/0, text by its leading integer as SQLite reads text as an
// integer, and exact numbers (fmt.Stringer) by their integer digits);
// 'R' as %.3f; any other type character as text: strings as they
// are but "(empty)" for the empty string and '@' for every byte below 0x20
// or above 0x7e, integers as %d, reals in PostgreSQL's shortest spelling,
// booleans true/false.
func render(v any, typ byte) string {
	v = normalize(v)
	if v == nil {
		return "NULL"
	}
	switch typ {
	case 'I':
		switch x := v.(type) {
		case bool:
			if x {
				return "1"
			}
			return "0"
		case int64:
			return strconv.FormatInt(x, 10)
		case float64:
			return strconv.FormatInt(truncate(x), 10)
		case float32:
			return strconv.FormatInt(truncate(float64(x)), 10)
		case string:
			return strconv.FormatInt(leadingInt(x), 10)
		case textValue:
			return truncateText(string(x))
		}
	case 'R':
		switch x := v.(type) {
		case bool:
			if x {
				return "1.000"
			}
			return "0.000"
		case int64:
			return fmt.Sprintf("%.3f", float64(x))
		case float64:
			return fmt.Sprintf("%.3f", x)
		case float32:
			return fmt.Sprintf("%.3f", float64(x))
		case string:
			return fmt.Sprintf("%.3f", leadingFloat(x))
		case textValue:
			return fmt.Sprintf("%.3f", leadingFloat(string(x)))
		}
	}
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return pgFloat(x, 64)
	case float32:
		return pgFloat(float64(x), 32)
	case string:
		return sqliteText(x)
	case textValue:
		return sqliteText(string(x))
	}
	return sqliteText(fmt.Sprint(v))
}

// alternates returns other spellings of v that other runners print and
// their test files hold: DuckDB and DataFusion print any value under any
// type character as text ("0.5" under R, "true" under I), keep non-ASCII
// text, print reals in their shortest form; CockroachDB prints the empty
// string as "·"; PostgreSQL prints booleans t/f. They are accepted when a
// result is compared value by value, never in a hash.
func alternates(v any, typ byte) []string {
	v = normalize(v)
	var alts []string
	switch x := v.(type) {
	case bool:
		if x {
			alts = []string{"true", "t", "1", "1.000"}
		} else {
			alts = []string{"false", "f", "0", "0.000"}
		}
	case int64:
		if typ == 'R' {
			alts = []string{strconv.FormatInt(x, 10)}
		}
	case float64:
		alts = floatSpellings(x, 64)
	case float32:
		alts = floatSpellings(float64(x), 32)
	case string:
		alts = textSpellings(x)
	case textValue:
		alts = textSpellings(string(x))
	}
	return alts
}

func textSpellings(s string) []string {
	if s == "" {
		return []string{"(empty)", "·", ""}
	}
	return []string{s}
}

// floatSpellings are the ways runners print a real: PostgreSQL (1, 0.1,
// 1e+20), shortest fixed-point as DataFusion (1, 0.1,
// 100000000000000000000), DuckDB (1.0), SQLite's text of a REAL (%!.15g:
// 1.0, 1.0e+20).
func floatSpellings(f float64, bits int) []string {
	out := []string{pgFloat(f, bits)}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(out, "NaN", "nan", "inf", "-inf", "Infinity", "-Infinity")
	}
	fixed := strconv.FormatFloat(f, 'f', -1, bits)
	out = append(out, fixed)
	if !strings.Contains(fixed, ".") {
		out = append(out, fixed+".0")
	}
	g := fmt.Sprintf("%.15g", f)
	if !strings.Contains(g, ".") {
		if i := strings.IndexByte(g, 'e'); i >= 0 {
			g = g[:i] + ".0" + g[i:]
		} else {
			g += ".0"
		}
	}
	return append(out, g)
}

// pgFloat spells a real as PostgreSQL (12 and later) prints float8 and
// float4: the shortest digits that read back to the same value, in
// exponent form when the exponent is below -4 or at least 15 (6 for
// float4).
func pgFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	e := strconv.FormatFloat(f, 'e', -1, bits)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	limit := 15
	if bits == 32 {
		limit = 6
	}
	if exp < -4 || exp >= limit {
		return e
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// sqliteText is SQLite's runner's text of a string: "(empty)" for the empty
// string, '@' for each byte that is a control character or not ASCII.
func sqliteText(s string) string {
	if s == "" {
		return "(empty)"
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '@'
		}
	}
	return string(b)
}

// truncate converts a real to an integer toward zero, saturating, as SQLite
// does.
func truncate(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// leadingInt reads text as SQLite reads it as an integer: the optional sign
// and digits at its start after white space ("12abc" is 12, "1.9" is 1,
// "abc" is 0), saturating.
func leadingInt(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n uint64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + uint64(s[i]-'0')
		if n > math.MaxInt64 {
			if neg {
				return math.MinInt64
			}
			return math.MaxInt64
		}
	}
	if neg {
		return -int64(n)
	}
	return int64(n)
}

var plainDecimalRE = regexp.MustCompile(`^([+-]?)0*([0-9]+)(?:\.[0-9]*)?$`)

// truncateText truncates an exact number's text toward zero keeping all its
// digits (a decimal or an unsigned integer can exceed int64); text that is
// not a plain decimal is read as SQLite reads text as an integer.
func truncateText(s string) string {
	m := plainDecimalRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return strconv.FormatInt(leadingInt(s), 10)
	}
	digits := strings.TrimLeft(m[2], "0")
	if digits == "" {
		return "0"
	}
	if m[1] == "-" {
		return "-" + digits
	}
	return digits
}

var leadingFloatRE = regexp.MustCompile(`^[ \t\n\r\f\v]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?`)

// leadingFloat reads text as SQLite reads it as a real: the longest number
// at its start, 0 if there is none.
func leadingFloat(s string) float64 {
	m := leadingFloatRE.FindString(s)
	if m == "" {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.TrimSpace(m), 64) // out of range gives ±Inf, as strtod
	return f
}
