package expr

import (
	"math"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/dataframe/internal/types"
)

// This file holds the text forms of values: what casting to and from string
// produces and accepts. Both follow PostgreSQL's output and input functions
// for the corresponding types, so that SQL results print as PostgreSQL's do.

// FormatText is the text form of a non-null value: integers in decimal,
// floats as FormatFloat, decimals with all digits of their scale ("1.50"),
// dates as YYYY-MM-DD, booleans as true/false, strings unchanged.
func FormatText(v Value) string {
	switch v.T.ID {
	case types.Bool:
		return strconv.FormatBool(v.B)
	case types.Float64:
		return FormatFloat(v.F)
	case types.Decimal:
		return FormatDecimal(v.I, v.T.Scale)
	case types.Date:
		return FormatDate(int32(v.I))
	case types.String:
		return v.S
	}
	return strconv.FormatInt(v.I, 10)
}

// FormatFloat prints f as PostgreSQL prints a double precision: the shortest
// digits that read back as f, in positional form for decimal exponents from
// -4 to 14 and in exponent form otherwise (1e+15, 1.5e-05); Infinity,
// -Infinity and NaN by name.
func FormatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	k := strings.LastIndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[k+1:])
	if exp < -4 || exp >= 15 {
		return e
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// typeName is PostgreSQL's name for t, used in error messages.
func typeName(t types.Type) string {
	switch t.ID {
	case types.Bool:
		return "boolean"
	case types.Int32:
		return "integer"
	case types.Int64:
		return "bigint"
	case types.Float64:
		return "double precision"
	case types.Decimal:
		return "numeric"
	case types.Date:
		return "date"
	case types.String:
		return "text"
	}
	return t.String()
}

func invalidText(t types.Type, s string) *EvalError {
	return Errorf(ErrInvalidText, "invalid input syntax for type %s: %q", typeName(t), s)
}

// ParseText reads s as a value of type t the way PostgreSQL's input function
// for the type does: surrounding white space is ignored; integers are
// decimal with an optional sign; floats accept exponents, Infinity and NaN;
// decimals are rounded half away from zero to t's scale; dates are
// YYYY-MM-DD; booleans are t/true/yes/on/1 and f/false/no/off/0 (any case,
// or a unique prefix). Failures are *EvalError (ErrInvalidText, or
// ErrOutOfRange for a number too large for t).
func ParseText(s string, t types.Type) (Value, error) {
	out := Value{T: t}
	in := strings.TrimSpace(s)
	switch t.ID {
	case types.String:
		out.S = s
	case types.Int32, types.Int64:
		bits := 64
		if t.ID == types.Int32 {
			bits = 32
		}
		if in == "" || strings.ContainsAny(in, "_xXoObB") {
			return out, invalidText(t, s)
		}
		v, err := strconv.ParseInt(in, 10, bits)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return out, Errorf(ErrOutOfRange, "value %q is out of range for type %s", s, typeName(t))
			}
			return out, invalidText(t, s)
		}
		out.I = v
	case types.Float64:
		if in == "" || strings.ContainsAny(in, "_xXpP") {
			return out, invalidText(t, s)
		}
		f, err := strconv.ParseFloat(in, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return out, Errorf(ErrOutOfRange, "%q is out of range for type double precision", s)
			}
			return out, invalidText(t, s)
		}
		out.F = f
	case types.Decimal:
		v, err := parseDecimalTo(in, t.Scale)
		if err != nil {
			if err == errOverflow {
				return out, Errorf(ErrOutOfRange, "numeric field overflow")
			}
			return out, invalidText(t, s)
		}
		out.I = v
	case types.Date:
		d, err := ParseDate(in)
		if err != nil {
			if strings.Contains(err.Error(), "out of range") {
				return out, Errorf(ErrInvalidText, "date/time field value out of range: %q", s)
			}
			return out, invalidText(t, s)
		}
		out.I = int64(d)
	case types.Bool:
		b, ok := parseBool(strings.ToLower(in))
		if !ok {
			return out, invalidText(t, s)
		}
		out.B = b
	default:
		return out, invalidText(t, s)
	}
	return out, nil
}

func parseBool(s string) (v, ok bool) {
	prefixOf := func(word string, min int) bool {
		return len(s) >= min && strings.HasPrefix(word, s)
	}
	switch {
	case s == "1" || prefixOf("true", 1) || prefixOf("yes", 1) || prefixOf("on", 2):
		return true, true
	case s == "0" || prefixOf("false", 1) || prefixOf("no", 1) || prefixOf("off", 2):
		return false, true
	}
	return false, false
}

type parseError string

func (e parseError) Error() string { return string(e) }

const (
	errOverflow = parseError("overflow")
	errSyntax   = parseError("syntax")
)

// parseDecimalTo reads [sign]digits[.digits][e[sign]digits] into an integer
// scaled by 10^scale, rounding half away from zero.
func parseDecimalTo(s string, scale int32) (int64, error) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	exp := 0
	if hasExp {
		e, err := strconv.Atoi(expPart)
		if err != nil || e > 1000 || e < -1000 {
			return 0, errSyntax
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" && frac == "" {
		return 0, errSyntax
	}
	digits := intPart + frac
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, errSyntax
		}
	}
	// value = digits * 10^(exp - len(frac)); we want value * 10^scale.
	shift := exp - len(frac) + int(scale)
	digits = strings.TrimLeft(digits, "0")
	var v uint64
	if shift >= 0 {
		if len(digits)+shift > 18 {
			if digits == "" {
				return 0, nil
			}
			return 0, errOverflow
		}
		for _, c := range digits {
			v = v*10 + uint64(c-'0')
		}
		v *= uint64(types.Pow10[shift])
	} else {
		keep := len(digits) + shift
		if keep > 18 {
			return 0, errOverflow
		}
		if keep < 0 {
			return 0, nil
		}
		for _, c := range digits[:keep] {
			v = v*10 + uint64(c-'0')
		}
		if digits[keep] >= '5' {
			v++
		}
		if v > 999_999_999_999_999_999 {
			return 0, errOverflow
		}
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

// LikeEscape rewrites a LIKE pattern written with the escape character esc
// (SQL's ESCAPE clause) into the form OpLike takes, where a backslash
// escapes: esc followed by a character stands for that character, and with
// esc empty (ESCAPE ”) nothing escapes. A pattern ending in esc is an error,
// as in PostgreSQL.
func LikeEscape(pattern, esc string) (string, error) {
	if esc == `\` {
		return pattern, nil
	}
	rs := []rune(esc)
	if len(rs) > 1 {
		return "", Errorf(ErrInvalidArgument, "invalid escape string")
	}
	var sb strings.Builder
	pr := []rune(pattern)
	for k := 0; k < len(pr); k++ {
		r := pr[k]
		switch {
		case len(rs) == 1 && r == rs[0]:
			if k+1 == len(pr) {
				return "", Errorf(ErrInvalidArgument, "LIKE pattern must not end with escape character")
			}
			k++
			sb.WriteByte('\\')
			sb.WriteRune(pr[k])
		case r == '\\':
			sb.WriteString(`\\`)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String(), nil
}
