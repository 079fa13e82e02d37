// Package bytesize writes and reads byte counts in one convention, binary
// (IEC) units: 1 KiB is 1024 bytes, 1 MiB 1024 KiB, and so on. Every size
// Shoal prints and every size flag it takes goes through it.
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The units, in bytes.
const (
	KiB int64 = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
	PiB
)

// unitPrefixes are the binary prefixes after the byte: KiB, MiB, ...
const unitPrefixes = "KMGTPE"

// unitOf returns the largest binary unit not above |n| (0 is the byte, 1
// KiB, ...) and its size in bytes.
func unitOf(n float64) (int, float64) {
	u, size := 0, 1.0
	for f := math.Abs(n); f >= 1024 && u < len(unitPrefixes); f /= 1024 {
		u++
		size *= 1024
	}
	return u, size
}

func unitName(u int) string {
	if u == 0 {
		return "B"
	}
	return unitPrefixes[u-1:u] + "iB"
}

// Format writes n for people: "17 B", "1.5 KiB", "64.0 MiB", "2.0 GiB".
func Format(n int64) string { return FormatFloat(float64(n)) }

// FormatFloat is Format for a size held as a float (an average, a rate
// per second, a metric sample).
func FormatFloat(n float64) string {
	u, size := unitOf(n)
	if u == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n/size, unitName(u))
}

// FormatUsage writes used and limit in the limit's unit: "1.9 of 2.0 GiB".
func FormatUsage(used, limit int64) string {
	u, size := unitOf(float64(limit))
	if u == 0 {
		return fmt.Sprintf("%d of %d B", used, limit)
	}
	return fmt.Sprintf("%.1f of %.1f %s", float64(used)/size, float64(limit)/size, unitName(u))
}

// multipliers are the units Parse reads, lower-cased: the IEC names, their
// one- and two-letter short forms, and the byte.
var multipliers = map[string]int64{
	"": 1, "b": 1,
	"k": KiB, "ki": KiB, "kib": KiB,
	"m": MiB, "mi": MiB, "mib": MiB,
	"g": GiB, "gi": GiB, "gib": GiB,
	"t": TiB, "ti": TiB, "tib": TiB,
	"p": PiB, "pi": PiB, "pib": PiB,
}

// Parse reads a size: plain bytes ("1048576") or a number with a binary
// unit ("2GiB", "1.5 GiB", "512MiB", "64k"; case does not matter). The
// decimal units (KB, MB, GB, TB) are refused with the binary spelling to
// use, so that no size means two things. A leading minus is read (flags
// where -1 means "no limit"); callers refuse negatives they do not take.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t, minus := strings.CutPrefix(t, "-")
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is not a number of bytes with an optional binary unit (e.g. 2GiB, 512MiB, 1048576)", s)
	}
	lower := strings.ToLower(unit)
	mult, ok := multipliers[lower]
	if !ok {
		if len(lower) == 2 && lower[1] == 'b' && strings.Contains("kmgtp", lower[:1]) {
			binary := strings.ToUpper(lower[:1]) + "iB"
			return 0, fmt.Errorf("size %q: Shoal's sizes are binary: write %s%s (1 %s = %d bytes)", s, num, binary, binary, multipliers[lower[:1]])
		}
		return 0, fmt.Errorf("size %q has an unknown unit %q (use B, KiB, MiB, GiB, TiB or PiB)", s, unit)
	}
	v := math.Round(f * float64(mult))
	if v >= 1<<62 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	if minus {
		return -int64(v), nil
	}
	return int64(v), nil
}

// String writes n as Parse reads it, exactly: in the largest unit that
// divides it ("2GiB", "1536KiB"), else in bytes.
func String(n int64) string {
	if n == 0 {
		return "0"
	}
	for u := 5; u >= 1; u-- { // PiB down to KiB
		if size := int64(1) << (10 * u); n%size == 0 {
			return strconv.FormatInt(n/size, 10) + unitName(u)
		}
	}
	return strconv.FormatInt(n, 10)
}

// Value is a command-line flag holding a size in bytes (a flag.Value and a
// pflag.Value): it takes what Parse reads. Register it with
// FlagSet.Var(bytesize.Flag(&n), name, usage).
type Value struct{ p *int64 }

// Flag returns a flag value that sets *p.
func Flag(p *int64) *Value { return &Value{p} }

// Set parses s into the flag's variable.
func (v *Value) Set(s string) error {
	n, err := Parse(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

// String writes the flag's value as Parse reads it.
func (v *Value) String() string {
	if v == nil || v.p == nil {
		return "0"
	}
	return String(*v.p)
}

// Type names the flag's kind in help text.
func (v *Value) Type() string { return "size" }
