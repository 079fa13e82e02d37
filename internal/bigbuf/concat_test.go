package bigbuf

import (
	"bytes"
	"testing"
)

func TestConcat(t *testing.T) {
	mk := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7) + seed
		}
		return b
	}
	cases := []struct {
		name  string
		parts [][]byte
	}{
		{"none", nil},
		{"small", [][]byte{mk(10, 1), mk(0, 2), mk(5, 3)}},
		{"one large", [][]byte{mk(3*parallelCopyMin+17, 4)}},
		{"large across spans", [][]byte{mk(5, 5), mk(parallelCopyMin+3, 6), mk(2*parallelCopyMin-1, 7), mk(9, 8)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Concat(c.parts...)
			want := bytes.Join(c.parts, nil)
			if !bytes.Equal(got, want) {
				t.Fatalf("Concat of %d parts: %d bytes, differs from the joined %d bytes", len(c.parts), len(got), len(want))
			}
		})
	}
}

// BenchmarkConcat256MiB compares one core's copy with Concat's, side by
// side (fresh buffers each time, as for each Put).
func BenchmarkConcat256MiB(b *testing.B) {
	src := make([]byte, 256<<20)
	for i := range src {
		src[i] = byte(i)
	}
	for _, workers := range []int{1, 0} {
		name := "one-core"
		if workers == 0 {
			name = "Concat"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if workers == 1 {
					concat(1, [][]byte{src})
				} else {
					Concat(src)
				}
			}
		})
	}
}
