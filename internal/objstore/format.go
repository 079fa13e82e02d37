package objstore

import "fmt"

// unitPrefixes are the binary prefixes after the byte: KiB, MiB, ...
const unitPrefixes = "KMGTPE"

// unitOf returns the largest binary unit not above n (0 is the byte, 1 KiB,
// ...) and its size.
func unitOf(n int64) (int, float64) {
	u, size := 0, 1.0
	for f := float64(n); f >= 1024 && u < len(unitPrefixes); f /= 1024 {
		u++
		size *= 1024
	}
	return u, size
}

// formatBytes writes n for people: "512 B", "64.0 MiB".
func formatBytes(n int64) string {
	u, size := unitOf(n)
	if u == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", float64(n)/size, unitName(u))
}

// formatUsage writes used and limit in the limit's unit: "1.9 of 2.0 GiB".
func formatUsage(used, limit int64) string {
	u, size := unitOf(limit)
	if u == 0 {
		return fmt.Sprintf("%d of %d B", used, limit)
	}
	return fmt.Sprintf("%.1f of %.1f %s", float64(used)/size, float64(limit)/size, unitName(u))
}

func unitName(u int) string {
	if u == 0 {
		return "B"
	}
	return unitPrefixes[u-1:u] + "iB"
}

// plural writes "1 object", "2 objects".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
